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
 * 5. cut before a time T: operations done before T go, operations running at T lose their
 *    result; the key's state at T is unknown, so the result must violate from every state the
 *    cut-off part could have left: absent, or a value some write called before T wrote (if the
 *    original had a linearization, its part after the last dropped operation would linearize the
 *    result from the state at that point). Monotone in T, so binary search.
 * Move 1 runs once; moves 2-4 run in rounds (chunks of halving size, then single operations)
 * until a round changes nothing; then move 5, and rounds again from any start.
 */
import type { HistoryOp } from "./checker.js";
import { checkRegister, hasEffect, startStates, type RegisterOp, type RegisterState } from "./register.js";

/** A register history. */
export type RegisterHistory = readonly HistoryOp<RegisterOp>[];

/** The shrinker's result: the smallest violating history found, and whether it ran out of time. */
export interface ShrinkResult {
  readonly history: RegisterHistory;
  readonly complete: boolean;
  /** True when the history's start was cut off: it is then a violation whatever the key held at its start. */
  readonly anyStart: boolean;
}

/** Shrinks `history` (which must be a violation) for at most `ms` milliseconds. */
export function shrinkViolation(history: RegisterHistory, ms = 20_000, maxSteps = 200_000): ShrinkResult {
  const deadline = performance.now() + ms;
  const check = (h: RegisterHistory, init: RegisterState = null): boolean => checkRegister(h, { maxSteps, deadline: deadline + 1_000 }, init).verdict === "violation";
  const fromAbsent = (h: RegisterHistory): boolean => check(h);
  const cut = cutEarliest(history, fromAbsent);
  const tail = settle(cut, fromAbsent, deadline);
  if (tail === undefined) return { history: cut, complete: false, anyStart: false };
  // Cutting the start off needs "a violation from any start the cut-off part could have left";
  // tried last, on a small history, because that costs one search per possible start.
  const firstWrite = new Map<string, number>();
  for (const h of history) if (h.op.value !== undefined) firstWrite.set(h.op.value, Math.min(h.call, firstWrite.get(h.op.value) ?? Infinity));
  const fromAnyAt = (t: number) => (h: RegisterHistory): boolean =>
    startStates(h, (value) => (firstWrite.get(value) ?? Infinity) < t).every((init) => check(h, init));
  const start = latestStart(tail, fromAnyAt);
  if (start === undefined) return { history: tail, complete: true, anyStart: false };
  const head = cutBefore(tail, start);
  const shrunk = settle(head, fromAnyAt(start), deadline);
  return { history: shrunk ?? head, complete: shrunk !== undefined, anyStart: true };
}

/**
 * Repeats rounds of moves 2-4 until one changes nothing (each round can enable moves the last one
 * could not make: a delete may go once the reads of "absent" are gone); undefined at the deadline.
 */
function settle(history: RegisterHistory, violates: (h: RegisterHistory) => boolean, deadline: number): RegisterHistory | undefined {
  let current = history;
  for (let before = Infinity; weight(current) < before; ) {
    before = weight(current);
    const next = shrinkRound(current, violates, deadline);
    if (next === undefined) return undefined;
    current = next;
  }
  return current;
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

/**
 * The latest call time T such that the history cut before T (move 5) still violates from every
 * start the part cut off could have left; undefined if none does.
 */
function latestStart(history: RegisterHistory, fromAnyAt: (t: number) => (h: RegisterHistory) => boolean): number | undefined {
  const times = [...new Set(history.map((h) => h.call))].sort((a, b) => a - b);
  let lo = 0;
  let hi = times.length - 1;
  let best: number | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const t = times[mid] ?? -Infinity;
    if (fromAnyAt(t)(cutBefore(history, t))) {
      best = t;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return best;
}

/** Move 5 at time `t`: operations done before `t` go, those running at `t` lose their result. */
export function cutBefore(history: RegisterHistory, t: number): RegisterHistory {
  const out: HistoryOp<RegisterOp>[] = [];
  for (const h of history) {
    if (h.ret < t) continue;
    if (h.call >= t) out.push(h);
    else if (hasEffect(h.op)) out.push(unknownOutcome(h));
  }
  return out;
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
  if (h.op.kind === "delete") return history.every((x, j) => j === i || !needsAbsent(x.op)) || beyondUse(history, i);
  const value = h.op.value;
  if (value === undefined) return false;
  return history.every((x, j) => {
    if (j === i) return true;
    if (x.op.outcome === "mismatch" || x.op.outcome === "exists") return false;
    if (x.op.kind === "delete" && x.op.outcome === "ok" && x.op.observed === undefined) return false;
    return x.op.observed !== value && x.op.expect !== value;
  });
}

/**
 * True when unknown-outcome delete `i` is later than any linearization could need. Each delete
 * that takes effect ends a stretch where the key exists, and each such stretch starts with a set,
 * put or create (or the start; a cas or txn needs the key present), so at most (sets, puts and
 * creates that may take effect) + 1 deletes are ever used; unknown deletes are interchangeable,
 * so those can always be the earliest called.
 */
function beyondUse(history: RegisterHistory, i: number): boolean {
  const h = history[i];
  if (h === undefined) return false;
  const starts = history.filter((x) => (x.op.kind === "set" || x.op.kind === "put" || x.op.kind === "create") && hasEffect(x.op)).length;
  const earlier = history.filter((x, j) => x.op.kind === "delete" && x.op.outcome === "unknown" && (x.call < h.call || (x.call === h.call && j < i))).length;
  return earlier >= starts + 1;
}

function needsAbsent(op: RegisterOp): boolean {
  return op.observed === null || op.outcome === "absent" || op.kind === "create";
}
