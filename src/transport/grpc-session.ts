/**
 * One HTTP/2 session to one member. Its state is its connection's (`H2Connection.state`), named
 * for calls:
 * - `connecting` (`preface`): TCP (and TLS) under way, or the server's first SETTINGS not yet
 *   seen. Calls wait in a queue and are not handed to the session, so a session that never gets
 *   that far (refused, TLS failure, dial timeout, a frozen process) leaves them provably unsent;
 * - `ready` (`open`): calls start at once;
 * - `draining`: the server sent GOAWAY, or the connection spent its stream ids (rotation): no
 *   new calls; streams the server accepted finish. The transport opens a new session for new calls;
 * - `closed`: failed or done.
 * The connection's one `retired` event is the session's one way out of `connecting`/`ready`.
 *
 * It also runs the keepalive: while it has open streams and has heard nothing for `keepAlive`
 * ms, it PINGs, within the ping policy of etcd's grpc-go server (see `mayPing`), and a PING not
 * acknowledged within `keepAliveTimeout` ms destroys the session as hung.
 */
import { performance } from "node:perf_hooks";
import type { TlsOptions } from "../options.js";
import { dial, isTls } from "./dial.js";
import { H2Connection, H2Error, type H2ConnectionOptions, type H2State, type HeaderField } from "./h2/connection.js";
import { checkFields } from "./h2/hpack-encode.js";

/** How a session is dialled and kept alive. */
export interface SessionConfig {
  readonly dialTimeout: number;
  readonly keepAlive: number;
  readonly keepAliveTimeout: number;
  readonly tls: TlsOptions | undefined;
  /** The HTTP/2 connection's window and limits; `maxPendingStreams` also bounds the calls waiting here. */
  readonly h2: H2ConnectionOptions;
}

/** A call waiting for its session to become ready. */
export interface SessionWaiter {
  /** The session is ready: create the HTTP/2 stream now. */
  start(): void;
  /** The session failed before the call was handed to it. */
  fail(cause: unknown): void;
}

/** The session's state; see the file comment. */
export type SessionState = "connecting" | "ready" | "draining" | "closed";

const SESSION_STATE: Readonly<Record<H2State, SessionState>> = { preface: "connecting", open: "ready", draining: "draining", closed: "closed" };

// grpc-go's server counts a PING as a strike when it comes less than MinTime (etcd: 5 s) after
// the previous one and it has written no DATA or HEADERS since; three strikes and it sends GOAWAY
// too_many_pings. The margin covers delivery jitter between our clock and the server's.
const MIN_PING_INTERVAL_MS = 5_500;

/** One HTTP/2 session to one member, with its call queue, stream count and keepalive. */
export class GrpcSession {
  /** The HTTP/2 connection. */
  readonly h2: H2Connection;
  /** The member URL. */
  readonly endpoint: string;
  /** The request's :scheme. */
  readonly scheme: string;
  /** The request's :authority (host:port). */
  readonly authority: string;
  /** The session's own failure (refused, TLS, GOAWAY with an error, protocol error), if any. */
  failure: unknown;
  /** Set when a keepalive PING went unanswered: every stream on it may still run later. */
  hung = false;
  /** Set when the transport closed it: its calls fail as CLIENT_CLOSED. */
  closedByClient = false;
  /** Frames (HEADERS or DATA) received on any stream; bumped by calls, read by the keepalive. */
  reads = 0;
  private active = 0;
  private readonly headerFields = new Map<string, readonly HeaderField[]>();
  private waiting: SessionWaiter[] = [];
  private readonly config: SessionConfig;
  private readonly onGone: (session: GrpcSession) => void;
  private dialTimer: NodeJS.Timeout | undefined;
  private readonly ticker: NodeJS.Timeout;
  private readonly closed: Promise<void>;
  // Keepalive bookkeeping, in performance.now() ms.
  private lastHeard = performance.now();
  private readsSeen = 0;
  private pingAt = Number.NEGATIVE_INFINITY;
  private readsAtPing = -1;
  private pingTimer: NodeJS.Timeout | undefined;

  /** Dials `endpoint`; `onGone` is told once the session takes no new calls. */
  constructor(endpoint: string, config: SessionConfig, onGone: (session: GrpcSession) => void) {
    this.endpoint = endpoint;
    this.config = config;
    this.onGone = onGone;
    const url = new URL(endpoint);
    this.scheme = url.protocol === "https:" ? "https" : "http";
    this.authority = url.host;
    const socket = dial(url, config, "h2");
    socket.once("error", (error) => {
      this.fail(error);
    });
    if (isTls(socket)) {
      socket.once("secureConnect", () => {
        // A server that did not choose h2 would read our preface as garbage.
        if (socket.alpnProtocol !== "h2") this.fail(Object.assign(new Error(`${endpoint} did not negotiate HTTP/2 (ALPN)`), { code: "ERR_H2_ALPN" }));
      });
    }
    let closed!: () => void;
    this.closed = new Promise((resolve) => {
      closed = resolve;
    });
    this.h2 = new H2Connection(socket, config.h2, {
      ready: () => {
        this.onReady();
      },
      retired: (_reason, error) => {
        this.onRetired(error);
      },
      close: (error) => {
        this.failure ??= error;
        this.closeNow();
        closed();
      },
    });
    this.dialTimer = setTimeout(() => {
      this.fail(Object.assign(new Error(`no HTTP/2 connection within ${config.dialTimeout} ms`), { code: "ETIMEDOUT" }));
    }, config.dialTimeout);
    this.dialTimer.unref();
    this.ticker = setInterval(() => {
      this.tick();
    }, Math.max(25, Math.min(1_000, config.keepAlive / 4)));
    this.ticker.unref();
  }

  /** The request header fields every call to `path` starts with, built and checked once per method (the connection encodes them). */
  requestHeaders(path: string): readonly HeaderField[] {
    let fields = this.headerFields.get(path);
    if (fields === undefined) {
      fields = [
        [":method", "POST"],
        [":scheme", this.scheme],
        [":path", path],
        [":authority", this.authority],
        ["content-type", "application/grpc"],
        ["te", "trailers"],
        ["user-agent", "etcd-ts"],
      ];
      checkFields(fields);
      this.headerFields.set(path, fields);
    }
    return fields;
  }

  /** See the file comment: the connection's state, in the session's words. */
  get state(): SessionState {
    return SESSION_STATE[this.h2.state];
  }

  /** Streams above this id were refused by the server's GOAWAY and never ran; -1 before any GOAWAY. */
  get goawayLastStreamId(): number {
    return this.h2.goawayLastStreamId;
  }

  /** True while new calls may use it. */
  get usable(): boolean {
    return this.h2.takesStreams;
  }

  /** Counts a call and starts it now if the session is ready, else queues it until it is (or fails). */
  enter(waiter: SessionWaiter): void {
    this.acquire();
    const state = this.state;
    if (state === "ready") waiter.start();
    else if (state !== "connecting") waiter.fail(this.failure ?? new Error("HTTP/2 session closed"));
    else if (this.waiting.length >= this.config.h2.maxPendingStreams) {
      waiter.fail(new H2Error("ERR_H2_PENDING_LIMIT", `${this.waiting.length} calls already wait for ${this.endpoint} to connect (maxPendingStreams)`));
    } else this.waiting.push(waiter);
  }

  /** Takes an abandoned call out of the queue, if it is still there. */
  dequeue(waiter: SessionWaiter): void {
    const i = this.waiting.indexOf(waiter);
    if (i >= 0) this.waiting.splice(i, 1);
  }

  /** Counts a call; a session with calls keeps the process alive, an idle one does not. */
  private acquire(): void {
    if (this.active++ === 0) this.h2.ref();
  }

  /** Releases what `enter` counted; exactly once per call. */
  leave(): void {
    if (--this.active === 0) this.h2.unref();
  }

  /** Destroys the session at the client's request; resolves once it is closed. */
  shutdown(): Promise<void> {
    this.closedByClient = true;
    this.fail(new Error("the client is closed"));
    return this.closed;
  }

  private onReady(): void {
    clearTimeout(this.dialTimer);
    this.dialTimer = undefined;
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) w.start();
  }

  /** The connection's socket closed. */
  private closeNow(): void {
    clearInterval(this.ticker);
    clearTimeout(this.pingTimer);
    clearTimeout(this.dialTimer);
    this.failQueued(this.failure ?? new Error("HTTP/2 session closed"));
  }

  /** The connection takes no new streams (GOAWAY, rotation, failure): new calls go to a new session. */
  private onRetired(error: unknown): void {
    if (error !== undefined) this.failure ??= error;
    this.onGone(this);
    this.failQueued(this.failure ?? new Error("HTTP/2 session closed before it was ready"));
  }

  private fail(error: unknown): void {
    this.failure ??= error;
    this.h2.destroy(error);
  }

  private failQueued(error: unknown): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) w.fail(error);
  }

  private tick(): void {
    const now = performance.now();
    // Silence only counts while something waits for the server; an idle session owes us nothing.
    // A draining session is watched too: after a rotation a watch stream may live on it for days.
    const state = this.state;
    if (this.active === 0 || (state !== "ready" && state !== "draining") || this.reads !== this.readsSeen) {
      this.readsSeen = this.reads;
      this.lastHeard = now;
      return;
    }
    if (this.pingTimer === undefined && now - this.lastHeard >= this.config.keepAlive && this.mayPing(now)) this.ping(now);
  }

  /** grpc-go's policy (see MIN_PING_INTERVAL_MS): a PING soon after another is fine only if the server wrote since. */
  private mayPing(now: number): boolean {
    return now - this.pingAt >= MIN_PING_INTERVAL_MS || this.reads !== this.readsAtPing;
  }

  private ping(now: number): void {
    this.pingAt = now;
    this.readsAtPing = this.reads;
    const sent = this.h2.ping((error) => {
      clearTimeout(this.pingTimer);
      this.pingTimer = undefined;
      if (error === null) this.lastHeard = performance.now();
    });
    if (!sent) return;
    this.pingTimer = setTimeout(() => {
      this.pingTimer = undefined;
      this.hung = true;
      this.fail(new Error(`${this.endpoint} did not acknowledge a keepalive PING within ${this.config.keepAliveTimeout} ms`));
    }, this.config.keepAliveTimeout);
    this.pingTimer.unref();
  }
}
