/**
 * A view of the key space under one prefix, as Go's client/v3/namespace: every key the caller
 * gives is prefixed on the wire and every key etcd returns has the prefix stripped (kvs, prev_kv,
 * txn comparisons, operations and results at any depth, watch events, lease key lists). Range
 * ends follow the same rule: a range end is prefixed too, and "\0" (every key from here on, which
 * is also the prefix end of the empty key) becomes the end of the namespace, so `("", { prefix:
 * true })` covers exactly the namespace. Call options (signal, timeout, and any a caller's
 * version of the client knows) pass through untouched.
 *
 * It satisfies `KvClient`, so the recipes (STM, session, mutex, withLock and election) run on it
 * as on the client itself; a namespace of a namespace nests the prefixes.
 */
import type { CallOptions } from "../../options.js";
import { EMPTY, invalid, optionsOf, prefixEnd, rangeEndOf, toBytes, toKey } from "../convert.js";
import { jsonable } from "../json-form.js";
import type { V3Lease } from "../lease.js";
import type {
  Bytes,
  Compare,
  DeleteOptions,
  DeleteResult,
  GetAllOptions,
  GetOptions,
  GetResult,
  KeyValue,
  PutOptions,
  PutResult,
  RangeOptions,
  TxnOp,
  TxnOpResult,
  TxnResult,
  TxnSpec,
} from "../types.js";
import type { V3Watch, V3WatchEvent, V3WatchOptions } from "../watch.js";
import type { KvClient } from "./kv.js";
import { Election, type ElectionOptions } from "./election.js";
import { Mutex, type Lock, type MutexOptions, type WithLockOptions } from "./mutex.js";
import { Session, type SessionOptions } from "./session.js";
import { runStm, type StmOptions, type StmTx } from "./stm.js";
import { keyExists, readJson, readNumber, readPrefixMap, readString, type PrefixMapOptions, type ValueForm, type ValueOf, type ValueReadOptions } from "../values.js";

/** A prefixed range on the wire: what the inner client is given instead of the caller's range options. */
interface WireRange {
  readonly key: Buffer;
  readonly rangeEnd: Buffer;
}

/** The caller's range options removed, so the inner client reads the wire range end as given. */
const NO_RANGE = { prefix: undefined, fromKey: undefined } as const;

/** The client's KV, txn, watch, lease and STM API with every key under one prefix, bare to the caller. */
export class Namespace implements KvClient {
  /** The prefix every key is stored under. */
  readonly prefix: Buffer;
  /** The inner client's leases; `timeToLive` lists only the keys inside the namespace, stripped. */
  readonly lease: V3Lease;
  readonly #kv: KvClient;

  /** Wraps `kv` (the client, or another namespace) so that every key lives under `prefix`. */
  constructor(kv: KvClient, prefix: Bytes) {
    this.#kv = kv;
    this.prefix = Buffer.from(toBytes(prefix, "namespace prefix"));
    this.lease = leaseView(kv.lease, this.prefix);
  }

  /** Writes `value` at the prefixed `key`; `prevKv` comes back with the bare key. */
  async put(key: Bytes, value: Bytes, options?: PutOptions): Promise<PutResult> {
    return this.#putResult(await this.#kv.put(this.#key(key), value, options));
  }

  /** Reads a key, prefix or range of the namespace (the empty key with `prefix` or `fromKey`: all of it). */
  async get(key: Bytes, options?: GetOptions): Promise<GetResult> {
    const o = optionsOf(options, "get");
    const range = this.#range(key, o);
    return this.#getResult(await this.#kv.get(range.key, { ...o, ...NO_RANGE, rangeEnd: range.rangeEnd }));
  }

  /** Deletes a key, prefix or range of the namespace. */
  async delete(key: Bytes, options?: DeleteOptions): Promise<DeleteResult> {
    const o = optionsOf(options, "delete");
    const range = this.#range(key, o);
    return this.#deleteResult(await this.#kv.delete(range.key, { ...o, ...NO_RANGE, rangeEnd: range.rangeEnd }));
  }

  /** Every key under a prefix of the namespace (default) or of a range, paged, as one snapshot. */
  async *getAll(key: Bytes, options?: GetAllOptions): AsyncGenerator<KeyValue, void, undefined> {
    const o = optionsOf(options, "getAll");
    // As the client's getAll: a prefix unless a range end or fromKey is given, or prefix is false.
    const range = this.#range(key, o.rangeEnd === undefined && o.prefix === undefined && o.fromKey !== true ? { ...o, prefix: true } : o);
    for await (const kv of this.#kv.getAll(range.key, { ...o, ...NO_RANGE, prefix: false, rangeEnd: range.rangeEnd })) yield this.#strip(kv);
  }

  /** A transaction whose comparisons and operations name bare keys; its results carry bare keys. */
  async txn(spec: TxnSpec, options?: CallOptions): Promise<TxnResult> {
    return this.#txnResult(await this.#kv.txn(this.#spec(spec), options));
  }

  /** Watches a key, prefix or range of the namespace; events carry bare keys, and the handle's creation, end and progress are the inner watch's. */
  watch(key: Bytes, options: V3WatchOptions = {}): V3Watch {
    const range = this.#range(key, options);
    const inner = this.#kv.watch(range.key, { ...options, ...NO_RANGE, rangeEnd: range.rangeEnd });
    const strip = (event: V3WatchEvent): V3WatchEvent => ({
      ...event,
      kv: this.#strip(event.kv),
      ...(event.prevKv === undefined ? {} : { prevKv: this.#strip(event.prevKv) }),
    });
    const view: V3Watch = {
      next: async () => {
        const r = await inner.next();
        return r.done === true ? r : { done: false, value: strip(r.value) };
      },
      return: () => inner.return(),
      [Symbol.asyncIterator]: () => view,
      created: inner.created,
      ended: inner.ended,
      get endReason() {
        return inner.endReason;
      },
      get buffered() {
        return inner.buffered;
      },
      get overflows() {
        return inner.overflows;
      },
      requestProgress: (o?: CallOptions) => inner.requestProgress(o),
    };
    return view;
  }

  /** The key's value as UTF-8 text, or undefined when the key is absent. */
  getString(key: Bytes, options?: ValueReadOptions): Promise<string | undefined> {
    return readString(this, key, options);
  }

  /** The key's value parsed as JSON (`T` unchecked), or undefined when absent; BAD_VALUE when it is not JSON. */
  getJson<T = unknown>(key: Bytes, options?: ValueReadOptions): Promise<T | undefined> {
    return readJson<T>(this, key, options);
  }

  /** The key's value as a finite number, or undefined when absent; BAD_VALUE when it is not a number. */
  getNumber(key: Bytes, options?: ValueReadOptions): Promise<number | undefined> {
    return readNumber(this, key, options);
  }

  /** True when the key exists (a count-only read). */
  exists(key: Bytes, options?: ValueReadOptions): Promise<boolean> {
    return keyExists(this, key, options);
  }

  /** Every key under `prefix` in a Map from key text to value ("string" by default, "json" or "buffer"), paged as one snapshot. */
  getPrefixMap<F extends ValueForm = "string">(prefix: Bytes, options?: PrefixMapOptions<F>): Promise<Map<string, ValueOf<F>>> {
    return readPrefixMap(this, prefix, options);
  }

  /** `stm` run inside the namespace: the function reads and writes bare keys. */
  stm<T>(apply: (tx: StmTx) => Promise<T>, options?: StmOptions): Promise<T> {
    return runStm(this, apply, options);
  }

  /** A session (a lease kept alive) for locks and elections in this namespace. */
  session(options?: SessionOptions): Promise<Session> {
    return Session.open(this, options);
  }

  /** A lock named `name` inside the namespace: shared with Go and etcdctl clients using the same namespace prefix. */
  mutex(name: string, options?: MutexOptions): Mutex {
    return new Mutex(this, name, options);
  }

  /** Runs `fn` holding the lock `name` of the namespace, then unlocks (as the client's `withLock`). */
  async withLock<T>(name: string, fn: (lock: Lock) => Promise<T>, options: WithLockOptions = {}): Promise<T> {
    const lock = await this.mutex(name, { ttl: options.ttl }).lock({ signal: options.signal });
    let result: T;
    try {
      result = await fn(lock);
    } catch (error) {
      await lock.unlock().catch(() => undefined);
      throw error;
    }
    await lock.unlock();
    return result;
  }

  /** A leader election named `name` inside the namespace. */
  election(name: string, options?: ElectionOptions): Election {
    return new Election(this, name, options);
  }

  /** A namespace nested in this one (the prefixes concatenate). */
  namespace(prefix: Bytes): Namespace {
    return new Namespace(this, prefix);
  }

  #key(key: Bytes, what = "key"): Buffer {
    return Buffer.concat([this.prefix, toKey(key, what)]);
  }

  /** Go's prefixInterval: the key and a non-empty end are prefixed; the end "\0" becomes the namespace's end. */
  #range(key: Bytes, options: RangeOptions, what = "key"): WireRange {
    const bare = toBytes(key, what);
    const end = rangeEndOf(bare, options);
    if (bare.length === 0 && end.length === 0) throw invalid(`${what} must not be empty (the empty key means "every key" only with prefix or fromKey)`);
    const rangeEnd = end.length === 0 ? EMPTY : end.length === 1 && end[0] === 0 ? prefixEnd(this.prefix) : Buffer.concat([this.prefix, end]);
    return { key: Buffer.concat([this.prefix, bare]), rangeEnd };
  }

  #spec(spec: TxnSpec): TxnSpec {
    if (typeof spec !== "object" || (spec as unknown) === null) throw invalid("a transaction must be an object { compare, success, failure }");
    const ops = (list: readonly TxnOp[] | undefined): TxnOp[] | undefined => list?.map((op) => this.#op(op));
    return { compare: spec.compare?.map((c) => this.#compare(c)), success: ops(spec.success), failure: ops(spec.failure) };
  }

  #compare(c: Compare): Compare {
    const range = this.#range(c.key, c, "compare key");
    return { ...c, ...NO_RANGE, key: range.key, rangeEnd: range.rangeEnd.length === 0 ? undefined : range.rangeEnd };
  }

  #op(op: TxnOp): TxnOp {
    if ("put" in op) return { put: { ...op.put, key: this.#key(op.put.key) } };
    if ("get" in op) {
      const range = this.#range(op.get.key, op.get);
      return { get: { ...op.get, ...NO_RANGE, key: range.key, rangeEnd: range.rangeEnd } };
    }
    if ("delete" in op) {
      const range = this.#range(op.delete.key, op.delete);
      return { delete: { ...op.delete, ...NO_RANGE, key: range.key, rangeEnd: range.rangeEnd } };
    }
    if ("txn" in op) return { txn: this.#spec(op.txn) };
    // Anything else is the inner client's to refuse, as it would be outside a namespace.
    return op;
  }

  #strip(kv: KeyValue): KeyValue {
    return stripKey(kv, this.prefix);
  }

  #getResult(r: GetResult): GetResult {
    return jsonable({ ...r, kvs: r.kvs.map((kv) => this.#strip(kv)) });
  }

  #putResult(r: PutResult): PutResult {
    return r.prevKv === undefined ? r : jsonable({ ...r, prevKv: this.#strip(r.prevKv) });
  }

  #deleteResult(r: DeleteResult): DeleteResult {
    return jsonable({ ...r, prevKvs: r.prevKvs.map((kv) => this.#strip(kv)) });
  }

  #txnResult(r: TxnResult): TxnResult {
    const one = (op: TxnOpResult): TxnOpResult => {
      if ("get" in op) return { get: this.#getResult(op.get) };
      if ("put" in op) return { put: this.#putResult(op.put) };
      if ("delete" in op) return { delete: this.#deleteResult(op.delete) };
      return { txn: this.#txnResult(op.txn) };
    };
    return jsonable({ ...r, responses: r.responses.map(one) });
  }
}

/** The key without the prefix (a key outside it, which etcd never returns for a prefixed request, is left whole). */
function stripKey(kv: KeyValue, prefix: Buffer): KeyValue {
  return startsWith(kv.key, prefix) ? { ...kv, key: kv.key.subarray(prefix.length) } : kv;
}

function startsWith(key: Buffer, prefix: Buffer): boolean {
  return key.length >= prefix.length && key.subarray(0, prefix.length).equals(prefix);
}

/**
 * The inner lease API with `timeToLive` keeping only the namespace's keys, stripped (Go's
 * namespace.NewLease). A proxy rather than a subclass: the lease object holds private state of
 * its client, and every other method must run on that same object.
 */
function leaseView(lease: V3Lease, prefix: Buffer): V3Lease {
  const timeToLive: V3Lease["timeToLive"] = async (id, options) => {
    const r = await lease.timeToLive(id, options);
    return { ...r, keys: r.keys.filter((k) => startsWith(k, prefix)).map((k) => k.subarray(prefix.length)) };
  };
  return new Proxy(lease, {
    get(target, property): unknown {
      if (property === "timeToLive") return timeToLive;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

