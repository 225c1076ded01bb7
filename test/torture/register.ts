/**
 * The sequential model of one etcd key: a register holding a value or nothing, with the v2 and v3
 * operations the torture workers use. Every successful write also reports the value it replaced
 * (v2 `prevNode`, v3 `prevKv`), which the model checks too: with unique values that turns each
 * write into a read as well, so a write applied twice or out of order contradicts its own reply.
 *
 * v3 adds two kinds. `put` is v2's `set`. `txn` is a compare-and-set transaction: if the value
 * equals `expect`, put `value` (its prevKv must then be `expect`), else get the key. Unlike a v2
 * refusal, its failure reports what the key held (`observed`, null when absent), so a refused
 * transaction is a read too; and because etcd fails a value comparison on a missing key, a
 * refusal is possible on an absent key, which v2's COMPARE_FAILED is not.
 */
import { checkLinearizable, type CheckOptions, type CheckResult, type HistoryOp, type Model } from "./checker.js";

/** A key's value, or `null` when the key does not exist. */
export type RegisterState = string | null;

/**
 * How an operation ended, as far as its effect is concerned:
 * - `ok`: it took effect;
 * - `unknown`: it may or may not have taken effect (it is optional in the history);
 * - `absent`: it was refused because the key did not exist (KEY_NOT_FOUND);
 * - `exists`: a create refused because the key existed (NODE_EXISTS);
 * - `mismatch`: a compare-and-swap refused because the value differed (COMPARE_FAILED).
 */
export type Outcome = "ok" | "unknown" | "absent" | "exists" | "mismatch";

/** One operation on one key, with what it observed. */
export interface RegisterOp {
  /** read (a strong get), set, create, cas (compareAndSwap on prevValue), delete; v3 put and txn (compare-and-set). */
  readonly kind: "read" | "set" | "create" | "cas" | "delete" | "put" | "txn";
  /** The value written (set, create, cas, put, txn). */
  readonly value?: string | undefined;
  /** The value a cas or txn compares against. */
  readonly expect?: string | undefined;
  /** How it ended. */
  readonly outcome: Outcome;
  /**
   * What it saw: for a read, the value returned (`null`: not found); for a write that succeeded,
   * the value it replaced (`null`: none); for a refused txn, the value its failure branch read.
   * Undefined when nothing was observed.
   */
  readonly observed?: RegisterState | undefined;
}

/** The register model: `step` returns undefined when the recorded result is impossible in `state`. */
export const registerModel: Model<RegisterState, RegisterOp> = {
  init: null,
  stateKey: (state) => (state === null ? "-" : `=${state}`),
  // Unknown outcomes of the same kind, value and expected value do the same thing in every state.
  interchangeable: (op) => (op.outcome === "unknown" ? `${op.kind}\u0000${op.value ?? ""}\u0000${op.expect ?? ""}` : undefined),
  step: (state, op) => {
    switch (op.kind) {
      case "read":
        return state === op.observed ? state : undefined;
      case "set":
      case "put":
        return succeeded(state, op) ? need(op.value) : refused(state, op);
      case "create":
        return succeeded(state, op) && state === null ? need(op.value) : refused(state, op);
      case "cas":
        return succeeded(state, op) && state !== null && state === op.expect ? need(op.value) : refused(state, op);
      case "delete":
        return succeeded(state, op) && state !== null ? null : refused(state, op);
      case "txn":
        if (op.outcome === "mismatch") return state !== op.expect && (op.observed === undefined || op.observed === state) ? state : undefined;
        return succeeded(state, op) && state !== null && state === op.expect ? need(op.value) : refused(state, op);
    }
  },
};

/** True when `op` claims (or, if unknown, is assumed) to have taken effect and its observation fits `state`. */
function succeeded(state: RegisterState, op: RegisterOp): boolean {
  if (op.outcome !== "ok" && op.outcome !== "unknown") return false;
  return op.observed === undefined || op.observed === state;
}

/**
 * The state after a refused operation (which changes nothing), or undefined when the refusal's
 * reason does not hold in `state`. An "ok" or "unknown" operation that reaches here could not take
 * effect: an unknown one is then simply not linearized at this point (the search may skip it).
 */
function refused(state: RegisterState, op: RegisterOp): RegisterState | undefined {
  switch (op.outcome) {
    case "absent":
      return state === null ? state : undefined;
    case "exists":
      return state !== null ? state : undefined;
    case "mismatch":
      return state !== null && state !== op.expect ? state : undefined;
    case "ok":
    case "unknown":
      return undefined;
  }
}

function need(value: string | undefined): string {
  if (value === undefined) throw new Error("a write without a value");
  return value;
}

/**
 * Stands for every value that no operation mentions (no read returned it, no write replaced it,
 * no cas compared against it): every operation treats such values alike, so they are one state to
 * the search, and unknown-outcome writes of them become interchangeable.
 */
export const UNMENTIONED = "\u0000unmentioned";

/** `history` with every unmentioned value written replaced by `UNMENTIONED` (indices unchanged). */
export function canonicalize(history: readonly HistoryOp<RegisterOp>[]): HistoryOp<RegisterOp>[] {
  const mentioned = new Set<string>();
  for (const { op } of history) {
    if (typeof op.observed === "string") mentioned.add(op.observed);
    if (op.expect !== undefined) mentioned.add(op.expect);
  }
  return history.map((h) => (h.op.value === undefined || mentioned.has(h.op.value) ? h : { ...h, op: { ...h.op, value: UNMENTIONED } }));
}

/** Checks one key's history against the register model, from `init` (absent by default). */
export function checkRegister(history: readonly HistoryOp<RegisterOp>[], options: CheckOptions = {}, init: RegisterState = null): CheckResult {
  return checkLinearizable(init === null ? registerModel : { ...registerModel, init }, canonicalize(history), options);
}

/**
 * The states a key can start in, as far as `history` can tell apart: absent, another value, or a
 * value it mentions that `possible` allows.
 */
export function startStates(history: readonly HistoryOp<RegisterOp>[], possible: (value: string) => boolean = () => true): RegisterState[] {
  const mentioned = new Set<string>();
  for (const { op } of history) {
    if (typeof op.observed === "string") mentioned.add(op.observed);
    if (op.expect !== undefined) mentioned.add(op.expect);
  }
  return [null, UNMENTIONED, ...[...mentioned].filter(possible)];
}

/** Whether an operation can change the key: the only kind the shrinker must not drop freely. */
export function hasEffect(op: RegisterOp): boolean {
  return op.kind !== "read" && (op.outcome === "ok" || op.outcome === "unknown");
}

/** A one-line description of an operation, for reports. */
export function describeOp(op: RegisterOp): string {
  const show = (v: RegisterState | undefined): string => (v === undefined ? "?" : v === null ? "absent" : JSON.stringify(v));
  switch (op.kind) {
    case "read":
      return `read → ${show(op.observed)}`;
    case "set":
    case "create":
    case "put":
      return `${op.kind} ${show(op.value)} → ${op.outcome}${op.outcome === "ok" ? ` (prev ${show(op.observed)})` : ""}`;
    case "txn":
      return `txn ${show(op.expect)} ⇒ ${show(op.value)} → ${op.outcome}${op.outcome === "ok" ? ` (prev ${show(op.observed)})` : op.outcome === "mismatch" ? ` (read ${show(op.observed)})` : ""}`;
    case "cas":
      return `cas ${show(op.expect)} ⇒ ${show(op.value)} → ${op.outcome}${op.outcome === "ok" ? ` (prev ${show(op.observed)})` : ""}`;
    case "delete":
      return `delete → ${op.outcome}${op.outcome === "ok" ? ` (prev ${show(op.observed)})` : ""}`;
  }
}
