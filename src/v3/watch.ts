/**
 * The v3 watch: every watch of a client on ONE bidirectional gRPC Watch stream, run by the
 * stream supervisor (stream-supervisor.ts) as an endpoint-engine long poll, so that the
 * engine's health checks (hung, leaderless, isolated member) and member moves apply to it.
 *
 * States of the shared stream are the supervisor's (`idle | opening | open | backing-off |
 * closed`): the first watch starts it; `opening` fetches the token and opens the stream with
 * require-leader, queueing every watch but the paused for (re-)creation; `open` (a WatchStream,
 * watch-stream.ts) creates watches one at a time, each after the previous one's `created` reply
 * (etcd matches created replies to creates only by order), and checks an idle stream with a
 * progress request, leaving a member that does not answer; `backing-off` follows attempts that
 * made no progress; `closed` is `close()`. The stream ends when the last watch ends.
 * States of one watch are in watcher.ts: `queued → creating → live → (paused → queued …) → ended`.
 *
 * Slow readers: all watches share one stream, so HTTP/2 flow control cannot slow one watch
 * without stalling every other. Instead each watch buffers at most `maxBufferedEvents` events
 * and `maxBufferedBytes` bytes; past either it is canceled on etcd (`paused`, an onEvent
 * "slow-consumer" notice, `overflows` + 1) and re-created from where it stopped once its reader
 * has taken the buffer below half of both, so nothing is lost and nothing else waits.
 *
 * Each watch resumes from the position after the last event it queued (that event's revision,
 * minus the events of it already queued, or `modRevision + 1` once its reply is complete), or its
 * start revision, or, for a watch created "now", its created reply's revision + 1 — never from a
 * later header, whose revision is the store's current one and skips events still being replayed
 * (the etcd3 library's bug). Events at or before that position are dropped.
 */
import { EtcdError } from "../errors.js";
import { onAbort } from "../endpoints/shared-abort.js";
import { DEFAULTS } from "../options.js";
import { describe, invalid, rangeOf, toInt64 } from "./convert.js";
import type { WatchCreateRequest } from "./gen/etcdserverpb.js";
import type { V3Rpc } from "./rpc.js";
import { StreamSupervisor, type SupervisorState } from "./stream-supervisor.js";
import { FATAL, WatchStream } from "./watch-stream.js";
import { Watcher, type V3Watch, type WatchHost, type WatchLimits } from "./watcher.js";
import type { Bytes, RangeOptions } from "./types.js";

export type { V3Watch, V3WatchEnd, V3WatchEvent } from "./watcher.js";

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
  /** Ends the watch; the iterator then finishes without throwing (`endReason` says "aborted"). Any number of watches may share one signal. */
  readonly signal?: AbortSignal | undefined;
  /** Events buffered for a reader that falls behind before the watch is paused (default: the client's `watchMaxBufferedEvents`). */
  readonly maxBufferedEvents?: number | undefined;
  /** Bytes of keys and values buffered before the watch is paused (default: the client's `watchMaxBufferedBytes`). */
  readonly maxBufferedBytes?: number | undefined;
}

const BACKOFF_BASE_MS = 50;
const BACKOFF_CAP_MS = 1000;
const FILTERS: readonly (readonly number[])[] = [[], [0], [1], [0, 1]];

/** All watches of a client on one shared Watch stream, re-opened on another member when its member fails. */
export class WatchManager implements WatchHost {
  readonly #rpc: V3Rpc;
  readonly #watchers = new Set<Watcher>();
  readonly #supervisor: StreamSupervisor<WatchStream>;
  readonly #limits: WatchLimits;
  /** Unsubscribes each watch from its signal (one listener per signal, however many watches share it). */
  readonly #unsubscribe = new Map<Watcher, () => void>();
  #closed = false;

  /** Binds the client's rpc plumbing and its default buffer limits; nothing is sent until the first watch. */
  constructor(rpc: V3Rpc, limits: { readonly events?: number | undefined; readonly bytes?: number | undefined } = {}) {
    this.#rpc = rpc;
    this.#limits = { events: limits.events ?? DEFAULTS.watchMaxBufferedEvents, bytes: limits.bytes ?? DEFAULTS.watchMaxBufferedBytes };
    this.#supervisor = new StreamSupervisor<WatchStream>(rpc, {
      name: "watch",
      backoffBase: BACKOFF_BASE_MS,
      backoffCap: BACKOFF_CAP_MS,
      wanted: () => this.#watchers.size > 0 && !this.#closed,
      open: (endpoint, signal, metadata) => new WatchStream(rpc, endpoint, signal, metadata, this.#creatable(), { progressed: () => { this.#supervisor.progressed(); } }),
      gaveUp: (error) => this.#gaveUp(error),
    });
  }

  /** Where the shared watch stream is in its life (the supervisor's state). */
  get state(): SupervisorState {
    return this.#supervisor.state;
  }

  /** The default deadline of a progress request. */
  get requestTimeout(): number {
    return this.#rpc.engine.requestTimeout;
  }

  /** Starts a watch of `key` (or a prefix or range); it is created at once, before the first `next()`. */
  watch(key: Bytes, options: V3WatchOptions): V3Watch {
    if (this.#closed) throw new EtcdError("CLIENT_CLOSED", "the client is closed");
    const request = createRequest(key, options);
    const limits = {
      events: limit(options.maxBufferedEvents, "maxBufferedEvents") ?? this.#limits.events,
      bytes: limit(options.maxBufferedBytes, "maxBufferedBytes") ?? this.#limits.bytes,
    };
    const watcher = new Watcher(this, request, toInt64(options.startRevision, "startRevision"), limits, options.onProgress);
    const signal = options.signal;
    if (signal?.aborted === true) {
      watcher.finish({ kind: "aborted", reason: signal.reason });
      return watcher;
    }
    this.#watchers.add(watcher);
    if (signal !== undefined) {
      this.#unsubscribe.set(watcher, onAbort(signal, () => {
        watcher.drop({ kind: "aborted", reason: signal.reason });
      }));
    }
    const stream = this.#supervisor.stream;
    if (stream !== undefined) stream.enqueue(watcher);
    else this.#supervisor.start();
    return watcher;
  }

  /** Ends every watch (their iterators finish without throwing) and the stream. Idempotent. */
  close(): Promise<void> {
    return this.#end((watcher) => watcher.finish({ kind: "client-closed" }));
  }

  /**
   * Ends every watch at once for `destroy(reason)`: queued events are dropped and each iterator
   * throws `reason`, so a loop can tell a destroyed client from a closed one. Idempotent, and a
   * no-op for watches already ended by `close()`.
   */
  destroy(reason: unknown): Promise<void> {
    return this.#end((watcher) => {
      watcher.drop({ kind: "destroyed", reason });
    });
  }

  async #end(end: (watcher: Watcher) => void): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      const all = [...this.#watchers];
      for (const watcher of all) end(watcher);
      this.#watchers.clear();
    }
    await this.#supervisor.close();
  }

  /** @internal Forgets an ended watch: cancels it on the stream, and ends the stream when no watch remains. */
  release(watcher: Watcher): void {
    this.#unsubscribe.get(watcher)?.();
    this.#unsubscribe.delete(watcher);
    if (!this.#watchers.delete(watcher)) return;
    const stream = this.#supervisor.stream;
    if (this.#watchers.size === 0) stream?.end("idle");
    else stream?.cancel(watcher);
  }

  /** @internal A watch's reader fell behind: cancel it on etcd until drained, and say so through `onEvent`. */
  pause(watcher: Watcher): void {
    this.#supervisor.stream?.cancel(watcher);
    this.#rpc.engine.notify({
      type: "slow-consumer",
      key: watcher.request.key,
      buffered: watcher.buffered,
      overflows: watcher.overflows,
      resumeRevision: watcher.resume,
    });
  }

  /** @internal A paused watch was drained: create it again on the stream (or the next one). */
  requeue(watcher: Watcher): void {
    this.#supervisor.stream?.enqueue(watcher);
  }

  /** @internal Sends a progress request on the stream, if one is open. */
  askProgress(): void {
    this.#supervisor.stream?.requestProgress();
  }

  /** The watches to (re-)create on a new stream, oldest first: all but the paused. */
  #creatable(): Watcher[] {
    return [...this.#watchers].filter((w) => w.state !== "paused");
  }

  /** The engine gave up on every member: an error no member can cure ends every watch. */
  #gaveUp(error: unknown): boolean {
    if (error instanceof EtcdError && (error.memberFailure || !FATAL.has(error.code))) return false;
    const final = error instanceof Error ? error : new EtcdError("UNAVAILABLE", "the watch stream failed", { cause: error });
    for (const watcher of [...this.#watchers]) watcher.finish({ kind: "error", error: final });
    return true;
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


/** A buffer limit option: a positive integer, or undefined for the client's. */
function limit(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) throw invalid(`${name} must be a positive integer, got ${describe(value)}`);
  return value;
}
