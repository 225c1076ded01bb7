/**
 * One v3 watch as its caller iterates it, and its state on the shared watch stream.
 *
 * States of one watch (`Watcher.state`):
 * - `queued`: waiting to be created on the current (or next) stream;
 * - `creating`: its create request is the one awaiting etcd's `created` reply;
 * - `live`: etcd knows it by a watch ID on this stream and sends its events;
 * - `paused`: its reader fell behind and its buffer passed the high-water mark, so it was
 *   canceled on etcd; it goes back to `queued` once the reader has drained the buffer below the
 *   low-water mark (half the limits), and is re-created from where it stopped;
 * - `ended`: `break`/`return()`, its signal, `client.close()`, or an error; final.
 * A stream failure puts every `creating` and `live` watch back to `queued` on the next stream.
 *
 * Where to resume is a position, not just a revision: `resume` is the revision of the next
 * event wanted and `skip` how many events of that revision are already queued. Events of one
 * revision are replayed by etcd in the same order (by sub-revision, through the same filters), so
 * a watch paused or cut off in the middle of a large revision (one transaction or range delete,
 * perhaps in fragments) drops exactly the first `skip` of them when it is re-created.
 */
import { EtcdError } from "../errors.js";
import type { CallOptions } from "../options.js";
import type { WatchCreateRequest } from "./gen/etcdserverpb.js";
import type { KeyValue, ResponseHeader } from "./types.js";

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

/**
 * Why a watch ended: `returned` (the loop broke out, or `return()` was called), `aborted` (the
 * watch's own `signal`, with its reason), `client-closed` (`close()` of the client), `destroyed`
 * (`destroy(reason)` of the client: the iterator throws the reason), or `error` (the iterator
 * threw it: COMPACTED, PERMISSION_DENIED, WATCH_CANCELED …).
 */
export type V3WatchEnd =
  | {
      /** The reader stopped it (`break` or `return()`). */
      readonly kind: "returned";
    }
  | {
      /** The watch's own signal aborted it. */
      readonly kind: "aborted";
      /** The signal's reason, as given. */
      readonly reason: unknown;
    }
  | {
      /** The client was closed gracefully: the iterator finishes without throwing. */
      readonly kind: "client-closed";
    }
  | {
      /** The client was destroyed: queued events are dropped and the iterator throws `reason`. */
      readonly kind: "destroyed";
      /** destroy()'s reason, as given (a CLIENT_DESTROYED EtcdError when none was). */
      readonly reason: unknown;
    }
  | {
      /** It failed: COMPACTED, a permission refused, or the watch canceled by etcd. */
      readonly kind: "error";
      /** The failure the iterator threw. */
      readonly error: Error;
    };

/** A watch: an async iterator of events, with its creation, its end and its buffer observable. */
export interface V3Watch extends AsyncIterableIterator<V3WatchEvent> {
  /** Ends the watch at once (`break` calls it): queued events are dropped, nothing is thrown; `endReason` says "returned". */
  return(): Promise<IteratorResult<V3WatchEvent>>;
  /**
   * Resolves once etcd has created the watch, with the first revision it reports (its start
   * revision, or for a watch created "now" the store's revision + 1): a write made after this
   * resolves is certainly seen. Rejects (with the end's error, the signal's reason, or
   * CLIENT_CLOSED / WATCH_CANCELED) if the watch ends first; an unobserved rejection is harmless.
   */
  readonly created: Promise<bigint>;
  /** Resolves (never rejects) with why the watch ended, once it has; the iterator may still hold queued events. */
  readonly ended: Promise<V3WatchEnd>;
  /** Why the watch ended, or undefined while it runs. */
  readonly endReason: V3WatchEnd | undefined;
  /** Events received and not yet taken by the reader. */
  readonly buffered: number;
  /** How many times this watch's buffer passed its limit, so that it was canceled on etcd and later re-created (nothing is lost). */
  readonly overflows: number;
  /**
   * Asks etcd how far the watch stream has got: resolves with a revision such that every event of
   * this watch up to it has been received (some may still be buffered). etcd answers once the
   * stream's watches have caught up. etcd before 3.4.24 and 3.5.8 may answer ahead of events it
   * has yet to send (etcd issue 15220). Rejects with TIMEOUT after `timeout` (default
   * `requestTimeout`), with the signal's reason, or WATCH_CANCELED when the watch ends first.
   */
  requestProgress(options?: CallOptions): Promise<bigint>;
}

/** Where a watch is in its life; see the module comment. */
export type WatcherState = "queued" | "creating" | "live" | "paused" | "ended";

/** What a watch needs from the stream it lives on. */
export interface WatchHost {
  /** The watch ended: cancel it on etcd and forget it. */
  release(watcher: Watcher): void;
  /** The watch's buffer passed its limit: cancel it on etcd (it is paused) and tell the client. */
  pause(watcher: Watcher): void;
  /** A paused watch was drained: create it again. */
  requeue(watcher: Watcher): void;
  /** Send a progress request on the stream, if one is open. */
  askProgress(): void;
  /** The default deadline of a progress request, in ms. */
  readonly requestTimeout: number;
}

/** A watch's buffer limits: past either, it is paused. */
export interface WatchLimits {
  readonly events: number;
  readonly bytes: number;
}

interface Waiter {
  resolve(result: IteratorResult<V3WatchEvent>): void;
  reject(error: unknown): void;
}

interface ProgressWaiter {
  resolve(revision: bigint): void;
  reject(error: unknown): void;
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });
/** Bytes counted per event beyond its keys and values: the objects around them. */
const EVENT_OVERHEAD = 160;

/** One watch as its caller iterates it; also its per-watch state on the stream (kept small: 10,000 watches per client are routine). */
export class Watcher implements V3Watch {
  /** The create request, sent with `startRevision: resume` on every stream. */
  readonly request: WatchCreateRequest;
  /** See `V3Watch.created`. */
  readonly created: Promise<bigint>;
  /** See `V3Watch.ended`. */
  readonly ended: Promise<V3WatchEnd>;
  /** Where the watch is in its life. */
  state: WatcherState = "queued";
  /** The revision of the next event wanted; 0n until a "now" watch is first created. */
  resume: bigint;
  /** How many events of revision `resume` are already queued. */
  skip = 0;
  /** The server's ID on the current stream, or NO_ID. */
  id = -1n;
  /** An auth cancel already caused one token refresh; a second one is final. */
  authRetried = false;
  #overflows = 0;
  #skipLeft = 0;
  #isCreated = false;
  #end: V3WatchEnd | undefined;
  readonly #host: WatchHost;
  readonly #limits: WatchLimits;
  readonly #onProgress: ((revision: bigint) => void) | undefined;
  #queue: (V3WatchEvent | bigint)[] = [];
  #head = 0;
  #bytes = 0;
  #waiters: Waiter[] | undefined;
  #progressWaiters: ProgressWaiter[] | undefined;
  /** What the iterator throws once its queue is empty (an Error, or a destroy reason as given). */
  #failure: { readonly error: unknown } | undefined;
  #resolveCreated!: (revision: bigint) => void;
  #rejectCreated!: (error: unknown) => void;
  #resolveEnded!: (end: V3WatchEnd) => void;

  /** A watch on `host`, created from `resume` (0n: now), paused past `limits`. */
  constructor(host: WatchHost, request: WatchCreateRequest, resume: bigint, limits: WatchLimits, onProgress: ((revision: bigint) => void) | undefined) {
    this.#host = host;
    this.request = request;
    this.resume = resume;
    this.#limits = limits;
    this.#onProgress = onProgress;
    this.created = new Promise((resolve, reject) => {
      this.#resolveCreated = resolve;
      this.#rejectCreated = reject;
    });
    this.created.catch(() => undefined);
    this.ended = new Promise((resolve) => (this.#resolveEnded = resolve));
  }

  /** See `V3Watch.endReason`. */
  get endReason(): V3WatchEnd | undefined {
    return this.#end;
  }

  /** See `V3Watch.buffered`. */
  get buffered(): number {
    return this.#queue.length - this.#head;
  }

  /** See `V3Watch.overflows`. */
  get overflows(): number {
    return this.#overflows;
  }

  /** The watch is its own iterator. */
  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The next event, in revision order: queued ones first, then the next to arrive; done once the watch has ended. */
  next(): Promise<IteratorResult<V3WatchEvent>> {
    while (this.#head < this.#queue.length) {
      const item = this.#take();
      if (typeof item !== "bigint") return Promise.resolve({ done: false, value: item });
      this.#progress(item);
    }
    if (this.#failure !== undefined) {
      const { error } = this.#failure;
      this.#failure = undefined;
      return rejected(error);
    }
    if (this.state === "ended") return Promise.resolve(DONE);
    return new Promise((resolve, reject) => (this.#waiters ??= []).push({ resolve, reject }));
  }

  /** Ends the watch at once (`break` calls it); queued events are dropped, nothing is thrown. */
  return(): Promise<IteratorResult<V3WatchEvent>> {
    this.drop({ kind: "returned" });
    return Promise.resolve(DONE);
  }

  /** Ends the watch at once, dropping what is queued (`return()`, or its signal). */
  drop(end: V3WatchEnd): void {
    this.#queue = [];
    this.#head = 0;
    this.#bytes = 0;
    this.#failure = undefined;
    this.finish(end);
  }

  /** See `V3Watch.requestProgress`. */
  async requestProgress(options?: CallOptions): Promise<bigint> {
    if (this.state === "ended") throw this.#endedError();
    const signal = options?.signal;
    signal?.throwIfAborted();
    const ms = options?.timeout ?? this.#host.requestTimeout;
    const outcome = await new Promise<{ readonly revision: bigint } | { readonly error: unknown }>((resolve) => {
      const waiter: ProgressWaiter = {
        resolve: (revision) => {
          settle();
          resolve({ revision });
        },
        reject: (error) => {
          settle();
          resolve({ error });
        },
      };
      const onAbort = (): void => {
        waiter.reject(signal?.reason);
      };
      const timer = setTimeout(() => {
        waiter.reject(new EtcdError("TIMEOUT", `etcd did not answer a watch progress request within ${ms} ms`));
      }, ms);
      const settle = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        const list = this.#progressWaiters ?? [];
        const i = list.indexOf(waiter);
        if (i >= 0) list.splice(i, 1);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      (this.#progressWaiters ??= []).push(waiter);
      if (this.state === "live") this.#host.askProgress();
    });
    if ("error" in outcome) throw outcome.error;
    return outcome.revision;
  }

  /** True while progress requests of this watch await an answer. */
  get wantsProgress(): boolean {
    return (this.#progressWaiters?.length ?? 0) > 0;
  }

  /** etcd answered a progress request of the stream with `revision`, while this watch was live on it. */
  progressAnswered(revision: bigint): void {
    const waiters = this.#progressWaiters;
    this.#progressWaiters = undefined;
    for (const waiter of waiters ?? []) waiter.resolve(revision);
  }

  /** The create request is being sent: returns the revision to create from. */
  startCreate(): bigint {
    this.state = "creating";
    this.#skipLeft = this.skip;
    return this.resume;
  }

  /** etcd created the watch with `id`; the first creation resolves `created`. */
  onCreated(id: bigint): void {
    this.id = id;
    this.state = "live";
    this.authRetried = false;
    if (!this.#isCreated) {
      this.#isCreated = true;
      this.#resolveCreated(this.resume);
    }
  }

  /** Whether an event at `revision` is new to this watch (not one it has already queued). */
  isNew(revision: bigint): boolean {
    if (revision < this.resume) return false;
    if (revision === this.resume && this.#skipLeft > 0) {
      this.#skipLeft--;
      return false;
    }
    return true;
  }

  /** Queues a new event; false once the watch takes no more from this reply (it was paused, or it ended). */
  offer(event: V3WatchEvent): boolean {
    const revision = event.kv.modRevision;
    if (revision === this.resume) {
      this.skip++;
    } else {
      this.resume = revision;
      this.skip = 1;
    }
    this.#skipLeft = 0;
    this.push(event);
    if (this.state === "live" && this.#overLimit(1)) {
      this.#overflows++;
      this.#host.pause(this);
      this.state = "paused";
    }
    return this.state === "live";
  }

  /** The reply that carried the last events ended: their last revision is whole, so resume after it. */
  revisionComplete(): void {
    if (this.skip === 0) return;
    this.resume += 1n;
    this.skip = 0;
  }

  /** Hands an event or a progress revision to the caller, directly if it is waiting. */
  push(item: V3WatchEvent | bigint): void {
    if (this.state === "ended") return;
    const waiter = this.#waiters?.[0];
    if (waiter === undefined || this.#head < this.#queue.length) {
      if (typeof item === "bigint" && this.#onProgress === undefined) return;
      this.#queue.push(item);
      if (typeof item !== "bigint") this.#bytes += eventBytes(item);
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
   * Ends the watch: with an error, the caller gets the events already queued and then the error;
   * otherwise it finishes. Returns false if it had already ended.
   */
  finish(end: V3WatchEnd): boolean {
    if (this.state === "ended") return false;
    this.state = "ended";
    this.#end = end;
    this.#host.release(this);
    if (end.kind === "error") this.#failure = { error: end.error };
    else if (end.kind === "destroyed") this.#failure = { error: end.reason };
    this.#resolveEnded(end);
    if (!this.#isCreated) this.#rejectCreated(this.#endedError());
    const progress = this.#progressWaiters ?? [];
    this.#progressWaiters = undefined;
    for (const waiter of progress) waiter.reject(this.#endedError());
    const waiters = this.#waiters ?? [];
    this.#waiters = undefined;
    for (const waiter of waiters) {
      if (this.#failure === undefined) {
        waiter.resolve(DONE);
      } else {
        waiter.reject(this.#failure.error);
        this.#failure = undefined;
      }
    }
    return true;
  }

  #endedError(): unknown {
    const end = this.#end;
    if (end?.kind === "error") return end.error;
    if (end?.kind === "aborted" || end?.kind === "destroyed") return end.reason;
    if (end?.kind === "client-closed") return new EtcdError("CLIENT_CLOSED", "the client is closed");
    return new EtcdError("WATCH_CANCELED", "the watch was ended by its caller");
  }

  #overLimit(fraction: number): boolean {
    return this.buffered > this.#limits.events * fraction || this.#bytes > this.#limits.bytes * fraction;
  }

  #take(): V3WatchEvent | bigint {
    const item = this.#queue[this.#head] as V3WatchEvent | bigint;
    this.#head++;
    if (typeof item !== "bigint") this.#bytes -= eventBytes(item);
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    // A paused watch is re-created once its reader has taken it below the low-water mark.
    if (this.state === "paused" && !this.#overLimit(0.5)) {
      this.state = "queued";
      this.#host.requeue(this);
    }
    return item;
  }

  #progress(revision: bigint): void {
    try {
      this.#onProgress?.(revision);
    } catch (error) {
      const e = error instanceof Error ? error : new EtcdError("INVALID_ARGUMENT", "onProgress threw a value that is not an Error", { cause: error });
      this.finish({ kind: "error", error: e });
    }
  }
}

/** A promise rejected with `error` as given: a destroy reason need not be an Error. */
// eslint-disable-next-line @typescript-eslint/require-await -- async so that the throw becomes the rejection
async function rejected(error: unknown): Promise<never> {
  throw error;
}

/** What an event costs the buffer: its keys and values, and the objects around them. */
function eventBytes(event: V3WatchEvent): number {
  const prev = event.prevKv;
  return event.kv.key.length + event.kv.value.length + (prev === undefined ? 0 : prev.key.length + prev.value.length) + EVENT_OVERHEAD;
}
