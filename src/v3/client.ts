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
import {
  checkCall,
  deleteRequest,
  describe,
  deleteResult,
  flag,
  getResult,
  header,
  invalid,
  optionsOf,
  prefixEnd,
  putRequest,
  putResult,
  rangeEndOf,
  rangeRequest,
  toInt64,
  toKey,
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
import { WatchManager, type V3WatchEvent, type V3WatchOptions } from "./watch.js";
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

  /** Creates a client; nothing is sent until the first request. Throws INVALID_ARGUMENT for bad options. */
  constructor(options: EtcdV3ClientOptions) {
    validateOptions(options);
    this.#consistency = options.consistency ?? DEFAULTS.consistency;
    this.#transport = new GrpcTransport({
      dialTimeout: options.dialTimeout ?? DEFAULTS.dialTimeout,
      keepAlive: options.keepAlive ?? DEFAULTS.keepAlive,
      keepAliveTimeout: options.keepAliveTimeout,
      tls: options.tls,
      window: options.window,
      maxMessageBytes: options.maxMessageBytes,
    });
    // The prober needs the rpc, which needs the engine: the engine gets it once both exist.
    const late: { rpc?: V3Rpc } = {};
    this.#engine = new EndpointEngine(
      engineConfig(
        options,
        (endpoint, signal) => (late.rpc === undefined ? Promise.resolve("inconclusive") : late.rpc.probe(endpoint, signal)),
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
    this.#watches = new WatchManager(rpc);
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
    const first = toKey(key);
    // The key is a prefix unless a range end is given (or prefix is explicitly false).
    const rangeEnd = o.rangeEnd === undefined && o.prefix !== false ? prefixEnd(first) : rangeEndOf(first, o);
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
   * writes may not (OUTCOME_UNKNOWN instead).
   */
  async txn(spec: TxnSpec, options?: CallOptions): Promise<TxnResult> {
    const o = optionsOf(options, "txn");
    checkCall(o);
    const request = txnRequest(spec);
    return txnResult(await this.#rpc.call(txnReadsOnly(spec) ? TXN_READ : TXN, request, o, txnServedLocally(request)));
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
   * member failures. All watches of a client share one gRPC stream.
   */
  watch(key: Bytes, options: V3WatchOptions = {}): AsyncIterableIterator<V3WatchEvent> {
    if (this.#closing !== undefined) throw new EtcdError("CLIENT_CLOSED", "the client is closed");
    return this.#watches.watch(key, options);
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

const NUMERIC = ["dialTimeout", "keepAlive", "requestTimeout", "suspectAfter", "probeTimeout", "healthInterval", "autoSync", "window", "maxMessageBytes"] as const;

function validateOptions(options: EtcdV3ClientOptions): void {
  if (typeof options !== "object" || (options as unknown) === null) throw invalid("options must be an object with endpoints");
  validateEndpoints(options.endpoints);
  const consistency: unknown = options.consistency;
  if (consistency !== undefined && consistency !== "strong" && consistency !== "weak") {
    throw invalid(`consistency must be "strong" or "weak", got ${describe(consistency)}`);
  }
  for (const name of NUMERIC) {
    const value: unknown = options[name];
    if (value !== undefined && (typeof value !== "number" || !Number.isFinite(value) || value <= 0)) {
      throw invalid(`${name} must be a positive number of ${name === "window" || name === "maxMessageBytes" ? "bytes" : "ms"}, got ${describe(value)}`);
    }
  }
  const auth: unknown = options.auth;
  if (auth !== undefined && (typeof auth !== "object" || auth === null || !("username" in auth) || typeof auth.username !== "string" || !("password" in auth) || typeof auth.password !== "string")) {
    throw invalid("auth must be { username: string, password: string }");
  }
  const tls: unknown = options.tls;
  if (tls !== undefined && (typeof tls !== "object" || tls === null)) throw invalid("tls must be an object { ca, cert, key, servername, rejectUnauthorized }");
  for (const name of ["checkRetry", "onEvent"] as const) {
    const value: unknown = options[name];
    if (value !== undefined && typeof value !== "function") throw invalid(`${name} must be a function`);
  }
}

/** Bare http(s) origins: gRPC routes on the path, so a path or query in an endpoint would be silently dropped. */
function validateEndpoints(endpoints: unknown): void {
  if (!Array.isArray(endpoints) || endpoints.length === 0) throw invalid("endpoints must be a non-empty array of URLs");
  for (const endpoint of endpoints as readonly unknown[]) {
    if (typeof endpoint !== "string") throw invalid(`an endpoint must be a string, got ${typeof endpoint}`);
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw invalid(`endpoint ${JSON.stringify(endpoint)} is not a URL (expected e.g. http://127.0.0.1:2379)`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw invalid(`endpoint ${endpoint} must be http:// or https://`);
    if (url.username !== "" || url.password !== "") throw invalid(`endpoint ${endpoint} has credentials in it; use the auth option`);
    if ((url.pathname !== "/" && url.pathname !== "") || url.search !== "" || url.hash !== "") {
      throw invalid(`endpoint ${endpoint} must be a bare origin, without a path or query`);
    }
  }
}
