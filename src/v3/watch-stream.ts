/**
 * One Watch stream on one member (a Session) and what arrives on it: creates sent one at a time,
 * replies routed to their watches by server ID, progress requests that tell a hung member from
 * an idle one, and cancels turned into typed errors. The shared state machine around it — which
 * member, when to re-open, every watch's resume revision — is WatchManager's, in watch.ts.
 */
import { V3_ERROR_MESSAGES, bareMessage } from "../codec/v3-errors.js";
import { EtcdError, type EtcdErrorCode } from "../errors.js";
import type { GrpcStream, Metadata } from "../transport/grpc.js";
import { header } from "./convert.js";
import { WatchRequest, WatchResponse } from "./gen/etcdserverpb.js";
import { METHODS } from "./methods.js";
import { decode, type V3Rpc } from "./rpc.js";
import type { Watcher, WatchManager } from "./watch.js";

/** What ended one stream: every watch left ("idle"), or the token must be refreshed ("restart"). */
export type SessionEnd = "idle" | "restart";

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

/** One Watch stream on one member, and the watches created on it. */
export class Session {
  readonly done: Promise<SessionEnd>;
  finished = false;
  readonly #rpc: V3Rpc;
  readonly #manager: WatchManager;
  readonly #endpoint: string;
  readonly #signal: AbortSignal;
  readonly #token: string | undefined;
  readonly #byId = new Map<bigint, Watcher>();
  readonly #timer: NodeJS.Timeout;
  readonly #onSettled: () => void;
  #stream: GrpcStream | undefined;
  #toCreate: Watcher[];
  #nextCreate = 0;
  #creating: Watcher | undefined;
  #lastHeard = performance.now();
  /** When the oldest unanswered create or progress request was sent, if one is. */
  #askedAt: number | undefined;
  #partial: WatchResponse | undefined;
  #resolve!: (end: SessionEnd) => void;
  #reject!: (error: unknown) => void;

  constructor(rpc: V3Rpc, manager: WatchManager, endpoint: string, signal: AbortSignal, metadata: Metadata, onSettled: () => void) {
    this.#rpc = rpc;
    this.#manager = manager;
    this.#endpoint = endpoint;
    this.#signal = signal;
    this.#token = metadata["token"];
    this.#onSettled = onSettled;
    this.done = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#toCreate = manager.watchers();
    for (const watcher of this.#toCreate) watcher.id = NO_ID;
    this.#timer = setInterval(() => {
      this.#tick();
    }, TICK_MS);
    this.#timer.unref();
    signal.addEventListener("abort", this.#onAbort, { once: true });
    try {
      this.#stream = rpc.transport.stream(endpoint, METHODS.watch, { metadata }, {
        onMessage: (message) => {
          this.#onMessage(message);
        },
        onClose: (error) => {
          this.#onClose(error);
        },
      });
    } catch (error) {
      this.#fail(error);
      return;
    }
    this.#createNext();
  }

  readonly #onAbort = (): void => {
    this.#fail(this.#signal.reason);
  };

  /** Queues a new watch for creation on this stream. */
  enqueue(watcher: Watcher): void {
    this.#toCreate.push(watcher);
    this.#createNext();
  }

  /** Cancels an ended watch on the server; one still being created is canceled when its created reply comes. */
  cancel(watcher: Watcher): void {
    const id = watcher.id;
    if (id === NO_ID || !this.#byId.delete(id)) return;
    watcher.id = NO_ID;
    this.#send(WatchRequest.encode({ requestUnion: { $case: "cancelRequest", value: { watchId: id } } }).finish());
  }

  /** Ends the stream without a failure. */
  end(end: SessionEnd): void {
    if (this.#settle()) this.#resolve(end);
  }

  #fail(error: unknown): void {
    if (this.#settle()) this.#reject(error);
  }

  #settle(): boolean {
    if (this.finished) return false;
    this.finished = true;
    clearInterval(this.#timer);
    this.#signal.removeEventListener("abort", this.#onAbort);
    this.#stream?.cancel();
    this.#onSettled();
    return true;
  }

  #send(message: Uint8Array): void {
    if (this.finished) return;
    try {
      this.#stream?.write(message);
    } catch (error) {
      this.#fail(new EtcdError("UNAVAILABLE", `${this.#endpoint}: writing to the watch stream failed: ${String(error)}`, {
        endpoint: this.#endpoint,
        delivery: "unknown",
        cause: error,
      }));
    }
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
      if (watcher.ended) continue;
      this.#creating = watcher;
      this.#askedAt ??= performance.now();
      const value = { ...watcher.request, startRevision: watcher.resume };
      this.#send(WatchRequest.encode({ requestUnion: { $case: "createRequest", value } }).finish());
    }
  }

  #tick(): void {
    const now = performance.now();
    if (this.#askedAt !== undefined) {
      if (now - this.#askedAt < HUNG_MS) return;
      const what = this.#creating === undefined ? "a progress request" : "a watch create request";
      this.#fail(new EtcdError("UNAVAILABLE", `${this.#endpoint} did not answer ${what} on the watch stream within ${HUNG_MS} ms`, {
        endpoint: this.#endpoint,
        delivery: "pending",
      }));
      return;
    }
    // etcd answers a progress request only when the stream has a watch, so an empty stream is not asked.
    if (now - this.#lastHeard >= IDLE_MS && this.#byId.size > 0) {
      this.#askedAt = now;
      this.#send(PROGRESS_REQUEST);
    }
  }

  #onClose(error: EtcdError | undefined): void {
    if (this.finished) return;
    const e = error ?? new EtcdError("UNAVAILABLE", `${this.#endpoint} ended the watch stream`, { endpoint: this.#endpoint, delivery: "unknown" });
    if (e.code === "INVALID_AUTH_TOKEN" && this.#rpc.tokens !== undefined) {
      this.#rpc.tokens.invalidate(this.#token);
      this.end("restart");
      return;
    }
    if (e.memberFailure || FATAL.has(e.code)) {
      this.#fail(e);
      return;
    }
    // Any other end of a watch stream (no leader, an internal error) says nothing about the
    // watches themselves: another member may serve them, so the engine is told to move.
    this.#fail(new EtcdError(e.code, e.message, { endpoint: this.#endpoint, status: e.status, serverMessage: e.serverMessage, delivery: "unknown", cause: e }));
  }

  #onMessage(message: Uint8Array): void {
    if (this.finished) return;
    this.#lastHeard = performance.now();
    this.#askedAt = this.#creating === undefined ? undefined : this.#lastHeard;
    let r: WatchResponse;
    try {
      r = decode(WatchResponse, message, this.#endpoint);
    } catch (error) {
      this.#fail(error);
      return;
    }
    // A response too large for one message comes in fragments, all but the last flagged.
    const partial = this.#partial;
    if (partial !== undefined && partial.watchId === r.watchId && !r.created && !r.canceled) {
      for (const event of r.events) partial.events.push(event);
      if (r.fragment) return;
      r = partial;
      this.#partial = undefined;
    } else if (r.fragment) {
      this.#partial = r;
      return;
    }
    this.#dispatch(r);
  }

  #dispatch(r: WatchResponse): void {
    if (r.created) {
      this.#onCreated(r);
      return;
    }
    // watchId -1 answers our progress request; hearing it was all that mattered.
    const watcher = this.#byId.get(r.watchId);
    if (watcher === undefined) return;
    if (r.canceled) {
      this.#byId.delete(r.watchId);
      watcher.id = NO_ID;
      this.#onCanceled(watcher, r);
    } else if (r.events.length === 0) {
      watcher.push(header(r.header).revision);
    } else {
      deliver(watcher, r);
    }
  }

  #onCreated(r: WatchResponse): void {
    const watcher = this.#creating;
    this.#creating = undefined;
    if (watcher === undefined) return;
    if (r.canceled) {
      this.#onCanceled(watcher, r);
    } else if (watcher.ended) {
      this.#send(WatchRequest.encode({ requestUnion: { $case: "cancelRequest", value: { watchId: r.watchId } } }).finish());
    } else {
      watcher.id = r.watchId;
      this.#byId.set(r.watchId, watcher);
      // etcd watches a "now" watch from its current revision + 1, which the created reply's header carries.
      if (watcher.resume === 0n) watcher.resume = header(r.header).revision + 1n;
      watcher.authRetried = false;
      this.#manager.progressed = true;
    }
    this.#createNext();
  }

  #onCanceled(watcher: Watcher, r: WatchResponse): void {
    if (watcher.ended) return;
    const endpoint = this.#endpoint;
    if (r.compactRevision > 0n) {
      watcher.settle(new EtcdError(
        "COMPACTED",
        `the watch needs revision ${watcher.resume}, but etcd has compacted its history up to revision ${r.compactRevision}: ` +
          `read the current state and watch from its revision + 1, or watch from ${r.compactRevision} on`,
        { endpoint, compactRevision: r.compactRevision, resumeIndex: Number(r.compactRevision) },
      ));
      return;
    }
    const reason = r.cancelReason;
    const code = cancelCode(reason);
    const tokens = this.#rpc.tokens;
    if ((code === "INVALID_AUTH_TOKEN" || code === "PERMISSION_DENIED") && tokens !== undefined && !watcher.authRetried) {
      // etcd 3.4 reports an expired token as "permission denied" too: one fresh token settles which it is.
      watcher.authRetried = true;
      tokens.invalidate(this.#token);
      this.end("restart");
      return;
    }
    const message = code === "WATCH_CANCELED" ? `etcd canceled the watch: ${reason || "no reason given"}` : `etcd refused the watch: ${reason}`;
    watcher.settle(new EtcdError(code, message, { endpoint, serverMessage: reason }));
  }
}

/** Queues a reply's events for its watch, dropping any at or below what the watch already received. */
function deliver(watcher: Watcher, r: WatchResponse): void {
  const h = header(r.header);
  // Events of one revision (one transaction) always come in one reply, so the floor is the reply's.
  const floor = watcher.resume;
  let last = -1n;
  for (const event of r.events) {
    const kv = event.kv;
    if (kv === undefined || kv.modRevision < floor) continue;
    last = kv.modRevision;
    watcher.push({ type: event.type === 1 ? "delete" : "put", kv, prevKv: event.prevKv, header: h });
  }
  if (last >= 0n) watcher.resume = last + 1n;
}


/** What a cancel reason means to us; the codec's table is the one place etcd's messages are matched. */
function cancelCode(reason: string): EtcdErrorCode {
  const code = V3_ERROR_MESSAGES.get(bareMessage(reason))?.code;
  return code === "INVALID_AUTH_TOKEN" || code === "PERMISSION_DENIED" ? code : "WATCH_CANCELED";
}
