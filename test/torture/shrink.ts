/**
 * Shrinks a non-linearizable register history to a small one that is still non-linearizable.
 *
 * Dropping operations freely would be wrong: drop the write a read saw and the read becomes
 * "impossible" in a history that was fine. So every move here only ever *weakens* the history,
 * meaning any linearization of the original still works for the result (if the original were
 * linearizable, so would the result be); a violation in the result is therefore a violation in
 * the original. The moves:
 * 1. cut at a time T: operations called after T go, operations still running at T lose their
 *    result (writes become unknown-outcome, reads and refusals go): monotone in T, so binary search;
 * 2. drop a read or a refused operation (they change nothing);
 * 3. forget a write's result: first make it unknown-outcome, else forget only the value it replaced;
 * 4. drop an unknown-outcome write whose value nothing else mentions, as long as no remaining
 *    operation could be explained by "some value is present" alone (mismatch, exists).
 */
import type { HistoryOp } from "./checker.js";
import { checkRegister, hasEffect, type RegisterOp } from "./register.js";

/** A register history. */
export type RegisterHistory = readonly HistoryOp<RegisterOp>[];

/** The shrinker's result: the smallest violating history found, and whether it ran out of time. */
export interface ShrinkResult {
  readonly history: RegisterHistory;
  readonly complete: boolean;
}

/** Shrinks `history` (which must be a violation) for at most `ms` milliseconds. */
export function shrinkViolation(history: RegisterHistory, ms = 20_000, maxSteps = 200_000): ShrinkResult {
  const deadline = performance.now() + ms;
  const violates = (h: RegisterHistory): boolean =>
    checkRegister(h, { maxSteps, deadline: deadline + 1_000 }).verdict === "violation";
  let current = cutEarliest(history, violates);
  let changed = true;
  while (changed) {
    changed = false;
    for (let i = current.length - 1; i >= 0; i--) {
      if (performance.now() > deadline) return { history: current, complete: false };
      const next = weakenAt(current, i, violates);
      if (next !== undefined) {
        current = next;
        changed = true;
      }
    }
  }
  return { history: current, complete: true };
}

/** The history cut at the earliest return time that still violates (move 1). */
function cutEarliest(history: RegisterHistory, violates: (h: RegisterHistory) => boolean): RegisterHistory {
  const times = [...new Set(history.map((h) => h.ret).filter((t) => t !== Infinity))].sort((a, b) => a - b);
  let lo = 0;
  let hi = times.length - 1;
  let best = history;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const cut = cutAt(history, times[mid] ?? Infinity);
    if (violates(cut)) {
      best = cut;
      hi = mid - 1;
    } else {
      lo = mid + 1;
    }
  }
  return best;
}

/** Move 1 at time `t`. */
export function cutAt(history: RegisterHistory, t: number): RegisterHistory {
  const out: HistoryOp<RegisterOp>[] = [];
  for (const h of history) {
    if (h.call > t) continue;
    if (h.ret <= t) out.push(h);
    else if (hasEffect(h.op)) out.push(unknownOutcome(h));
  }
  return out;
}

/** Tries moves 2-4 on operation `i`; returns the weaker history if it still violates. */
function weakenAt(history: RegisterHistory, i: number, violates: (h: RegisterHistory) => boolean): RegisterHistory | undefined {
  const h = history[i];
  if (h === undefined) return undefined;
  const without = (): RegisterHistory => history.filter((_, j) => j !== i);
  const replaced = (r: HistoryOp<RegisterOp>): RegisterHistory => history.map((x, j) => (j === i ? r : x));
  const candidates: (() => RegisterHistory)[] = [];
  if (!hasEffect(h.op)) candidates.push(without);
  else if (h.op.outcome === "ok") {
    candidates.push(() => replaced(unknownOutcome(h)));
    if (h.op.observed !== undefined) candidates.push(() => replaced({ ...h, op: { ...h.op, observed: undefined } }));
  } else if (droppable(history, i)) {
    candidates.push(without);
  }
  for (const candidate of candidates) {
    const next = candidate();
    if (violates(next)) return next;
  }
  return undefined;
}

function unknownOutcome(h: HistoryOp<RegisterOp>): HistoryOp<RegisterOp> {
  return { call: h.call, ret: Infinity, op: { kind: h.op.kind, value: h.op.value, expect: h.op.expect, outcome: "unknown" } };
}

/**
 * Move 4's condition. Where such a write sat in a linearization, the key held a value nobody
 * reads, replaces or compares against, so the operations up to the next write accept any state
 * except through "a value is present" (mismatch, exists, a delete whose replaced value was forgotten); without them, removing the write leaves
 * every other operation's result valid. A delete is never dropped: later "absent" results may need it.
 */
function droppable(history: RegisterHistory, i: number): boolean {
  const h = history[i];
  if (h === undefined || h.op.kind === "delete" || h.op.value === undefined) return false;
  const value = h.op.value;
  return history.every((x, j) => {
    if (j === i) return true;
    if (x.op.outcome === "mismatch" || x.op.outcome === "exists") return false;
    if (x.op.kind === "delete" && x.op.outcome === "ok" && x.op.observed === undefined) return false;
    return x.op.observed !== value && x.op.expect !== value;
  });
}
