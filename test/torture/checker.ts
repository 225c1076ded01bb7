/**
 * A linearizability checker for histories of one object, independent of what the object is: the
 * object's sequential behaviour is a `Model`, so v3 operations (or a queue, a lock) need only a
 * new model, not a new search.
 *
 * The search is Wing & Gong's, with Lowe's just-in-time linearization and memoization of
 * (set of linearized operations, state), the approach porcupine takes:
 * - calls and returns are kept in one time-ordered doubly linked list;
 * - walking it from the head, a call may be linearized next only if it comes before the first
 *   return still in the list (otherwise an operation that returned earlier would be ordered
 *   after one that started later); linearizing an operation unlinks its call and return, and
 *   the walk restarts from the head;
 * - reaching the return of an operation that is not linearized means no order extends the
 *   current prefix: undo the last choice and try the next candidate after it;
 * - a configuration (linearized set, state) seen before is never explored twice, which turns
 *   the exponential search into one bounded by the distinct configurations.
 * An operation whose outcome is unknown has no return (its completion is +infinity): it may be
 * linearized at any point after its call, or never; the search succeeds once every operation
 * with a known outcome is linearized.
 *
 * Unknown outcomes are what makes the search exponential (each may or may not have happened, at
 * any point), so a model may declare some of them interchangeable: same effect in every state.
 * Of each such class only the earliest-called member not yet linearized is ever tried. That loses
 * nothing: in any linearization, a member used while an earlier-called one is not (or used after
 * a later-called one) can swap places with it, since the earlier one was called by then too. The
 * members used then always form a prefix of the class, so k interchangeable unknowns cost k + 1
 * configurations instead of 2^k.
 */
import { createRandom } from "./prng.js";

/** One operation of a history as the checker sees it. */
export interface HistoryOp<Op> {
  /** When the call was made (any clock shared by the whole history). */
  readonly call: number;
  /** When it returned; `Infinity` when the outcome is unknown (it may take effect after `call`, or never). */
  readonly ret: number;
  /** The operation and its recorded result, interpreted by the model. */
  readonly op: Op;
}

/** The sequential specification of one object. */
export interface Model<S, Op> {
  /** The state before any operation. */
  readonly init: S;
  /** The state after `op` takes effect in `state`, or undefined when its recorded result is impossible there. */
  step(state: S, op: Op): S | undefined;
  /** A string identifying a state, for memoization: equal states must give equal strings. */
  stateKey(state: S): string;
  /**
   * For an unknown-outcome operation, a class name such that unknown operations of the same class
   * have the same effect in every state; undefined (or no function) when it has no equals.
   */
  interchangeable?(op: Op): string | undefined;
}

/** What the checker concluded: "unknown" when it ran out of budget before deciding. */
export type Verdict = "linearizable" | "violation" | "unknown";

/** The checker's answer for one history. */
export interface CheckResult {
  /** Linearizable, a violation, or undecided within the budget. */
  readonly verdict: Verdict;
  /** Search steps taken. */
  readonly steps: number;
  /** For a linearizable history: indices of the operations that took effect, in linearization order. */
  readonly order?: readonly number[];
  /** For a violation: the longest prefix the search linearized, and an operation it could not place after it. */
  readonly deepest?: { readonly linearized: number; readonly blocked: number };
}

/** Bounds on the search; a history needing more gets the verdict "unknown" instead of hanging. */
export interface CheckOptions {
  /** Most search steps (default 5,000,000). */
  readonly maxSteps?: number;
  /** A `performance.now()` time after which the search gives up. */
  readonly deadline?: number;
}

interface Entry {
  readonly op: number;
  readonly isCall: boolean;
  readonly time: number;
  partner: Entry | undefined;
  prev: Entry | undefined;
  next: Entry | undefined;
}

const DEFAULT_MAX_STEPS = 5_000_000;

/** Decides whether `history` is linearizable with respect to `model`, within the budget. */
export function checkLinearizable<S, Op>(model: Model<S, Op>, history: readonly HistoryOp<Op>[], options: CheckOptions = {}): CheckResult {
  const search = new Search(model, history);
  const maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;
  for (let steps = 1; ; steps++) {
    if (steps > maxSteps || (steps % 4096 === 0 && options.deadline !== undefined && performance.now() > options.deadline)) {
      return { verdict: "unknown", steps };
    }
    const done = search.step();
    if (done !== undefined) return { ...done, steps };
  }
}

/** The search's state: the list walk, the choices made so far, and what was explored. */
class Search<S, Op> {
  readonly #model: Model<S, Op>;
  readonly #history: readonly HistoryOp<Op>[];
  readonly #head: Entry;
  readonly #classes: Classes<Op>;
  readonly #memo: Memo;
  readonly #stack: { entry: Entry; state: S }[] = [];
  #state: S;
  #cur: Entry | undefined;
  /** Operations with a known outcome not yet linearized: the search succeeds when none are left. */
  #remaining: number;
  #deepest = { linearized: -1, blocked: -1 };

  constructor(model: Model<S, Op>, history: readonly HistoryOp<Op>[]) {
    this.#model = model;
    this.#history = history;
    this.#head = buildList(history);
    this.#classes = new Classes(history, model.interchangeable?.bind(model));
    this.#memo = new Memo(history.length);
    this.#state = model.init;
    this.#cur = this.#head.next;
    this.#remaining = history.filter((h) => h.ret !== Infinity).length;
  }

  /** One move: linearize the call at hand, skip it, or backtrack; the verdict once there is one. */
  step(): Omit<CheckResult, "steps"> | undefined {
    if (this.#remaining === 0) return { verdict: "linearizable", order: this.#stack.map((s) => s.entry.op) };
    const cur = this.#cur;
    if (cur === undefined) throw new Error("checker invariant: ran off the list with operations left to linearize");
    if (cur.isCall) {
      this.#cur = this.#tryLinearize(cur) ? this.#head.next : cur.next;
      return undefined;
    }
    // The return of an operation not yet linearized: no order extends the current prefix.
    if (this.#stack.length > this.#deepest.linearized) this.#deepest = { linearized: this.#stack.length, blocked: cur.op };
    const top = this.#stack.pop();
    if (top === undefined) return { verdict: "violation", deepest: this.#deepest };
    this.#memo.unset(top.entry.op, this.#classes);
    this.#state = top.state;
    unlift(top.entry);
    if (historyOp(this.#history, top.entry.op).ret !== Infinity) this.#remaining++;
    this.#cur = top.entry.next;
    return undefined;
  }

  /** Linearizes the operation of `call` next if its result fits and the configuration is new. */
  #tryLinearize(call: Entry): boolean {
    const op = historyOp(this.#history, call.op);
    if (!this.#classes.isNext(call.op)) return false;
    const after = this.#model.step(this.#state, op.op);
    if (after === undefined) return false;
    const key = this.#model.stateKey(after);
    // An unknown outcome that changes nothing is never worth linearizing: skipping it reaches the
    // same state with one more operation still available.
    if (op.ret === Infinity && key === this.#model.stateKey(this.#state)) return false;
    if (!this.#memo.visit(call.op, key, this.#classes)) return false;
    this.#stack.push({ entry: call, state: this.#state });
    this.#state = after;
    lift(call);
    if (op.ret !== Infinity) this.#remaining--;
    return true;
  }
}

function historyOp<Op>(history: readonly HistoryOp<Op>[], i: number): HistoryOp<Op> {
  const op = history[i];
  if (op === undefined) throw new RangeError(`no operation ${i}`);
  return op;
}

/** The time-ordered list of calls and returns behind a sentinel head; unknown outcomes have no return. */
function buildList<Op>(history: readonly HistoryOp<Op>[]): Entry {
  const entries: Entry[] = [];
  history.forEach((h, op) => {
    if (!(h.ret >= h.call)) throw new RangeError(`operation ${op} returns (${h.ret}) before its call (${h.call})`);
    const call: Entry = { op, isCall: true, time: h.call, partner: undefined, prev: undefined, next: undefined };
    entries.push(call);
    if (h.ret === Infinity) return;
    const ret: Entry = { op, isCall: false, time: h.ret, partner: undefined, prev: undefined, next: undefined };
    call.partner = ret;
    entries.push(ret);
  });
  // At equal times calls go first: operations that touch only at an instant count as concurrent,
  // the permissive reading, so clock granularity can never manufacture a violation.
  entries.sort((a, b) => a.time - b.time || Number(b.isCall) - Number(a.isCall) || a.op - b.op);
  const head: Entry = { op: -1, isCall: false, time: -Infinity, partner: undefined, prev: undefined, next: undefined };
  let last = head;
  for (const e of entries) {
    last.next = e;
    e.prev = last;
    last = e;
  }
  return head;
}

/** Unlinks a call and its return (dancing links: the removed entries keep their pointers for `unlift`). */
function lift(call: Entry): void {
  unlink(call);
  if (call.partner !== undefined) unlink(call.partner);
}

/** Relinks what `lift` removed, in the reverse order. */
function unlift(call: Entry): void {
  if (call.partner !== undefined) relink(call.partner);
  relink(call);
}

function unlink(e: Entry): void {
  if (e.prev !== undefined) e.prev.next = e.next;
  if (e.next !== undefined) e.next.prev = e.prev;
}

function relink(e: Entry): void {
  if (e.prev !== undefined) e.prev.next = e;
  if (e.next !== undefined) e.next.prev = e;
}

/** Classes of interchangeable unknown-outcome operations, and how many of each are linearized. */
class Classes<Op> {
  /** For each operation: its class and its rank in the class by call order (-1: no class). */
  readonly #classOf: Int32Array;
  readonly #rank: Int32Array;
  readonly #taken: number[] = [];

  constructor(history: readonly HistoryOp<Op>[], interchangeable: ((op: Op) => string | undefined) | undefined) {
    this.#classOf = new Int32Array(history.length).fill(-1);
    this.#rank = new Int32Array(history.length);
    const ids = new Map<string, { id: number; size: number }>();
    const byCall = history.map((_, i) => i).sort((a, b) => historyOp(history, a).call - historyOp(history, b).call || a - b);
    for (const i of byCall) {
      const h = historyOp(history, i);
      const name = h.ret === Infinity ? interchangeable?.(h.op) : undefined;
      if (name === undefined) continue;
      let cls = ids.get(name);
      if (cls === undefined) {
        cls = { id: ids.size, size: 0 };
        ids.set(name, cls);
        this.#taken.push(0);
      }
      this.#classOf[i] = cls.id;
      this.#rank[i] = cls.size++;
    }
  }

  /** True when `op` has no class or is the earliest member of its class not yet linearized. */
  isNext(op: number): boolean {
    const cls = this.#classOf[op] ?? -1;
    return cls < 0 || this.#taken[cls] === this.#rank[op];
  }

  /** True when `op` belongs to a class (the memo then counts it instead of naming it). */
  classed(op: number): boolean {
    return (this.#classOf[op] ?? -1) >= 0;
  }

  /** Records that `op` was linearized (+1) or undone (-1). */
  count(op: number, delta: 1 | -1): void {
    const cls = this.#classOf[op] ?? -1;
    if (cls >= 0) this.#taken[cls] = (this.#taken[cls] ?? 0) + delta;
  }

  /** How many of each class are linearized. */
  get taken(): readonly number[] {
    return this.#taken;
  }
}

/**
 * The configurations already explored. Operations without a class are named in a bitset with a
 * Zobrist hash kept up to date incrementally (two 32-bit halves), so a lookup costs O(words) only
 * on a hash match, and the exact comparison means a collision can never prune a live branch.
 * Classed operations are only counted: with the same named set and state, a configuration that
 * used at least as many of every class as one already explored can do nothing that one could not
 * (it has fewer operations left, all interchangeable with those it used), so it is pruned too.
 */
class Memo {
  readonly #bits: Uint32Array;
  readonly #z1: Uint32Array;
  readonly #z2: Uint32Array;
  #h1 = 0;
  #h2 = 0;
  readonly #seen = new Map<string, { bits: Uint32Array; taken: readonly number[] }[]>();

  constructor(n: number) {
    this.#bits = new Uint32Array(Math.ceil(n / 32) + 1);
    const random = createRandom(0x5eed);
    this.#z1 = Uint32Array.from({ length: n }, () => random.int(2 ** 32));
    this.#z2 = Uint32Array.from({ length: n }, () => random.int(2 ** 32));
  }

  /** Adds `op` to the linearized set; true if the configuration is new and undominated, else undoes the addition. */
  visit<Op>(op: number, stateKey: string, classes: Classes<Op>): boolean {
    this.#apply(op, classes, 1);
    const key = `${this.#h1}:${this.#h2}:${stateKey}`;
    const bucket = this.#seen.get(key);
    const taken = classes.taken;
    if (bucket?.some((seen) => sameBits(seen.bits, this.#bits) && seen.taken.every((n, i) => n <= (taken[i] ?? 0))) === true) {
      this.#apply(op, classes, -1);
      return false;
    }
    const entry = { bits: this.#bits.slice(), taken: taken.slice() };
    if (bucket === undefined) this.#seen.set(key, [entry]);
    else bucket.push(entry);
    return true;
  }

  /** Removes `op` from the linearized set when the search backtracks over it. */
  unset<Op>(op: number, classes: Classes<Op>): void {
    this.#apply(op, classes, -1);
  }

  #apply<Op>(op: number, classes: Classes<Op>, delta: 1 | -1): void {
    classes.count(op, delta);
    if (classes.classed(op)) return;
    const word = op >>> 5;
    this.#bits[word] = (this.#bits[word] ?? 0) ^ (1 << (op & 31));
    this.#h1 = (this.#h1 ^ (this.#z1[op] ?? 0)) >>> 0;
    this.#h2 = (this.#h2 ^ (this.#z2[op] ?? 0)) >>> 0;
  }
}

function sameBits(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Splits a history into one history per object (P-compositionality: the whole is linearizable iff every part is). */
export function partition<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const parts = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const part = parts.get(key);
    if (part === undefined) parts.set(key, [item]);
    else part.push(item);
  }
  return parts;
}
