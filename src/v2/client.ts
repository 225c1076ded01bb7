/**
 * `EtcdV2Client`: the whole etcd v2 API (everything go-etcd and etcd's v2 Go client offered)
 * over the shared endpoint engine. Each method states three things: the request (built and
 * checked by the codec before anything is sent), how the reply is decoded, and whether the
 * operation may be repeated after a possible delivery (docs/retries.md has the table).
 */
import { V2_PATHS, decodeHealth, decodeMachines, decodeMembers, decodeVersion } from "../codec/v2-admin.js";
import {
  decodeJsonReply,
  decodeKeyReply,
  decodeShape,
  deleteRequest,
  describe,
  getRequest,
  invalidArgument,
  postRequest,
  putRequest,
  rawRequest,
  replyContext,
  requireText,
  requireTtl,
  type PutSpec,
} from "../codec/v2.js";
import { errorFromReply } from "../codec/v2-errors.js";
import { EndpointEngine, engineConfig } from "../endpoints/engine.js";
import { EtcdError } from "../errors.js";
import { DEFAULTS, type CallOptions, type Consistency } from "../options.js";
import { HttpTransport, type HttpMethod, type HttpRequest } from "../transport/http.js";
import { V2Auth } from "./auth.js";
import { fromConfig, toConfig, validateEndpoints, validateOptions, type EtcdV2Config } from "./config.js";
import { V2Members } from "./members.js";
import { V2Requester, callOptions, jsonCall } from "./request.js";
import { V2Stats } from "./stats.js";
import { closeSignal, watchV2, type V2WatchEvent, type WatchOptions } from "./watch.js";
import type {
  CompareAndSwapOptions,
  CompareOptions,
  CreateOptions,
  DeleteOptions,
  DirOptions,
  GetOptions,
  HealthInfo,
  RawOptions,
  RawResponse,
  SetOptions,
  TtlOptions,
  V2Response,
  VersionInfo,
  EtcdV2ClientOptions,
} from "./types.js";

const RAW_METHODS: readonly HttpMethod[] = ["GET", "HEAD", "PUT", "POST", "DELETE"];

/** A client for etcd's v2 HTTP/JSON API. */
export class EtcdV2Client {
  /** Cluster membership: list, add, remove, update, leader. */
  readonly members: V2Members;
  /** Member and store statistics. */
  readonly stats: V2Stats;
  /** Authentication, users and roles. */
  readonly auth: V2Auth;
  readonly #options: EtcdV2ClientOptions;
  readonly #consistency: Consistency;
  readonly #engine: EndpointEngine;
  readonly #transport: HttpTransport;
  readonly #requester: V2Requester;
  readonly #closed = new AbortController();
  #closing: Promise<void> | undefined;
  #destroyed: unknown;

  /** Creates a client; nothing is sent until the first request. Throws INVALID_ARGUMENT for bad options. */
  constructor(given: EtcdV2ClientOptions) {
    const options = validateOptions(given);
    this.#options = options;
    this.#consistency = options.consistency ?? DEFAULTS.consistency;
    const transport = new HttpTransport({
      dialTimeout: options.dialTimeout,
      keepAlive: options.keepAlive,
      tls: options.tls,
      auth: options.auth,
      transport: options.transport,
      onCurl: options.onCurl,
      maxResponseBytes: options.maxResponseBytes,
      connections: options.connections,
      maxPendingRequests: options.maxPendingRequests,
      maxConnections: options.maxConnections,
    });
    this.#transport = transport;
    this.#engine = new EndpointEngine(
      engineConfig(
        options,
        (endpoint, signal) => transport.probe(endpoint, signal),
        (endpoint, signal) => this.#discover(endpoint, signal),
      ),
    );
    this.#requester = new V2Requester(this.#engine, transport);
    this.members = new V2Members(this.#requester);
    this.stats = new V2Stats(this.#requester);
    this.auth = new V2Auth(this.#requester);
  }

  /** A client from a saved config (ours from `toConfig()`, or go-etcd's); `extra` adds what is never saved (auth, hooks). */
  static fromConfig(json: string | object, extra: Partial<EtcdV2ClientOptions> = {}): EtcdV2Client {
    return new EtcdV2Client({ ...fromConfig(json), ...extra });
  }

  /** The settings as a JSON-ready object, with the endpoints in use now; credentials are left out. */
  toConfig(): EtcdV2Config {
    return toConfig(this.#options, this.#engine.endpoints);
  }

  /** Reads a key or a directory; `quorum` defaults to true unless the client's consistency is "weak". */
  get(key: string, options: GetOptions = {}): Promise<V2Response> {
    const quorum = options.quorum ?? this.#consistency === "strong";
    const spec = { recursive: options.recursive, sorted: options.sorted, quorum };
    return this.#key("get", true, () => getRequest(key, spec), options, !quorum);
  }

  /** Writes a value whether or not the key exists. */
  set(key: string, value: string, options: SetOptions = {}): Promise<V2Response> {
    return this.#put("set", true, key, () => ({ value: requireValue(value), ttl: options.ttl, noValueOnSuccess: options.noValueOnSuccess }), options);
  }

  /**
   * Creates a directory, replacing a file of that name (etcd answers NOT_A_FILE for an existing
   * directory, which is why a possibly delivered setDir is not sent again; use `updateDir` for TTLs).
   */
  setDir(key: string, options: TtlOptions = {}): Promise<V2Response> {
    return this.#put("setDir", false, key, () => ({ dir: true, ttl: options.ttl }), options);
  }

  /** Creates a key that must not exist yet (NODE_EXISTS otherwise). */
  create(key: string, value: string, options: CreateOptions = {}): Promise<V2Response> {
    const spec = (): PutSpec => ({ value: requireValue(value), ttl: options.ttl, prevExist: false, noValueOnSuccess: options.noValueOnSuccess });
    return this.#put("create", false, key, spec, options);
  }

  /** Creates a directory that must not exist yet. */
  createDir(key: string, options: TtlOptions = {}): Promise<V2Response> {
    return this.#put("createDir", false, key, () => ({ dir: true, ttl: options.ttl, prevExist: false }), options);
  }

  /** Changes a key that must exist (KEY_NOT_FOUND otherwise); `ttl: null` clears its TTL. */
  update(key: string, value: string, options: SetOptions = {}): Promise<V2Response> {
    const spec = (): PutSpec => ({ value: requireValue(value), ttl: options.ttl, prevExist: true, noValueOnSuccess: options.noValueOnSuccess });
    return this.#put("update", true, key, spec, options);
  }

  /** Changes the TTL of a directory that must exist; `ttl: null` clears it. */
  updateDir(key: string, options: DirOptions = {}): Promise<V2Response> {
    return this.#put("updateDir", true, key, () => ({ dir: true, ttl: options.ttl, prevExist: true }), options);
  }

  /** Adds a key to a directory under a name etcd picks, ordered by creation (go-etcd's AddChild). */
  createInOrder(dir: string, value: string, options: TtlOptions = {}): Promise<V2Response> {
    return this.#key("createInOrder", false, () => postRequest(dir, { value: requireValue(value), ttl: options.ttl }), options);
  }

  /** Adds a directory to `dir` under a name etcd picks (what go-etcd's AddChildDir meant to do). */
  createInOrderDir(dir: string, options: TtlOptions = {}): Promise<V2Response> {
    return this.#key("createInOrderDir", false, () => postRequest(dir, { dir: true, ttl: options.ttl }), options);
  }

  /** Deletes a key; a directory needs `dir` (when empty) or `recursive`. */
  delete(key: string, options: DeleteOptions = {}): Promise<V2Response> {
    return this.#key("delete", false, () => deleteRequest(key, { recursive: options.recursive, dir: options.dir }), options);
  }

  /** Deletes an empty directory (DIR_NOT_EMPTY otherwise). */
  deleteDir(key: string, options: CallOptions = {}): Promise<V2Response> {
    return this.#key("deleteDir", false, () => deleteRequest(key, { dir: true }), options);
  }

  /** Writes only if the current value and/or modifiedIndex match (COMPARE_FAILED otherwise). */
  compareAndSwap(key: string, value: string, options: CompareAndSwapOptions): Promise<V2Response> {
    const spec = (): PutSpec => ({
      ...comparison(options, "compareAndSwap"),
      value: requireValue(value),
      ttl: options.ttl,
      noValueOnSuccess: options.noValueOnSuccess,
    });
    return this.#put("compareAndSwap", false, key, spec, options);
  }

  /** Deletes only if the current value and/or modifiedIndex match. */
  compareAndDelete(key: string, options: CompareOptions): Promise<V2Response> {
    return this.#key("compareAndDelete", false, () => deleteRequest(key, comparison(options, "compareAndDelete")), options);
  }

  /** Resets a key's TTL without changing its value or notifying watchers (etcd 2.3+). */
  refresh(key: string, ttl: number, options: CallOptions = {}): Promise<V2Response> {
    return this.#put("refresh", true, key, () => ({ ttl: requireTtl(ttl), refresh: true, prevExist: true }), options);
  }

  /** Sends any request and returns the reply as it came; repeated after a possible delivery only for GET and HEAD. */
  async raw(method: HttpMethod, path: string, options: RawOptions = {}): Promise<RawResponse> {
    if (!RAW_METHODS.includes(method)) throw invalidArgument(`method must be one of ${RAW_METHODS.join(", ")}, got ${describe(method)}`);
    const request = rawRequest(method, requireText("path", path), options.query ?? {}, options.form);
    const idempotent = method === "GET" || method === "HEAD";
    return this.#requester.run({ name: `raw ${method}`, idempotent, request, decode: (reply) => reply }, options);
  }

  /** The etcd version of the member in use and of the cluster. */
  version(options: CallOptions = {}): Promise<VersionInfo> {
    return this.#requester.run(jsonCall("version", true, { method: "GET", path: V2_PATHS.version }, [200], decodeVersion), options);
  }

  /** Whether the member in use is healthy; a 503 "unhealthy" answer is a result, not an error. */
  health(options: CallOptions = {}): Promise<HealthInfo> {
    return this.#requester.run(
      {
        name: "health",
        idempotent: true,
        request: { method: "GET", path: V2_PATHS.health },
        decode: (reply, endpoint) => ({ ...decodeShape(reply, endpoint, () => decodeHealth(decodeJsonReply(reply, endpoint, [200, 503]))), endpoint }),
      },
      options,
    );
  }

  /**
   * Watches `key` (and, with `recursive`, everything below it), yielding every change in index
   * order; it moves to another member when its member dies, hangs or is cut off, without losing
   * or repeating an event. `break`, the `signal` or `close()` end it without an error.
   */
  watch(key: string, options: WatchOptions = {}): AsyncIterable<V2WatchEvent> {
    return watchV2(this.#watchContext(), key, options);
  }

  /** Waits for the next change of `key` and returns it (go-etcd's Watch without a receiver). */
  async watchOnce(key: string, options: WatchOptions = {}): Promise<V2WatchEvent> {
    for await (const event of this.watch(key, options)) return event;
    if (options.signal?.aborted === true) throw options.signal.reason;
    throw new EtcdError("CLIENT_CLOSED", "the client was closed before the watched key changed");
  }

  #watchContext() {
    return {
      engine: this.#engine,
      transport: this.#transport,
      closed: closeSignal(this.#closed),
      destroyed: () => this.#destroyed,
      read: (key: string, recursive: boolean, signal: AbortSignal) => this.get(key, { recursive, quorum: true, signal }),
    };
  }

  /** Replaces the member list with the cluster's own (go-etcd SyncCluster); returns the new list. */
  sync(options: CallOptions = {}): Promise<readonly string[]> {
    return this.#engine.sync(callOptions(options));
  }

  /** The member URLs in use (a copy; go-etcd GetCluster). */
  get endpoints(): readonly string[] {
    return this.#engine.endpoints;
  }

  /**
   * Replaces the member list at once (`host:port` or http(s) URLs; INVALID_ARGUMENT for anything
   * else, leaving the list as it was): members kept keep their state, calls on removed ones finish.
   */
  setEndpoints(urls: readonly string[]): void {
    this.#engine.setEndpoints(validateEndpoints(urls));
  }

  /** Ends every watch, stops background work, lets other requests in flight finish, then closes connections. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed.abort();
      this.#engine.close();
      await this.#engine.idle();
      await this.#transport.close();
    })();
    return this.#closing;
  }

  /**
   * Ends everything at once, unlike the graceful `close()`: every call in flight rejects with
   * `reason` (default: a CLIENT_DESTROYED error), every watch throws it, and every connection is
   * destroyed. A write in flight may or may not have been applied. Later calls fail CLIENT_CLOSED.
   */
  destroy(reason?: unknown): Promise<void> {
    if (this.#destroyed === undefined) {
      const error = reason ?? new EtcdError("CLIENT_DESTROYED", "the client was destroyed");
      this.#destroyed = error;
      this.#closed.abort(error);
      this.#engine.destroy(error);
      // Even while a graceful close() waits for calls to finish: connections go now.
      const gone = this.#transport.close();
      this.#closing ??= gone;
    }
    return this.#closing ?? Promise.resolve();
  }

  /** `await using client = new EtcdV2Client(...)` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #put(name: string, idempotent: boolean, key: string, spec: () => PutSpec, options: CallOptions): Promise<V2Response> {
    return this.#key(name, idempotent, () => putRequest(key, spec()), options);
  }

  /** Builds the request inside the promise, so bad input rejects instead of throwing synchronously. */
  async #key(name: string, idempotent: boolean, build: () => HttpRequest, options: CallOptions, weakRead = false): Promise<V2Response> {
    const request = build();
    return this.#requester.run(
      {
        name,
        idempotent,
        weakRead,
        request,
        decode: decodeKeyReply,
        progress: (response) => ({ index: response.etcdIndex > 0 ? response.etcdIndex : undefined, term: response.raftTerm }),
      },
      options,
    );
  }

  /** The member list as `endpoint` sees it: client URLs from /v2/members, else the legacy /v2/machines. */
  async #discover(endpoint: string, signal: AbortSignal): Promise<readonly string[]> {
    const members = await this.#transport.request(endpoint, { method: "GET", path: V2_PATHS.members }, signal);
    if (members.status === 200) {
      const list = decodeShape(members, endpoint, () => decodeMembers(decodeJsonReply(members, endpoint, [200])));
      return [...new Set(list.flatMap((m) => m.clientURLs))];
    }
    const machines = await this.#transport.request(endpoint, { method: "GET", path: V2_PATHS.machines }, signal);
    if (machines.status !== 200) throw errorFromReply(replyContext(machines, endpoint));
    return decodeMachines(machines.body);
  }
}

function requireValue(value: unknown): string {
  return requireText("value", value);
}

/** The compare conditions, refused before sending when there are none (the write would be unconditional). */
function comparison(options: CompareOptions | undefined, name: string): { prevValue?: string | undefined; prevIndex?: number | undefined } {
  if (options?.prevValue === undefined && options?.prevIndex === undefined) {
    throw invalidArgument(`${name} needs prevValue or prevIndex; without them it would not compare anything`);
  }
  return { prevValue: options.prevValue, prevIndex: options.prevIndex };
}
