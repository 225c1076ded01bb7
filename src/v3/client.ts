/**
 * `EtcdV3Client`: etcd's v3 gRPC API over the same endpoint engine as the v2 client. Each
 * method states the request (checked before anything is sent), how the reply is decoded, and
 * whether the call may be repeated after a possible delivery: reads may; put, delete, txn with a
 * write, lease grant and compact may not, and surface OUTCOME_UNKNOWN instead (docs/retries.md).
 */
import { EndpointEngine, engineConfig } from "../endpoints/engine.js";
import { EtcdError } from "../errors.js";
import { DEFAULTS, type CallOptions, type Consistency } from "../options.js";
import { GrpcTransport } from "../transport/grpc.js";
import { checkEndpoints, checkOptions } from "../options-check.js";
import {
  checkCall,
  deleteRequest,
  deleteResult,
  flag,
  getResult,
  header,
  invalid,
  optionsOf,
  putRequest,
  putResult,
  rangeOf,
  rangeRequest,
  toInt64,
  txnReadsOnly,
  txnRequest,
  txnResult,
  txnServedLocally,
} from "./convert.js";
import {
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  MemberListRequest,
  MemberListResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
} from "./gen/etcdserverpb.js";
import { METHODS } from "./methods.js";
import { V3Rpc, type UnarySpec } from "./rpc.js";
import { TokenSource } from "./tokens.js";
import { AUTHENTICATE, V3Auth } from "./auth.js";
import { V3Cluster } from "./cluster.js";
import { V3Lease } from "./lease.js";
import { V3Maintenance } from "./maintenance.js";
import { WatchManager, type V3Watch, type V3WatchOptions } from "./watch.js";
import { runStm, type StmOptions, type StmTx } from "./concurrency/stm.js";
import { keyExists, readJson, readNumber, readPrefixMap, readString, type PrefixMapOptions, type ValueForm, type ValueOf, type ValueReadOptions } from "./values.js";
import { Namespace } from "./concurrency/namespace.js";
import { Election, type ElectionOptions } from "./concurrency/election.js";
import { Mutex, type Lock, type MutexOptions, type WithLockOptions } from "./concurrency/mutex.js";
import { Session, type SessionOptions } from "./concurrency/session.js";
import type {
  Bytes,
  CompactOptions,
  CompactResult,
  DeleteOptions,
  DeleteResult,
  EtcdV3ClientOptions,
  GetAllOptions,
  GetOptions,
  GetResult,
  KeyValue,
  PutOptions,
  PutResult,
  TxnOptions,
  TxnResult,
  TxnSpec,
} from "./types.js";

const RANGE: UnarySpec<RangeRequest, RangeResponse> = { name: "get", path: METHODS.range, repeat: "read", request: RangeRequest, response: RangeResponse };
const PUT: UnarySpec<PutRequest, PutResponse> = { name: "put", path: METHODS.put, repeat: "once", request: PutRequest, response: PutResponse };
const DELETE: UnarySpec<DeleteRangeRequest, DeleteRangeResponse> = {
  name: "delete",
  path: METHODS.deleteRange,
  repeat: "once",
  request: DeleteRangeRequest,
  response: DeleteRangeResponse,
};
const TXN: UnarySpec<TxnRequest, TxnResponse> = { name: "txn", path: METHODS.txn, repeat: "once", request: TxnRequest, response: TxnResponse };
const TXN_READ: UnarySpec<TxnRequest, TxnResponse> = { ...TXN, repeat: "read" };
const COMPACT: UnarySpec<CompactionRequest, CompactionResponse> = {
  name: "compact",
  path: METHODS.compact,
  repeat: "once",
  request: CompactionRequest,
  response: CompactionResponse,
};
const MEMBER_LIST: UnarySpec<MemberListRequest, MemberListResponse> = {
  name: "memberList",
  path: METHODS.memberList,
  repeat: "read",
  request: MemberListRequest,
  response: MemberListResponse,
};

/** A client for etcd's v3 gRPC API. */
export class EtcdV3Client {
  /** Leases: grant, revoke, time-to-live, list, and keep-alive on one shared stream. */
  readonly lease: V3Lease;
  /** Authentication, users and roles. */
  readonly auth: V3Auth;
  /** Cluster membership. */
  readonly cluster: V3Cluster;
  /** Per-member maintenance: status, alarms, defragment, hash, leader transfer. */
  readonly maintenance: V3Maintenance;
  readonly #consistency: Consistency;
  readonly #engine: EndpointEngine;
  readonly #transport: GrpcTransport;
  readonly #rpc: V3Rpc;
  readonly #watches: WatchManager;
  #closing: Promise<void> | undefined;
  #destroyed: unknown;

  /** Creates a client; nothing is sent until the first request. Throws INVALID_ARGUMENT for bad options. */
  constructor(given: EtcdV3ClientOptions) {
    const options = checkOptions(given);
    this.#consistency = options.consistency ?? DEFAULTS.consistency;
    this.#transport = new GrpcTransport({
      dialTimeout: options.dialTimeout ?? DEFAULTS.dialTimeout,
      keepAlive: options.keepAlive ?? DEFAULTS.keepAlive,
      keepAliveTimeout: options.keepAliveTimeout,
      tls: options.tls,
      window: options.window,
      maxMessageBytes: options.maxMessageBytes,
      maxHeaderListBytes: options.maxHeaderListBytes,
      maxPendingStreams: options.maxPendingStreams,
      maxOutstandingPings: options.maxOutstandingPings,
      maxSettingsEntries: options.maxSettingsEntries,
      maxQueuedControlFrames: options.maxQueuedControlFrames,
      maxStreamId: options.maxStreamId,
    });
    // The prober needs the rpc, which needs the engine: the engine gets it once both exist.
    const late: { rpc?: V3Rpc } = {};
    this.#engine = new EndpointEngine(
      engineConfig(
        options,
        (endpoint, signal, sawTerm) => (late.rpc === undefined ? Promise.resolve("inconclusive") : late.rpc.probe(endpoint, signal, sawTerm)),
        (endpoint, signal) => this.#discover(endpoint, signal),
      ),
    );
    const credentials = options.auth;
    const bare = new V3Rpc(this.#engine, this.#transport, undefined);
    const tokens =
      credentials === undefined
        ? undefined
        : new TokenSource(async (signal) => {
            const reply = await bare.call(AUTHENTICATE, { name: credentials.username, password: credentials.password }, { signal });
            return reply.token;
          });
    const rpc = new V3Rpc(this.#engine, this.#transport, tokens);
    late.rpc = rpc;
    this.#rpc = rpc;
    this.#watches = new WatchManager(rpc, { events: options.watchMaxBufferedEvents, bytes: options.watchMaxBufferedBytes });
    this.lease = new V3Lease(rpc);
    this.auth = new V3Auth(rpc);
    this.cluster = new V3Cluster(rpc);
    this.maintenance = new V3Maintenance(rpc);
  }

  /** The member URLs in use, in rotation order. */
  get endpoints(): readonly string[] {
    return this.#engine.endpoints;
  }

  /** The member requests go to now. */
  get currentEndpoint(): string | undefined {
    return this.#engine.current;
  }

  /** Writes `value` at `key`; never re-sent after a possible delivery (OUTCOME_UNKNOWN instead). */
  async put(key: Bytes, value: Bytes, options?: PutOptions): Promise<PutResult> {
    const o = optionsOf(options, "put");
    checkCall(o);
    return putResult(await this.#rpc.call(PUT, putRequest(key, value, o), o));
  }

  /** Reads a key, a prefix or a range; linearizable unless `serializable` or the client's consistency is "weak". */
  async get(key: Bytes, options?: GetOptions): Promise<GetResult> {
    const o = optionsOf(options, "get");
    checkCall(o);
    const request = rangeRequest(key, o, this.#consistency === "weak");
    return getResult(await this.#rpc.call(RANGE, request, o, request.serializable));
  }

  /** Deletes a key, a prefix or a range; never re-sent after a possible delivery. */
  async delete(key: Bytes, options?: DeleteOptions): Promise<DeleteResult> {
    const o = optionsOf(options, "delete");
    checkCall(o);
    return deleteResult(await this.#rpc.call(DELETE, deleteRequest(key, o), o));
  }

  /**
   * Every key under a prefix (or of `[key, rangeEnd)`), fetched `pageSize` at a time, all at the
   * revision of the first page: the result is one consistent snapshot however long the walk takes
   * (COMPACTED if that revision is compacted away before the walk ends). `timeout` applies to
   * each page. Arguments are checked before the first request.
   */
  getAll(key: Bytes, options?: GetAllOptions): AsyncGenerator<KeyValue, void, undefined> {
    const o = optionsOf(options, "getAll");
    checkCall(o);
    const pageSize: unknown = o.pageSize ?? 1000;
    if (typeof pageSize !== "number" || !Number.isSafeInteger(pageSize) || pageSize < 1) throw invalid(`pageSize must be a positive integer, got ${String(pageSize)}`);
    // The key is a prefix unless a range end or fromKey is given (or prefix is explicitly false).
    const range = rangeOf(key, o.rangeEnd === undefined && o.prefix === undefined && o.fromKey !== true ? { ...o, prefix: true } : o);
    const first = range.key;
    const rangeEnd = range.rangeEnd;
    const revision = toInt64(o.revision, "revision");
    const keysOnly = flag(o.keysOnly, "keysOnly");
    return this.#pages(first, { rangeEnd, limit: pageSize, revision, keysOnly, signal: o.signal, timeout: o.timeout });
  }

  async *#pages(from: Buffer, page: GetOptions & { readonly revision: bigint }): AsyncGenerator<KeyValue, void, undefined> {
    let options = page;
    for (let first = options.revision === 0n; ; first = false) {
      const reply = await this.#page(from, options, first);
      if (options.revision === 0n) options = { ...options, revision: reply.header.revision };
      for (const kv of reply.kvs) yield kv;
      const last = reply.kvs.at(-1);
      if (!reply.more || last === undefined) return;
      // The next page starts just after the last key: the key with a zero byte appended.
      from = Buffer.concat([last.key, ZERO]);
    }
  }

  async #page(from: Buffer, options: GetOptions, first: boolean): Promise<GetResult> {
    try {
      return await this.get(from, options);
    } catch (error) {
      // With weak reads a later page may reach a member that has not yet applied the first page's
      // revision; a linearizable read of it waits until that member has.
      if (first || this.#consistency !== "weak" || !(error instanceof EtcdError && error.code === "FUTURE_REVISION")) throw error;
      return this.get(from, { ...options, serializable: false });
    }
  }

  /**
   * Runs a transaction. One that only reads may be re-sent after a possible delivery; one that
   * writes may not (OUTCOME_UNKNOWN instead), unless the caller marks it `idempotent`.
   */
  async txn(spec: TxnSpec, options?: TxnOptions): Promise<TxnResult> {
    const o = optionsOf(options, "txn");
    checkCall(o);
    const idempotent = flag(o.idempotent, "idempotent");
    const request = txnRequest(spec);
    const method = txnReadsOnly(spec) ? TXN_READ : TXN;
    return txnResult(await this.#rpc.call(method, request, o, txnServedLocally(request), idempotent ? "read" : method.repeat));
  }

  /** Discards the history before `revision`; later reads and watches of it answer COMPACTED. */
  async compact(revision: bigint | number, options?: CompactOptions): Promise<CompactResult> {
    const o = optionsOf(options, "compact");
    checkCall(o);
    const request = { revision: toInt64(revision, "revision"), physical: flag(o.physical, "physical") };
    if (request.revision === 0n) throw invalid("compact needs a revision above 0");
    return { header: header((await this.#rpc.call(COMPACT, request, o)).header) };
  }

  /**
   * Watches a key, prefix or range; events arrive in revision order, none lost or repeated across
   * member failures. All watches of a client share one gRPC stream; a watch whose reader falls
   * behind is paused past its buffer limit and re-created once drained (see `V3Watch`).
   */
  watch(key: Bytes, options: V3WatchOptions = {}): V3Watch {
    if (this.#closing !== undefined) throw new EtcdError("CLIENT_CLOSED", "the client is closed");
    return this.#watches.watch(key, options);
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

  /**
   * Replaces the member list at once (`host:port` or http(s) URLs; INVALID_ARGUMENT for anything
   * else, leaving the list as it was): members kept keep their state and connections, calls on
   * removed ones finish.
   */
  setEndpoints(endpoints: readonly string[]): void {
    this.#engine.setEndpoints(checkEndpoints(endpoints));
  }

  /**
   * Runs `apply` as a software transaction (Go's concurrency.STM): reads through `tx.get`, writes
   * buffered by `tx.put`/`tx.delete` and committed atomically, the whole function re-run on
   * conflict under the chosen isolation (default "snapshot"); resolves with the committing run's result.
   */
  stm<T>(apply: (tx: StmTx) => Promise<T>, options?: StmOptions): Promise<T> {
    return runStm(this, apply, options);
  }

  /** The same KV, txn, watch, lease and STM API with every key stored under `prefix` and bare to the caller (Go's namespace package). */
  namespace(prefix: Bytes): Namespace {
    return new Namespace(this, prefix);
  }

  /** Opens a concurrency session: a lease kept alive, whose `signal` aborts as soon as the lease may be gone. */
  session(options?: SessionOptions): Promise<Session> {
    return Session.open(this, options);
  }

  /** A distributed lock named `name`, shared with Go's concurrency.Mutex and `etcdctl lock` of that name. */
  mutex(name: string, options?: MutexOptions): Mutex {
    return new Mutex(this, name, options);
  }

  /**
   * Runs `fn` holding the lock `name` (on a session of its own), then unlocks. Pass `lock.signal`
   * on to the work: it aborts if the lock may be lost. Rejects with LOCK_LOST if the lock was
   * lost before `fn` finished, even when `fn` succeeded.
   */
  async withLock<T>(name: string, fn: (lock: Lock) => Promise<T>, options: WithLockOptions = {}): Promise<T> {
    const lock = await new Mutex(this, name, { ttl: options.ttl }).lock({ signal: options.signal });
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

  /** A leader election named `name`, shared with Go's concurrency.Election and `etcdctl elect` of that name. */
  election(name: string, options?: ElectionOptions): Election {
    return new Election(this, name, options);
  }

  /** Replaces the member list with the cluster's own (MemberList), returning it. */
  async sync(options: CallOptions = {}): Promise<readonly string[]> {
    return this.#engine.sync(options);
  }

  /** Ends every watch and keep-alive, waits for calls in flight, and closes the connections. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#watches.close();
      await this.lease.close();
      this.#engine.close();
      await this.#engine.idle();
      this.#rpc.tokens?.clear();
      await this.#transport.close();
    })();
    return this.#closing;
  }

  /**
   * Ends everything at once, unlike the graceful `close()`: every call in flight rejects with
   * `reason` (default: a CLIENT_DESTROYED error) and every HTTP/2 connection is destroyed;
   * every watch's iterator throws `reason` too (queued events dropped); every keep-alive stops
   * and its `lost` resolves with CLIENT_DESTROYED (so sessions, and the locks and leaderships on
   * them, abort their signals at once). A write in flight may or may not have been applied. Later
   * calls fail CLIENT_CLOSED.
   */
  destroy(reason?: unknown): Promise<void> {
    if (this.#destroyed === undefined) {
      const error = reason ?? new EtcdError("CLIENT_DESTROYED", "the client was destroyed");
      this.#destroyed = error;
      this.#engine.destroy(error);
      // GrpcTransport.close() destroys every session's socket at once; nothing waits for streams.
      const gone = Promise.all([this.#transport.close(), this.#watches.destroy(error), this.lease.destroy(error)]);
      this.#rpc.tokens?.clear();
      this.#closing ??= gone.then(() => undefined);
    }
    return this.#closing ?? Promise.resolve();
  }

  /** `await using etcd = new EtcdV3Client(...)` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #discover(endpoint: string, signal: AbortSignal): Promise<readonly string[]> {
    const reply = await this.#rpc.attempt(endpoint, MEMBER_LIST, MemberListRequest.encode({}).finish(), signal);
    return reply.members.flatMap((m) => m.clientURLs);
  }
}

const ZERO = Buffer.from([0]);
