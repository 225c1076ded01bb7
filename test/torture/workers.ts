/**
 * Torture workers: each one its own client (`EtcdV2Client` here, `EtcdV3Client` through the
 * driver in workers-v3.ts), doing random operations on a few keys and recording every operation
 * with its call and return times and what it observed.
 *
 * Keys rotate every `generationMs` (Jepsen's "independent keys"): each key's history stays a few
 * hundred operations long, so the checker's search stays small, while a write that lands after
 * its generation ended is still seen by the final reads of every key.
 */
import { EtcdV2Client, type V2Response } from "../../src/index.js";
import { EtcdError } from "../../src/errors.js";
import type { CheckRetry } from "../../src/endpoints/retry.js";
import type { Random } from "./prng.js";
import type { Outcome, RegisterState } from "./register.js";

/**
 * The operations a worker performs: read is a strong get in both APIs; v2 set, create, cas
 * (compareAndSwap on prevValue) and delete; v3 put, txn (compare value, put, else get) and delete.
 */
export type OpKind = "read" | "set" | "create" | "cas" | "delete" | "put" | "txn";

/**
 * One recorded operation. `outcome` adds two results the checker never sees: "not-applied"
 * (the client said it certainly never took effect: delivery "unsent") and "failed-read"
 * (a read that failed has no effect); both are left out of the history.
 */
export interface TortureOp {
  readonly worker: number;
  readonly key: string;
  readonly kind: OpKind;
  readonly value?: string | undefined;
  readonly expect?: string | undefined;
  readonly call: number;
  /** Return time; `Infinity` when the outcome is unknown. */
  ret: number;
  /** When the client answered, even for unknown outcomes (for reports). */
  answeredAt: number;
  outcome: Outcome | "not-applied" | "failed-read";
  /** A read's value, the value a successful write replaced (prevNode, prevKv), or a refused txn's read; null for none. */
  observed?: RegisterState | undefined;
  /**
   * v2: the write's etcd index (node.modifiedIndex), for matching watch events. v3: the reply's
   * header revision, for every answered operation (a write's own revision; a read's store revision).
   */
  index?: number | undefined;
  /** The error's code and delivery, for failures. */
  code?: string | undefined;
  delivery?: string | undefined;
  /** Set when the client threw something that is not an EtcdError. */
  untyped?: string | undefined;
}

/** What the workers share: where to write, how to stop, and where to record. */
export interface WorkloadContext {
  readonly endpoints: readonly string[];
  readonly prefix: string;
  readonly keys: number;
  readonly generationMs: number;
  readonly startedAt: number;
  readonly thinkMs: number;
  /** Passed to every client (both APIs accept it). */
  readonly clientOptions: { readonly checkRetry?: CheckRetry | undefined };
  readonly ops: TortureOp[];
  /** Recent values written per key, for compare-and-swap expectations. */
  readonly recent: Map<string, string[]>;
  readonly stopped: () => boolean;
}

/** The key `j` of generation `g`. */
export function keyName(prefix: string, g: number, j: number): string {
  return `${prefix}/g${g}/k${j}`;
}

/** One worker's connection to etcd: its client, what to do next, and how to do it. */
export interface Driver {
  /** The next operation on `key`; `lastSeen` holds the value this worker last saw per key. */
  plan(ctx: WorkloadContext, random: Random, worker: number, seq: number, key: string, lastSeen: ReadonlyMap<string, string>): Planned;
  /** Performs it and records its times and result. */
  perform(p: Planned): Promise<TortureOp>;
  /** Closes the client. */
  close(): Promise<void>;
}

/** A worker's v2 driver: its own `EtcdV2Client`. */
export function v2Driver(ctx: WorkloadContext): Driver {
  const client = new EtcdV2Client({ endpoints: ctx.endpoints, ...ctx.clientOptions });
  return { plan, perform: (p) => perform(client, p), close: () => client.close() };
}

/** Runs one worker until `ctx.stopped()`; resolves after its last operation returns. */
export async function runWorker(ctx: WorkloadContext, worker: number, random: Random, open: (ctx: WorkloadContext) => Driver = v2Driver): Promise<void> {
  const driver = open(ctx);
  const lastSeen = new Map<string, string>();
  try {
    for (let seq = 1; !ctx.stopped(); seq++) {
      const g = Math.floor((performance.now() - ctx.startedAt) / ctx.generationMs);
      const key = keyName(ctx.prefix, g, random.int(ctx.keys));
      const op = await driver.perform(driver.plan(ctx, random, worker, seq, key, lastSeen));
      ctx.ops.push(op);
      if (typeof op.observed === "string") lastSeen.set(key, op.observed);
      if (op.outcome === "ok" && op.value !== undefined) lastSeen.set(key, op.value);
      if (ctx.thinkMs > 0) await sleep(random.int(ctx.thinkMs + 1));
    }
  } finally {
    await driver.close();
  }
}

/** What to do next: 40% reads, then set, cas, create, delete; every written value is unique. */
function plan(ctx: WorkloadContext, random: Random, worker: number, seq: number, key: string, lastSeen: ReadonlyMap<string, string>): Planned {
  const roll = random.int(100);
  if (roll < 40) return { worker, key, kind: "read" };
  if (roll >= 90) return { worker, key, kind: "delete" };
  const value = `w${worker}-${seq}`;
  const kind = roll < 60 ? "set" : roll < 80 ? "cas" : "create";
  const expect = kind === "cas" ? expectation(ctx, random, worker, key, lastSeen) : undefined;
  remember(ctx, key, value);
  return expect === undefined ? { worker, key, kind, value } : { worker, key, kind, value, expect };
}

/** A compare-and-swap's expected value: mostly the value this worker last saw (the swap may succeed), else one written lately (it rarely will). */
export function expectation(ctx: WorkloadContext, random: Random, worker: number, key: string, lastSeen: ReadonlyMap<string, string>): string {
  const recent = ctx.recent.get(key) ?? [];
  const seen = lastSeen.get(key);
  return seen !== undefined && random.chance(0.7) ? seen : recent.length > 0 ? random.pick(recent) : `w${worker}-none`;
}

/** Notes a value about to be written to `key`, for later expectations (the last 8 per key). */
export function remember(ctx: WorkloadContext, key: string, value: string): void {
  const recent = ctx.recent.get(key) ?? [];
  recent.push(value);
  if (recent.length > 8) recent.shift();
  ctx.recent.set(key, recent);
}

/** An operation about to be performed. */
export interface Planned {
  readonly worker: number;
  readonly key: string;
  readonly kind: OpKind;
  readonly value?: string | undefined;
  readonly expect?: string | undefined;
}

/** Performs one v2 operation and records its times and result. */
export async function perform(client: EtcdV2Client, p: Planned): Promise<TortureOp> {
  const call = performance.now();
  const op: TortureOp = { ...p, call, ret: call, answeredAt: call, outcome: "ok" };
  try {
    const reply = await send(client, p);
    op.ret = op.answeredAt = performance.now();
    op.observed = p.kind === "read" ? (reply.node?.value ?? null) : p.kind === "create" ? null : (reply.prevNode?.value ?? null);
    if (p.kind !== "read") op.index = reply.node?.modifiedIndex;
  } catch (error) {
    op.answeredAt = performance.now();
    classify(op, error);
    op.ret = op.outcome === "unknown" ? Infinity : op.answeredAt;
  }
  return op;
}

function send(client: EtcdV2Client, p: Planned): Promise<V2Response> {
  const value = p.value ?? "";
  switch (p.kind) {
    case "read":
      return client.get(p.key);
    case "set":
      return client.set(p.key, value);
    case "create":
      return client.create(p.key, value);
    case "cas":
      return client.compareAndSwap(p.key, value, { prevValue: p.expect ?? "" });
    case "delete":
      return client.delete(p.key);
    case "put":
    case "txn":
      throw new Error(`${p.kind} is not a v2 operation`);
  }
}

/**
 * Turns a failure into an outcome. Answers about the data (no `delivery`) say the operation was
 * refused and why; "unsent" means it certainly never took effect; anything else may have.
 */
function classify(op: TortureOp, error: unknown): void {
  if (!(error instanceof EtcdError)) {
    op.untyped = String(error);
    op.outcome = op.kind === "read" ? "failed-read" : "unknown";
    return;
  }
  op.code = error.code;
  op.delivery = error.delivery;
  if (op.kind === "read") {
    const notFound = error.code === "KEY_NOT_FOUND" && error.delivery === undefined;
    op.outcome = notFound ? "ok" : "failed-read";
    if (notFound) op.observed = null;
    return;
  }
  if (error.delivery === undefined) {
    const refusal = refusalOf(op.kind, error.code);
    if (refusal !== undefined) {
      op.outcome = refusal;
      return;
    }
  }
  op.outcome = error.delivery === "unsent" ? "not-applied" : "unknown";
}

function refusalOf(kind: OpKind, code: string): Outcome | undefined {
  if (code === "KEY_NOT_FOUND" && (kind === "cas" || kind === "delete")) return "absent";
  if (code === "COMPARE_FAILED" && kind === "cas") return "mismatch";
  if (code === "NODE_EXISTS" && kind === "create") return "exists";
  return undefined;
}

/** Sleeps `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
