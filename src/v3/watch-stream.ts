/**
 * One Watch stream on one member (a WatchStream) and what arrives on it: creates sent one at a
 * time, replies routed to their watches by server ID, fragments handed on as they arrive,
 * progress requests that tell a hung member from an idle one, and cancels turned into typed
 * errors. Opening, re-opening and classifying the stream's end are the supervisor's
 * (stream-supervisor.ts); which watches exist and their buffers are WatchManager's (watch.ts).
 */
import { V3_ERROR_MESSAGES, bareMessage } from "../codec/v3-errors.js";
import { EtcdError, type EtcdErrorCode } from "../errors.js";
import type { Metadata } from "../transport/grpc.js";
import { header } from "./convert.js";
import { WatchRequest, WatchResponse } from "./gen/etcdserverpb.js";
import { METHODS } from "./methods.js";
import { decode, type V3Rpc } from "./rpc.js";
import { SupervisedStream } from "./stream-supervisor.js";
import type { ResponseHeader } from "./types.js";
import type { Watcher } from "./watcher.js";

/** A watch without a server ID on the current stream. */
export const NO_ID = -1n;
/**
 * Nothing heard on a stream with live watches for this long: ask for progress. With HUNG_MS and
 * the tick, a member that hangs just after its last message is left within 0.8 + 0.1 + 1.5 s,
 * inside issue 8's 3 s with room for a loaded machine.
 */
const IDLE_MS = 800;
/** A create or progress request unanswered for this long: the member is hung; leave it. */
const HUNG_MS = 1500;
const TICK_MS = 100;
const PROGRESS_REQUEST = WatchRequest.encode({ requestUnion: { $case: "progressRequest", value: {} } }).finish();
/** Errors no other member or later attempt can cure: every watch ends with them. */
export const FATAL: ReadonlySet<EtcdErrorCode> = new Set(["AUTH_FAILED", "AUTH_NOT_ENABLED", "PERMISSION_DENIED", "INVALID_ARGUMENT", "CLIENT_CLOSED"]);

/** What a stream tells the manager of its watches. */
export interface WatchStreamOwner {
  /** A watch was created: the cluster works, so a later failure reconnects at once. */
  progressed(): void;
}

/** One Watch stream on one member, and the watches created on it. */
export class WatchStream extends SupervisedStream {
  readonly #owner: WatchStreamOwner;
  readonly #byId = new Map<bigint, Watcher>();
  readonly #timer: NodeJS.Timeout;
  #toCreate: Watcher[];
  #nextCreate = 0;
  #creating: Watcher | undefined;
  #lastHeard = performance.now();
  /** When the oldest unanswered create or progress request was sent, if one is. */
  #askedAt: number | undefined;
  /** The watch whose reply is arriving in fragments, if one is. */
  #fragmentOf: Watcher | undefined;

  /** Opens the stream and starts creating `watchers` (each put back to `queued`). */
  constructor(rpc: V3Rpc, endpoint: string, signal: AbortSignal, metadata: Metadata, watchers: Watcher[], owner: WatchStreamOwner) {
    super(rpc, endpoint, signal, metadata, "watch", FATAL);
    this.#owner = owner;
    this.#toCreate = watchers;
    for (const watcher of watchers) {
      watcher.id = NO_ID;
      watcher.state = "queued";
    }
    this.#timer = setInterval(() => {
      this.#tick();
    }, TICK_MS);
    this.#timer.unref();
    this.connect(METHODS.watch, metadata);
    this.#createNext();
  }

  /** Queues a watch for creation on this stream. */
  enqueue(watcher: Watcher): void {
    this.#toCreate.push(watcher);
    this.#createNext();
  }

  /** Cancels a watch on the server (ended or paused); one still being created is canceled when its created reply comes. */
  cancel(watcher: Watcher): void {
    const id = watcher.id;
    if (id === NO_ID || !this.#byId.delete(id)) return;
    watcher.id = NO_ID;
    if (this.#fragmentOf === watcher) this.#fragmentOf = undefined;
    this.write(WatchRequest.encode({ requestUnion: { $case: "cancelRequest", value: { watchId: id } } }).finish());
  }

  /** Sends a progress request (its answer resolves the live watches' `requestProgress`). */
  requestProgress(): void {
    if (this.finished || this.#byId.size === 0) return;
    this.#askedAt ??= performance.now();
    this.write(PROGRESS_REQUEST);
  }

  protected override settled(): void {
    clearInterval(this.#timer);
  }

  /** Sends the next create once the previous one is answered: etcd matches created replies to creates only by order. */
  #createNext(): void {
    while (this.#creating === undefined && !this.finished) {
      const watcher = this.#toCreate[this.#nextCreate];
      if (watcher === undefined) {
        this.#toCreate = [];
        this.#nextCreate = 0;
        return;
      }
      this.#nextCreate++;
      if (watcher.state !== "queued") continue;
      this.#creating = watcher;
      this.#askedAt ??= performance.now();
      const value = { ...watcher.request, startRevision: watcher.startCreate() };
      this.write(WatchRequest.encode({ requestUnion: { $case: "createRequest", value } }).finish());
    }
  }

  #tick(): void {
    const now = performance.now();
    if (this.#askedAt !== undefined) {
      if (now - this.#askedAt < HUNG_MS) return;
      const what = this.#creating === undefined ? "a progress request" : "a watch create request";
      this.fail(new EtcdError("UNAVAILABLE", `${this.endpoint} did not answer ${what} on the watch stream within ${HUNG_MS} ms`, {
        endpoint: this.endpoint,
        delivery: "pending",
      }));
      return;
    }
    // etcd answers a progress request only when the stream has a watch, so an empty stream is not asked.
    if (now - this.#lastHeard >= IDLE_MS && this.#byId.size > 0) this.requestProgress();
  }

  protected onMessage(message: Uint8Array): void {
    this.#lastHeard = performance.now();
    this.#askedAt = this.#creating === undefined ? undefined : this.#lastHeard;
    let r: WatchResponse;
    try {
      r = decode(WatchResponse, message, this.endpoint);
    } catch (error) {
      this.fail(error instanceof EtcdError ? error : new EtcdError("MALFORMED_RESPONSE", String(error), { endpoint: this.endpoint, delivery: "unknown" }));
      return;
    }
    if (r.created) {
      this.#onCreated(r);
      return;
    }
    const watcher = this.#byId.get(r.watchId);
    if (watcher === undefined) {
      // watchId -1 answers a progress request: every live watch has been sent all up to its revision.
      if (r.watchId === NO_ID && r.events.length === 0) this.#progressAnswered(header(r.header).revision);
      return;
    }
    if (r.canceled) {
      this.#byId.delete(r.watchId);
      watcher.id = NO_ID;
      this.#onCanceled(watcher, r);
    } else if (r.events.length === 0 && !r.fragment && this.#fragmentOf !== watcher) {
      watcher.push(header(r.header).revision);
    } else {
      // A reply too large for one message comes in fragments, all but the last flagged; each is
      // handed on as it comes, so no more than the watch's buffer is ever held for it.
      this.#fragmentOf = r.fragment ? watcher : undefined;
      deliver(watcher, r, header(r.header));
    }
  }

  #progressAnswered(revision: bigint): void {
    for (const watcher of this.#byId.values()) if (watcher.wantsProgress) watcher.progressAnswered(revision);
  }

  #onCreated(r: WatchResponse): void {
    const watcher = this.#creating;
    this.#creating = undefined;
    if (watcher === undefined) return;
    if (r.canceled) {
      this.#onCanceled(watcher, r);
    } else if (watcher.state !== "creating") {
      this.write(WatchRequest.encode({ requestUnion: { $case: "cancelRequest", value: { watchId: r.watchId } } }).finish());
    } else {
      this.#byId.set(r.watchId, watcher);
      // etcd watches a "now" watch from its current revision + 1, which the created reply's header carries.
      if (watcher.resume === 0n) watcher.resume = header(r.header).revision + 1n;
      watcher.onCreated(r.watchId);
      this.#owner.progressed();
      if (watcher.wantsProgress) this.requestProgress();
    }
    this.#createNext();
  }

  #onCanceled(watcher: Watcher, r: WatchResponse): void {
    if (watcher.state === "ended") return;
    const endpoint = this.endpoint;
    if (r.compactRevision > 0n) {
      const error = new EtcdError(
        "COMPACTED",
        `the watch needs revision ${watcher.resume}, but etcd has compacted its history up to revision ${r.compactRevision}: ` +
          `read the current state and watch from its revision + 1, or watch from ${r.compactRevision} on`,
        { endpoint, compactRevision: r.compactRevision, resumeIndex: Number(r.compactRevision) },
      );
      watcher.finish({ kind: "error", error });
      return;
    }
    const reason = r.cancelReason;
    const code = cancelCode(reason);
    if ((code === "INVALID_AUTH_TOKEN" || code === "PERMISSION_DENIED") && this.rpc.tokens !== undefined && !watcher.authRetried) {
      // etcd 3.4 reports an expired token as "permission denied" too: one fresh token settles which it is.
      watcher.authRetried = true;
      this.restart();
      return;
    }
    const message = code === "WATCH_CANCELED" ? `etcd canceled the watch: ${reason || "no reason given"}` : `etcd refused the watch: ${reason}`;
    watcher.finish({ kind: "error", error: new EtcdError(code, message, { endpoint, serverMessage: reason }) });
  }
}

/**
 * Queues a reply's events for its watch, dropping those it already has, until its buffer
 * overflows (it is then paused and re-created from the position of the last event it took).
 */
function deliver(watcher: Watcher, r: WatchResponse, h: ResponseHeader): void {
  for (const event of r.events) {
    const kv = event.kv;
    if (kv === undefined || !watcher.isNew(kv.modRevision)) continue;
    if (!watcher.offer({ type: event.type === 1 ? "delete" : "put", kv, prevKv: event.prevKv, header: h })) return;
  }
  // Events of one revision always come in one reply (its fragments included): the last is whole.
  if (!r.fragment) watcher.revisionComplete();
}

/** What a cancel reason means to us; the codec's table is the one place etcd's messages are matched. */
function cancelCode(reason: string): EtcdErrorCode {
  const code = V3_ERROR_MESSAGES.get(bareMessage(reason))?.code;
  return code === "INVALID_AUTH_TOKEN" || code === "PERMISSION_DENIED" ? code : "WATCH_CANCELED";
}
