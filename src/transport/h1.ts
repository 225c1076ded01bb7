/**
 * HTTP/1.1 for the v2 API: a connection pool per member, one request per connection at a time.
 *
 * Written for etcd-ts rather than taken from undici because undici's per-request cost was most
 * of the client's (docs/performance.md has the measurement: over a raw socket the same requests
 * cost 14–30 µs of CPU each, through undici's Pool 25–54). What etcd needs is small: requests
 * whose whole head and body leave in one socket write, and replies framed by Content-Length,
 * chunked transfer coding, or the end of the connection. No pipelining: etcd's Go server answers
 * a connection's requests one after another, so pipelining only adds head-of-line blocking.
 *
 * A request is "written" from the moment its bytes are handed to a socket; a failure before that
 * (refused, dial timeout, TLS) proves it unsent, after it the server may have acted on it.
 * Parsing and the request checks are in h1-parse.ts, free of sockets so they can be fuzzed.
 */
import type net from "node:net";
import { listen, unlisten } from "../abort-slot.js";
import { DEFAULTS } from "../options.js";
import { dial, isTls, type DialOptions } from "./dial.js";
import { H1ReplyParser, requestProblem, type H1Reply, type H1Step } from "./h1-parse.js";

export type { H1Reply } from "./h1-parse.js";

/** How recent a reply must be for a burst to open connections past `connections`, and how long a burst connection may sit idle. */
const BURST_WINDOW_MS = 1000;

/** One request; `headers` holds extra header lines, each ending in CRLF. */
export interface H1Request {
  readonly method: string;
  /** Path and query, already encoded. */
  readonly path: string;
  readonly headers: string;
  readonly body: string | undefined;
}

/** A failed exchange. `written` is false only when no byte of the request reached a socket. */
export class H1Error extends Error {
  /**
   * A Node socket error code (ECONNREFUSED, ...) or one of ours (CONNECT_TIMEOUT, HTTP_PARSE,
   * RESPONSE_TOO_LARGE, INVALID_REQUEST, PENDING_LIMIT, SOCKET_CLOSED, ABORTED, CLOSED).
   */
  readonly code: string;
  /** Whether the request had been handed to a socket. */
  readonly written: boolean;

  /** Creates the error. */
  constructor(message: string, code: string, written: boolean, options?: ErrorOptions) {
    super(message, options);
    this.name = "H1Error";
    this.code = code;
    this.written = written;
  }
}

/** How a pool connects and how many connections it may keep. */
export interface H1PoolOptions extends DialOptions {
  /** How long a connection may take to open (TCP and TLS), in ms. */
  readonly dialTimeout: number;
  /** Connections opened whenever requests wait; 0 for no limit (long polls hold one each). */
  readonly connections: number;
  /**
   * A burst may open more, up to this many, but only while the member answers (a reply within
   * the last second); those above `connections` close after a second idle. Default: `connections`.
   */
  readonly maxConnections?: number | undefined;
  /** The largest reply body accepted; past it the request fails RESPONSE_TOO_LARGE and its connection is closed. */
  readonly maxResponseBytes: number;
  /** Requests that may wait for a connection (DEFAULTS.maxPendingRequests); more are refused PENDING_LIMIT, unsent. */
  readonly maxPending?: number | undefined;
}

/** One request from the moment it is asked for until it settles. */
class Exchange {
  written = false;
  connection: Connection | undefined;
  settled = false;
  readonly onAbort: () => void;

  constructor(
    readonly pool: H1Pool,
    readonly request: H1Request,
    readonly head: boolean,
    readonly signal: AbortSignal,
    readonly resolve: (reply: H1Reply) => void,
    readonly reject: (error: unknown) => void,
  ) {
    this.onAbort = () => {
      pool.abandon(this);
    };
  }

  succeed(reply: H1Reply): void {
    if (this.settled) return;
    this.settled = true;
    unlisten(this.signal, this.onAbort);
    this.resolve(reply);
  }

  fail(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    unlisten(this.signal, this.onAbort);
    this.reject(error);
  }
}

/** The connections to one member. */
export class H1Pool {
  private readonly url: URL;
  private readonly hostHeader: string;
  private readonly options: H1PoolOptions;
  private readonly idle: Connection[] = [];
  private readonly queue: Exchange[] = [];
  /** Every connection open or opening, busy or idle. */
  private readonly all = new Set<Connection>();
  /** Connections open or opening. */
  private size = 0;
  private dialing = 0;
  private closed = false;
  private readonly maxPending: number;
  private readonly maxConnections: number;
  /** When the last reply arrived (performance.now()), for the burst rule. */
  private lastReply = Number.NEGATIVE_INFINITY;
  /** Closes burst connections that stayed idle; set while the pool holds more than `connections`. */
  private sweeper: NodeJS.Timeout | undefined;

  /** A pool for `endpoint` (an http or https URL); nothing is opened before the first request. */
  constructor(endpoint: string, options: H1PoolOptions) {
    this.url = new URL(endpoint);
    this.hostHeader = this.url.host;
    this.options = options;
    this.maxPending = options.maxPending ?? DEFAULTS.maxPendingRequests;
    this.maxConnections = options.connections === 0 ? 0 : Math.max(options.connections, options.maxConnections ?? 0);
  }

  /**
   * Sends `request` and reads the whole reply. Rejects with `H1Error`; when `signal` aborts, with
   * code ABORTED (its `written` says whether the request had left) and the signal's reason as cause.
   */
  request(request: H1Request, signal: AbortSignal): Promise<H1Reply> {
    return new Promise((resolve, reject) => {
      const exchange = new Exchange(this, request, request.method === "HEAD", signal, resolve, reject);
      if (signal.aborted) {
        exchange.fail(new H1Error("aborted before it was sent", "ABORTED", false, { cause: signal.reason }));
        return;
      }
      if (this.closed) {
        exchange.fail(new H1Error("the connection pool is closed", "CLOSED", false));
        return;
      }
      const problem = requestProblem(request.method, request.path, request.headers);
      if (problem !== undefined) {
        exchange.fail(new H1Error(`refused before sending: ${problem}`, "INVALID_REQUEST", false));
        return;
      }
      listen(signal, exchange.onAbort);
      const connection = this.idle.pop();
      if (connection !== undefined) connection.send(exchange);
      else if (this.queue.length >= this.maxPending) {
        // Only deadlines bounded the queue before: a member that stops answering would hold every request made meanwhile.
        exchange.fail(new H1Error(`${this.queue.length} requests already wait for a connection to ${this.url.origin} (maxPendingRequests)`, "PENDING_LIMIT", false));
      } else {
        this.queue.push(exchange);
        this.grow();
      }
    });
  }

  /** The request's bytes: head and body in one string, so they leave in one write. */
  serialize(request: H1Request): string {
    let text = `${request.method} ${request.path} HTTP/1.1\r\nhost: ${this.hostHeader}\r\n${request.headers}`;
    const body = request.body;
    if (body !== undefined) text += `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    else text += request.method === "PUT" || request.method === "POST" ? "content-length: 0\r\n\r\n" : "\r\n";
    return text;
  }

  /** The caller gave up: a queued request leaves the queue unsent; a written one takes its connection down. */
  abandon(exchange: Exchange): void {
    const reason: unknown = exchange.signal.reason;
    const connection = exchange.connection;
    if (connection === undefined) {
      const i = this.queue.indexOf(exchange);
      if (i >= 0) this.queue.splice(i, 1);
    }
    exchange.fail(new H1Error(exchange.written ? "aborted after it was sent" : "aborted before it was sent", "ABORTED", exchange.written, { cause: reason }));
    // HTTP/1.1 has no way to cancel one request but to close its connection.
    connection?.destroy(undefined);
  }

  /**
   * Opens another connection when requests wait for one and the limits allow: freely up to
   * `connections`; beyond it, up to `maxConnections`, only while the member answers, so that a
   * member that stopped answering a second ago gets no more sockets while a busy one gets one
   * per request in flight (as Go's client does: at 256 in flight a cap of 64 ran v2 at 0.4-0.65x of Go).
   */
  private grow(): void {
    const { connections } = this.options;
    if (this.dialing >= this.queue.length) return;
    if (connections > 0 && this.size >= connections) {
      if (this.size >= this.maxConnections || performance.now() - this.lastReply > BURST_WINDOW_MS) return;
      this.sweeper ??= setInterval(() => {
        this.sweep();
      }, BURST_WINDOW_MS).unref();
    }
    this.size++;
    this.dialing++;
    this.all.add(new Connection(this, dial(this.url, this.options, "http/1.1"), this.options));
  }

  /** Closes connections above `connections` that have sat idle since before the last sweep. */
  private sweep(): void {
    const limit = this.options.connections;
    const stale = performance.now() - BURST_WINDOW_MS;
    // The idle list is a stack: its bottom holds the connections unused the longest.
    while (this.size > limit && this.idle.length > 0 && (this.idle[0] as Connection).idleSince <= stale) (this.idle[0] as Connection).destroy(undefined);
    if (this.size <= limit) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  /** A reply arrived: the member answers, so a burst may grow the pool. */
  answered(): void {
    this.lastReply = performance.now();
  }

  /** A connection finished opening. */
  opened(connection: Connection): void {
    this.dialing--;
    this.free(connection);
  }

  /** A connection is free: it takes the oldest waiting request, or waits unreferenced. */
  free(connection: Connection): void {
    if (connection.socket.writableNeedDrain) {
      // The server answered before reading all of a large request: write nothing more until it has.
      connection.socket.once("drain", () => {
        if (!connection.dead) this.free(connection);
      });
      return;
    }
    const next = this.queue.shift();
    if (next !== undefined) {
      connection.send(next);
      if (this.queue.length > 0) this.grow();
      return;
    }
    if (this.closed) {
      connection.destroy(undefined);
      return;
    }
    // An idle connection must not keep the process alive, as an idle undici socket does not.
    connection.socket.unref();
    if (this.sweeper !== undefined) connection.idleSince = performance.now();
    this.idle.push(connection);
  }

  /**
   * A connection is gone. One that never opened takes waiting requests with it: all of them when
   * nothing else could serve them (a member that refuses or times out fails its calls at once),
   * otherwise the oldest, so every failed dial is reported to someone.
   */
  gone(connection: Connection, opened: boolean, error: H1Error | undefined): void {
    this.size--;
    this.all.delete(connection);
    const i = this.idle.indexOf(connection);
    if (i >= 0) this.idle.splice(i, 1);
    if (opened) {
      // A request still waiting may need a new connection now.
      if (this.queue.length > 0) this.grow();
      return;
    }
    this.dialing--;
    const failure = error ?? new H1Error(`${this.url.origin}: connection closed while opening`, "SOCKET_CLOSED", false);
    const alone = this.size === 0;
    for (const exchange of alone ? this.queue.splice(0) : this.queue.splice(0, 1)) exchange.fail(failure);
    if (this.queue.length > 0) this.grow();
  }

  /** Destroys every connection; waiting requests fail unsent. */
  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    for (const exchange of this.queue.splice(0)) exchange.fail(new H1Error("the connection pool is closed", "CLOSED", false));
    this.idle.length = 0;
    for (const connection of [...this.all]) connection.destroy(undefined);
  }
}

/** One connection: writes a request, parses its reply, goes back to the pool. */
class Connection {
  readonly socket: net.Socket;
  private readonly pool: H1Pool;
  private readonly parser: H1ReplyParser;
  private opened = false;
  private dialTimer: NodeJS.Timeout | undefined;
  private current: Exchange | undefined;
  /** Set once the connection is ended; it takes nothing more. */
  dead = false;
  /** When it last went idle (kept only while the pool has burst connections to shed). */
  idleSince = 0;

  constructor(pool: H1Pool, socket: net.Socket, options: H1PoolOptions) {
    this.pool = pool;
    this.socket = socket;
    this.parser = new H1ReplyParser(options.maxResponseBytes);
    const dialTimeout = options.dialTimeout;
    this.dialTimer = setTimeout(() => {
      this.destroy(new H1Error(`no connection within ${dialTimeout} ms`, "CONNECT_TIMEOUT", false));
    }, dialTimeout);
    this.dialTimer.unref();
    socket.once(isTls(socket) ? "secureConnect" : "connect", () => {
      clearTimeout(this.dialTimer);
      this.dialTimer = undefined;
      this.opened = true;
      pool.opened(this);
    });
    socket.on("data", (data: Buffer) => {
      this.onData(data);
    });
    socket.on("end", () => {
      this.onEnd();
    });
    socket.on("error", (error: Error & { code?: string }) => {
      this.destroy(new H1Error(error.message, error.code ?? "SOCKET_ERROR", this.current?.written ?? false, { cause: error }));
    });
    socket.on("close", () => {
      this.destroy(undefined);
    });
  }

  /** Writes the exchange's request. */
  send(exchange: Exchange): void {
    this.current = exchange;
    exchange.connection = this;
    this.socket.ref();
    this.parser.expect(exchange.head);
    const text = this.pool.serialize(exchange.request);
    exchange.written = true;
    // Etcd's requests are ASCII but for the odd JSON body (auth): latin1 skips UTF-8 encoding.
    this.socket.write(text, text.length === Buffer.byteLength(text) ? "latin1" : "utf8");
  }

  /**
   * Ends the connection. `error` (or, without one, "closed before the reply was complete") fails
   * the request in flight; a connection that never opened reports it to the pool instead.
   */
  destroy(error: H1Error | undefined): void {
    if (this.dead) return;
    this.dead = true;
    clearTimeout(this.dialTimer);
    this.socket.destroy();
    const exchange = this.current;
    this.current = undefined;
    if (exchange !== undefined) {
      exchange.connection = undefined;
      exchange.fail(error ?? new H1Error("the connection closed before the reply was complete", "SOCKET_CLOSED", exchange.written));
    }
    this.pool.gone(this, this.opened, error);
  }

  private onEnd(): void {
    // A reply framed by the end of the connection is complete now; anything else was cut off.
    if (this.current !== undefined && this.parser.active) {
      const step = this.parser.end();
      if (step.kind === "reply") this.deliver(step);
    }
    this.destroy(undefined);
  }

  private onData(data: Buffer): void {
    if (this.current === undefined) {
      // Nothing was asked: a server speaking out of turn (a timeout notice) is not to be trusted further.
      this.destroy(undefined);
      return;
    }
    const step = this.parser.push(data);
    if (step.kind === "more") return;
    if (step.kind === "error") {
      this.destroy(new H1Error(step.error.message, step.error.code, this.current.written));
      return;
    }
    this.deliver(step);
    // Bytes after the reply, with nothing asked, mean a server not to be reused.
    if (step.reusable && step.used === data.length) this.pool.free(this);
    else this.destroy(undefined);
  }

  /** The reply is complete: the caller hears; whoever read the last byte frees or ends the connection. */
  private deliver(step: H1Step & { kind: "reply" }): void {
    const exchange = this.current as Exchange;
    this.current = undefined;
    exchange.connection = undefined;
    this.pool.answered();
    exchange.succeed(step.reply);
  }
}

