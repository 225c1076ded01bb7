/**
 * The v3 watch: every watch of a client on ONE bidirectional gRPC Watch stream, run as an
 * endpoint-engine long poll so that the engine's health checks (hung, leaderless, isolated
 * member) and member moves apply to it.
 *
 * States of the stream (WatchManager):
 * - `idle`: no watch, no stream; the first watch opens one;
 * - `opening`: the engine picks a member, the token is fetched, the stream opened with
 *   require-leader (`hasleader`), and every watch is queued for (re-)creation;
 * - `open` (a Session): creates are sent one at a time, each after the previous one's `created`
 *   reply (etcd matches created replies to creates only by order); an idle stream is checked with
 *   a progress request, and a member that does not answer is left;
 * - `backing-off`: the engine gave up on every member; wait, then open again, for ever;
 * - `closed`: `close()`.
 * States of one watch (Watcher): `queued` → `creating` → `live` (has a server ID) → `ended`;
 * a stream failure puts every live watch back to `queued` on the next stream.
 *
 * Each watch resumes from the revision after the last event it received (`modRevision + 1`), or
 * its start revision, or, for a watch created "now", its created reply's revision + 1 — never
 * from a later header, whose revision is the store's current one and skips events still being
 * replayed (the etcd3 library's bug). Events at or below what was already received are dropped.
 */
import { EtcdError } from "../errors.js";
import type { Operation } from "../endpoints/engine.js";
import { pause, reconnectDelay } from "../endpoints/retry.js";
import type { Metadata } from "../transport/grpc.js";
import { rangeOf, toInt64 } from "./convert.js";
import type { WatchCreateRequest } from "./gen/etcdserverpb.js";
import type { V3Rpc } from "./rpc.js";
import { FATAL, NO_ID, Session, type SessionEnd } from "./watch-stream.js";
import type { Bytes, KeyValue, RangeOptions, ResponseHeader } from "./types.js";

/** Options of `watch`. */
export interface V3WatchOptions extends RangeOptions {
  /** The first revision to report (events already in the history are replayed); default: changes after now. */
  readonly startRevision?: bigint | number | undefined;
  /** Attach each changed key's previous state to its event. */
  readonly prevKv?: boolean | undefined;
  /** Leave puts out. */
  readonly noPut?: boolean | undefined;
  /** Leave deletes out. */
  readonly noDelete?: boolean | undefined;
  /** Ask etcd for periodic progress notifications while no event flows (see `onProgress`). */
  readonly progressNotify?: boolean | undefined;
  /** Called, in order with the events, with a revision up to which every event has been yielded. */
  readonly onProgress?: ((revision: bigint) => void) | undefined;
  /** Ends the watch; the iterator then finishes without throwing. */
  readonly signal?: AbortSignal | undefined;
}

/** One change of a watched key. */
export interface V3WatchEvent {
  /** A put (creation or update) or a delete (including a lease expiry). */
  readonly type: "put" | "delete";
  /** The key after the change (for a delete: the key, with modRevision the deletion's revision). */
  readonly kv: KeyValue;
  /** The key before the change, when `prevKv` was asked for and it existed. */
  readonly prevKv?: KeyValue | undefined;
  /** The header of the reply that carried the event. */
  readonly header: ResponseHeader;
}

const REQUIRE_LEADER: Metadata = Object.freeze({ hasleader: "true" });
const BACKOFF_BASE_MS = 50;
const BACKOFF_CAP_MS = 1000;
const FILTERS: readonly (readonly number[])[] = [[], [0], [1], [0, 1]];
const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

interface Waiter {
  resolve(result: IteratorResult<V3WatchEvent>): void;
  reject(error: unknown): void;
}

/** One watch as its caller iterates it; also its per-watch state on the stream (kept small: 10,000 watches per client are routine). */
export class Watcher implements AsyncIterableIterator<V3WatchEvent> {
  /** The create request, sent with `startRevision: resume` on every stream. */
  readonly request: WatchCreateRequest;
  /** The revision to (re-)create from; 0n until a "now" watch is first created. */
  resume: bigint;
  /** The server's ID on the current stream, or NO_ID. */
  id = NO_ID;
  /** True once ended for any reason: nothing more is sent for it. */
  ended = false;
  /** An auth cancel already caused one token refresh; a second one is final. */
  authRetried = false;
  readonly #manager: WatchManager;
  readonly #onProgress: ((revision: bigint) => void) | undefined;
  readonly #signal: AbortSignal | undefined;
  #queue: (V3WatchEvent | bigint)[] = [];
  #head = 0;
  #waiters: Waiter[] | undefined;
  #error: Error | undefined;

  constructor(manager: WatchManager, request: WatchCreateRequest, resume: bigint, options: V3WatchOptions) {
    this.#manager = manager;
    this.request = request;
    this.resume = resume;
    this.#onProgress = options.onProgress;
    this.#signal = options.signal;
    if (options.signal?.aborted === true) this.ended = true;
    else this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  readonly #onAbort = (): void => {
    void this.return();
  };

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<V3WatchEvent>> {
    while (this.#head < this.#queue.length) {
      const item = this.#take();
      if (typeof item !== "bigint") return Promise.resolve({ done: false, value: item });
      this.#progress(item);
    }
    if (this.#error !== undefined) {
      const error = this.#error;
      this.#error = undefined;
      return Promise.reject(error);
    }
    if (this.ended) return Promise.resolve(DONE);
    return new Promise((resolve, reject) => (this.#waiters ??= []).push({ resolve, reject }));
  }

  /** Ends the watch at once (`break` calls it); queued events are dropped, nothing is thrown. */
  return(): Promise<IteratorResult<V3WatchEvent>> {
    this.#queue = [];
    this.#head = 0;
    this.#error = undefined;
    this.settle(undefined);
    return Promise.resolve(DONE);
  }

  /** Hands an event or a progress revision to the caller, directly if it is waiting. */
  push(item: V3WatchEvent | bigint): void {
    if (this.ended) return;
    const waiter = this.#waiters?.[0];
    if (waiter === undefined || this.#head < this.#queue.length) {
      if (typeof item === "bigint" && this.#onProgress === undefined) return;
      this.#queue.push(item);
      return;
    }
    if (typeof item === "bigint") {
      this.#progress(item);
      return;
    }
    this.#waiters?.shift();
    waiter.resolve({ done: false, value: item });
  }

  /**
   * Ends the watch: with `error`, the caller gets the events already queued and then the error;
   * without, it finishes. Returns false if it had already ended.
   */
  settle(error: Error | undefined): boolean {
    if (this.ended) return false;
    this.ended = true;
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#manager.release(this);
    if (error !== undefined) this.#error = error;
    const waiters = this.#waiters ?? [];
    this.#waiters = undefined;
    for (const waiter of waiters) {
      if (this.#error === undefined) {
        waiter.resolve(DONE);
      } else {
        waiter.reject(this.#error);
        this.#error = undefined;
      }
    }
    return true;
  }

  #take(): V3WatchEvent | bigint {
    const item = this.#queue[this.#head] as V3WatchEvent | bigint;
    this.#head++;
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  #progress(revision: bigint): void {
    try {
      this.#onProgress?.(revision);
    } catch (error) {
      this.settle(error instanceof Error ? error : new EtcdError("INVALID_ARGUMENT", "onProgress threw a value that is not an Error", { cause: error }));
    }
  }
}

/** All watches of a client on one shared Watch stream, re-opened on another member when its member fails. */
export class WatchManager {
  readonly #rpc: V3Rpc;
  readonly #watchers = new Set<Watcher>();
  readonly #stop = new AbortController();
  readonly #operation: Operation<SessionEnd>;
  #session: Session | undefined;
  #running: Promise<void> | undefined;
  #closed = false;
  /** @internal Set when a stream got a watch created: the cluster works, so later failures start a fresh backoff. */
  progressed = false;

  /** Binds the client's rpc plumbing; nothing is sent until the first watch. */
  constructor(rpc: V3Rpc) {
    this.#rpc = rpc;
    this.#operation = { name: "watch", repeat: "read", longPoll: true, run: (endpoint, signal) => this.#open(endpoint, signal) };
  }

  /** Starts a watch of `key` (or a prefix or range); it is created at once, before the first `next()`. */
  watch(key: Bytes, options: V3WatchOptions): AsyncIterableIterator<V3WatchEvent> {
    if (this.#closed) throw new EtcdError("CLIENT_CLOSED", "the client is closed");
    const request = createRequest(key, options);
    const watcher = new Watcher(this, request, toInt64(options.startRevision, "startRevision"), options);
    if (watcher.ended) return watcher;
    this.#watchers.add(watcher);
    if (this.#session !== undefined) this.#session.enqueue(watcher);
    else this.#ensureLoop();
    return watcher;
  }

  /** Starts the stream loop unless it runs; a watch added as it was finishing starts it again. */
  #ensureLoop(): void {
    if (this.#running !== undefined || this.#closed) return;
    this.#running = this.#loop().finally(() => {
      this.#running = undefined;
      if (this.#watchers.size > 0) this.#ensureLoop();
    });
  }

  /** Ends every watch (their iterators finish without throwing) and the stream. Idempotent. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      const all = [...this.#watchers];
      this.#watchers.clear();
      for (const watcher of all) watcher.settle(undefined);
      this.#session?.end("idle");
      this.#stop.abort(new EtcdError("CLIENT_CLOSED", "the client is closed"));
    }
    await this.#running;
  }

  /** @internal Forgets an ended watch: cancels it on the stream, and ends the stream when no watch remains. */
  release(watcher: Watcher): void {
    if (!this.#watchers.delete(watcher)) return;
    if (this.#watchers.size === 0) this.#session?.end("idle");
    else this.#session?.cancel(watcher);
  }

  /** @internal The watches to (re-)create on a new stream, oldest first. */
  watchers(): Watcher[] {
    return [...this.#watchers];
  }

  /** Runs streams until no watch remains, for ever across member failures, with backoff when every member fails. */
  async #loop(): Promise<void> {
    let failures = 0;
    let restarts = 0;
    while (this.#watchers.size > 0 && !this.#closed) {
      try {
        const end = await this.#rpc.engine.execute(this.#operation, { signal: this.#stop.signal, timeout: 0 });
        restarts = end === "restart" && !this.progressed ? restarts + 1 : 0;
        this.progressed = false;
        failures = 0;
        // A refreshed token that is rejected again must not spin: back off like a failure.
        if (restarts > 1) await pause(reconnectDelay(restarts, BACKOFF_BASE_MS, BACKOFF_CAP_MS), this.#stop.signal);
      } catch (error) {
        if (this.#stop.signal.aborted) return;
        if (!(error instanceof EtcdError) || (!error.memberFailure && FATAL.has(error.code))) {
          const final = error instanceof Error ? error : new EtcdError("UNAVAILABLE", "the watch stream failed", { cause: error });
          for (const watcher of [...this.#watchers]) watcher.settle(final);
          return;
        }
        failures = this.progressed ? 1 : failures + 1;
        this.progressed = false;
        await pause(reconnectDelay(failures, BACKOFF_BASE_MS, BACKOFF_CAP_MS), this.#stop.signal);
      }
    }
  }

  /** One engine attempt: a stream on `endpoint` that lives until it fails, the member is found hung, or no watch remains. */
  async #open(endpoint: string, signal: AbortSignal): Promise<SessionEnd> {
    const metadata = await this.#rpc.streamMetadata(signal, REQUIRE_LEADER);
    if (this.#watchers.size === 0 || this.#closed) return "idle";
    signal.throwIfAborted();
    const session = new Session(this.#rpc, this, endpoint, signal, metadata, () => {
      if (this.#session === session) this.#session = undefined;
    });
    if (!session.finished) this.#session = session;
    return session.done;
  }
}

/** The create request of a watch, checked before anything is sent (its start revision is set per stream). */
function createRequest(key: Bytes, options: V3WatchOptions): WatchCreateRequest {
  const range = rangeOf(key, options);
  const filters = FILTERS[(options.noPut === true ? 1 : 0) + (options.noDelete === true ? 2 : 0)] ?? [];
  return {
    key: range.key,
    rangeEnd: range.rangeEnd,
    startRevision: 0n,
    progressNotify: options.progressNotify === true,
    filters: filters as number[],
    prevKv: options.prevKv === true,
    watchId: 0n,
    fragment: true,
  };
}

