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
 *    operation could be explained by "some value is present" alone (mismatch, exists); drop an
 *    unknown-outcome delete when nothing remaining needs the key to be absent.
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
  const violates = (h: RegisterHistory): boolean => checkRegister(h, { maxSteps, deadline: deadline + 1_000 }).verdict === "violation";
  let current = cutEarliest(history, violates);
  // Each round can enable moves the previous one could not make (a delete may go once the reads
  // of "absent" are gone), so rounds repeat until nothing changes.
  for (let before = Infinity; weight(current) < before; ) {
    before = weight(current);
    const next = shrinkRound(current, violates, deadline);
    if (next === undefined) return { history: current, complete: false };
    current = next;
  }
  return { history: current, complete: true };
}

/** One round of moves 2-4; undefined when the deadline passed. */
function shrinkRound(history: RegisterHistory, violates: (h: RegisterHistory) => boolean, deadline: number): RegisterHistory | undefined {
  let current = history;
  // Chunks first (halves, quarters, …), as delta debugging does: most operations of a long
  // history are irrelevant, and removing them a few hundred at a time is what keeps this fast.
  // The first pass only drops operations, so writes keep their results while reads that matter
  // still need them: that is what leads to the smallest witnesses.
  for (const weakenWrites of [false, true]) {
    for (let size = 2 ** Math.ceil(Math.log2(Math.max(current.length, 1))); size >= 1; size /= 2) {
      for (let i = 0; i < current.length; ) {
        if (performance.now() > deadline) return undefined;
        const next = weakenRange(current, i, i + size, weakenWrites);
        if (next !== undefined && violates(next)) current = next;
        else i += size;
      }
    }
  }
  // Then the gentler move of forgetting only the value a write replaced.
  for (let i = current.length - 1; i >= 0; i--) {
    if (performance.now() > deadline) return undefined;
    const next = forgetObservation(current, i);
    if (next !== undefined && violates(next)) current = next;
  }
  return current;
}

/** Decreases with every accepted move: fewer operations, fewer known results, fewer observations. */
function weight(history: RegisterHistory): number {
  return history.reduce((w, h) => w + 4 + (h.ret === Infinity ? 0 : 2) + (h.op.observed === undefined ? 0 : 1), 0);
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

/**
 * Moves 2-4 on every operation in [from, to): drop, or make unknown. Whether a write may be dropped
 * is decided on the history before the change; dropping or forgetting other operations only ever
 * removes mentions and needs, so the condition still holds after them.
 */
function weakenRange(history: RegisterHistory, from: number, to: number, weakenWrites: boolean): RegisterHistory | undefined {
  const out: HistoryOp<RegisterOp>[] = [];
  let changed = false;
  for (let i = 0; i < history.length; i++) {
    const h = history[i];
    const move = i >= from && i < to ? weaker(history, i, weakenWrites) : h;
    if (move !== h) changed = true;
    if (move !== null && move !== undefined) out.push(move);
  }
  return changed ? out : undefined;
}

/** The next weaker form of operation `i`: null to drop it, itself when no move applies. */
function weaker(history: RegisterHistory, i: number, weakenWrites: boolean): HistoryOp<RegisterOp> | null {
  const h = history[i];
  if (h === undefined) return null;
  if (!hasEffect(h.op)) return null;
  if (h.op.outcome === "ok") return weakenWrites ? unknownOutcome(h) : h;
  return droppable(history, i) ? null : h;
}

/** Move 3's gentle form: keep a write's success but forget the value it replaced. */
function forgetObservation(history: RegisterHistory, i: number): RegisterHistory | undefined {
  const h = history[i];
  if (h === undefined || h.op.kind === "read" || h.op.observed === undefined) return undefined;
  return history.map((x, j) => (j === i ? { ...h, op: { ...h.op, observed: undefined } } : x));
}

function unknownOutcome(h: HistoryOp<RegisterOp>): HistoryOp<RegisterOp> {
  return { call: h.call, ret: Infinity, op: { kind: h.op.kind, value: h.op.value, expect: h.op.expect, outcome: "unknown" } };
}

/**
 * Move 4's condition. Where a dropped write sat in a linearization, the key held a value nobody
 * reads, replaces or compares against, so the operations up to the next write accept any state
 * except through "a value is present" (mismatch, exists, a delete whose replaced value was
 * forgotten); without those, removing the write leaves every other result valid. A delete left
 * the key absent, so it may go only when nothing else needs the key absent (a read of nothing, a
 * replaced "nothing", a refusal for absence, any create).
 */
function droppable(history: RegisterHistory, i: number): boolean {
  const h = history[i];
  if (h === undefined) return false;
  if (h.op.kind === "delete") return history.every((x, j) => j === i || !needsAbsent(x.op));
  const value = h.op.value;
  if (value === undefined) return false;
  return history.every((x, j) => {
    if (j === i) return true;
    if (x.op.outcome === "mismatch" || x.op.outcome === "exists") return false;
    if (x.op.kind === "delete" && x.op.outcome === "ok" && x.op.observed === undefined) return false;
    return x.op.observed !== value && x.op.expect !== value;
  });
}

function needsAbsent(op: RegisterOp): boolean {
  return op.observed === null || op.outcome === "absent" || op.kind === "create";
}
