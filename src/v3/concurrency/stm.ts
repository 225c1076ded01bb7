/**
 * Software transactional memory over etcd, with the semantics of Go's `concurrency.STM`
 * (client/v3/concurrency/stm.go): the caller's function reads keys and buffers writes; the
 * writes are committed in one txn guarded by comparisons chosen by the isolation level, and the
 * function is run again from scratch whenever that guard fails.
 *
 * Per level (Go's names in brackets):
 * - `snapshot` [SerializableSnapshot, Go's default and ours]: reads after the first are served at
 *   the first read's revision; the commit requires every key read to be unchanged (same mod
 *   revision, or still absent) and every key written to be unchanged since the first read
 *   (mod revision < first read's revision + 1).
 * - `serializable` [Serializable]: the same reads and read-set check, no write-set check.
 * - `repeatable-read` [RepeatableReads]: serializable (member-local) reads at the latest revision;
 *   the commit requires every key read to be unchanged.
 * - `read-committed` [ReadCommitted]: serializable reads, no check at all: the commit always
 *   applies. (Go compares nothing for this level; neither do we.)
 * For the two serializable levels a failed commit reads the whole read set back in the same txn
 * (its failure branch), and the next run starts from those values, saving a round trip per key.
 */
import { EtcdError } from "../../errors.js";
import { checkCall, describe, invalid, toBytes, toKey } from "../convert.js";
import type { Bytes, Compare, KeyValue, TxnOp, TxnOpResult } from "../types.js";
import type { KvClient } from "./kv.js";

/** How an STM run is isolated from concurrent writers; Go's isolation levels. */
export type StmIsolation = "snapshot" | "serializable" | "repeatable-read" | "read-committed";

/** Options of `stm`. */
export interface StmOptions {
  /** The isolation level (default "snapshot", Go's SerializableSnapshot). */
  readonly isolation?: StmIsolation | undefined;
  /** Ends the retry loop (and any call in flight); its reason is rethrown unchanged. */
  readonly signal?: AbortSignal | undefined;
  /** Keys the function will read anyway: fetched in one txn before each run. */
  readonly prefetch?: readonly Bytes[] | undefined;
  /** Deadline of each request the STM sends, in ms (default: the client's requestTimeout). */
  readonly timeout?: number | undefined;
}

/** Options of a write inside an STM run. */
export interface StmPutOptions {
  /** Attach the key to this lease. */
  readonly lease?: bigint | undefined;
}

/** What the function passed to `stm` reads and writes through. */
export interface StmTx {
  /** The key's value (this run's own write if any; undefined when absent or deleted); adds the key to the read set. */
  get(key: Bytes): Promise<Buffer | undefined>;
  /** The mod revision of the key as this run read it (0n when absent); adds the key to the read set. */
  rev(key: Bytes): Promise<bigint>;
  /** Buffers a write, applied only if the run commits. */
  put(key: Bytes, value: Bytes, options?: StmPutOptions): void;
  /** Buffers a delete, applied only if the run commits. */
  delete(key: Bytes): void;
}

const ISOLATIONS: readonly StmIsolation[] = ["snapshot", "serializable", "repeatable-read", "read-committed"];
/** Pause before the second and later re-runs: random up to min(cap, base × 2^n) ms, so two contenders drift apart. */
const BACKOFF_BASE_MS = 2;
const BACKOFF_CAP_MS = 250;

interface Read {
  readonly key: Buffer;
  readonly kv: KeyValue | undefined;
  /** The store revision the read was served at. */
  readonly revision: bigint;
}

interface Write {
  readonly key: Buffer;
  /** The value written, or undefined for a delete. */
  readonly value: Buffer | undefined;
  readonly op: TxnOp;
}

/** One STM execution: the read and write sets of the current run, and what carries across runs. */
class Run implements StmTx {
  reads = new Map<string, Read>();
  writes = new Map<string, Write>();
  /** Reads from the last failed commit's failure branch, consumed by the next run. */
  prefetched = new Map<string, Read>();
  /** The revision every read of this run is served at (serializable levels), fixed by the first read. */
  base: bigint | undefined;

  constructor(
    readonly kv: KvClient,
    readonly isolation: StmIsolation,
    readonly call: { readonly signal?: AbortSignal | undefined; readonly timeout?: number | undefined },
  ) {}

  reset(): void {
    this.reads = new Map();
    this.writes = new Map();
    this.base = undefined;
  }

  async get(key: Bytes): Promise<Buffer | undefined> {
    const k = toKey(key);
    const id = k.toString("latin1");
    const written = this.writes.get(id);
    if (written !== undefined) return written.value;
    return (await this.fetch([k]))[0]?.kv?.value;
  }

  async rev(key: Bytes): Promise<bigint> {
    const k = toKey(key);
    return (await this.fetch([k]))[0]?.kv?.modRevision ?? 0n;
  }

  put(key: Bytes, value: Bytes, options: StmPutOptions = {}): void {
    const k = toKey(key);
    const v = toBytes(value, "value");
    const put = options.lease === undefined ? { key: k, value: v } : { key: k, value: v, lease: options.lease };
    this.writes.set(k.toString("latin1"), { key: k, value: v, op: { put } });
  }

  delete(key: Bytes): void {
    const k = toKey(key);
    this.writes.set(k.toString("latin1"), { key: k, value: undefined, op: { delete: { key: k } } });
  }

  /** Reads keys not yet in the read set in one txn; returns the read of each key asked for, in order. */
  async fetch(keys: readonly Buffer[]): Promise<(Read | undefined)[]> {
    const missing: Buffer[] = [];
    for (const key of keys) {
      const id = key.toString("latin1");
      const early = this.prefetched.get(id);
      if (!this.reads.has(id) && early !== undefined) {
        this.prefetched.delete(id);
        this.adopt(early);
      }
      if (!this.reads.has(id) && !missing.some((m) => m.equals(key))) missing.push(key);
    }
    if (missing.length > 0) for (const read of await this.read(missing)) this.adopt(read);
    return keys.map((key) => this.reads.get(key.toString("latin1")));
  }

  /** Adds a read to the read set; the first read of a serializable run fixes its base revision. */
  adopt(read: Read): void {
    this.reads.set(read.key.toString("latin1"), read);
    if (this.base === undefined && (this.isolation === "snapshot" || this.isolation === "serializable")) this.base = read.revision;
  }

  async read(keys: readonly Buffer[]): Promise<Read[]> {
    // Go: the first read of a serializable run is linearizable; later ones are member-local at its
    // revision; the other levels always read member-local at the latest revision.
    const serializable = this.isolation === "repeatable-read" || this.isolation === "read-committed" || this.base !== undefined;
    const revision = this.base ?? 0n;
    try {
      return await this.readAt(keys, serializable, revision);
    } catch (error) {
      // A member that has not applied the base revision yet: a quorum read at it waits until it has.
      if (!(error instanceof EtcdError && error.code === "FUTURE_REVISION")) throw error;
      return this.readAt(keys, false, revision);
    }
  }

  async readAt(keys: readonly Buffer[], serializable: boolean, revision: bigint): Promise<Read[]> {
    const reply = await this.kv.txn({ success: keys.map((key) => ({ get: { key, serializable, revision } })) }, this.call);
    return readsOf(keys, reply.responses, reply.header.revision);
  }

  /** Sends the writes guarded by the level's comparisons; true when they applied. */
  async commit(): Promise<boolean> {
    const reads = [...this.reads.values()];
    const compare: Compare[] = this.isolation === "read-committed" ? [] : reads.map(unchanged);
    if (this.isolation === "snapshot") {
      // Go's readSet.first(): the oldest revision any read was served at (2^63-2 with no reads).
      const since = reads.reduce((min, r) => (r.revision < min ? r.revision : min), 0x7ffffffffffffffen) + 1n;
      for (const w of this.writes.values()) compare.push({ key: w.key, target: "mod", result: "<", value: since });
    }
    const serializable = this.isolation === "snapshot" || this.isolation === "serializable";
    const failure: TxnOp[] = serializable ? reads.map((r) => ({ get: { key: r.key, serializable: false } })) : [];
    const success = [...this.writes.values()].map((w) => w.op);
    const reply = await this.kv.txn({ compare, success, failure }, this.call);
    if (reply.succeeded) return true;
    if (serializable) {
      const fresh = readsOf(
        reads.map((r) => r.key),
        reply.responses,
        reply.header.revision,
      );
      this.prefetched = new Map(fresh.map((r) => [r.key.toString("latin1"), r]));
    }
    return false;
  }
}

/** The comparison that holds while a key is as it was read: same mod revision, or still absent. */
function unchanged(read: Read): Compare {
  return { key: read.key, target: "mod", result: "==", value: read.kv?.modRevision ?? 0n };
}

function readsOf(keys: readonly Buffer[], responses: readonly TxnOpResult[], revision: bigint): Read[] {
  return keys.map((key, i) => {
    const reply = responses[i];
    if (reply === undefined || !("get" in reply)) throw new EtcdError("MALFORMED_RESPONSE", "an STM read came back without a range result", { delivery: "unknown" });
    return { key, kv: reply.get.kvs[0], revision: reply.get.header.revision === 0n ? revision : reply.get.header.revision };
  });
}

function checkOptions(options: StmOptions): StmIsolation {
  if (typeof options !== "object" || (options as unknown) === null) throw invalid("stm options must be an object");
  const isolation = options.isolation ?? "snapshot";
  if (!ISOLATIONS.includes(isolation)) throw invalid(`isolation must be one of ${ISOLATIONS.join(", ")}, got ${describe(isolation)}`);
  checkCall(options);
  const prefetch: unknown = options.prefetch;
  if (prefetch !== undefined && !Array.isArray(prefetch)) throw invalid("prefetch must be an array of keys");
  return isolation;
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const done = (): void => {
      signal?.removeEventListener("abort", abort);
      resolve();
    };
    const timer = setTimeout(done, ms);
    const abort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener("abort", abort, { once: true });
  });
}

/**
 * Runs `apply` as a software transaction on `kv` (the client or a namespace), re-running it from
 * scratch until its writes commit without conflict; resolves with what the committing run
 * returned. An error thrown by `apply` or by a request ends the loop and nothing is written
 * (a commit that fails OUTCOME_UNKNOWN may or may not have applied, as for any write txn).
 */
export async function runStm<T>(kv: KvClient, apply: (tx: StmTx) => Promise<T>, options: StmOptions = {}): Promise<T> {
  if (typeof apply !== "function") throw invalid("stm needs a function (tx) => Promise<result>");
  const isolation = checkOptions(options);
  const signal = options.signal;
  const prefetch = (options.prefetch ?? []).map((k) => toKey(k, "prefetch key"));
  const run = new Run(kv, isolation, { signal, timeout: options.timeout });
  for (let attempt = 0; ; attempt++) {
    if (signal?.aborted) throw signal.reason;
    // The first re-run goes at once (it starts from the failure branch's fresh reads); later ones back off.
    if (attempt > 1) await pause(Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt), signal);
    run.reset();
    if (prefetch.length > 0) await run.fetch(prefetch);
    const result = await apply(run);
    if (signal?.aborted) throw signal.reason;
    if (await run.commit()) return result;
  }
}
