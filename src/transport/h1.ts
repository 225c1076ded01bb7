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
 */
import type net from "node:net";
import tls from "node:tls";
import { dial, type DialOptions } from "./dial.js";

/** One request; `headers` holds extra header lines, each ending in CRLF. */
export interface H1Request {
  readonly method: string;
  /** Path and query, already encoded. */
  readonly path: string;
  readonly headers: string;
  readonly body: string | undefined;
}

/** A complete reply; header names are lower case, repeated headers become arrays. */
export interface H1Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** A failed exchange. `written` is false only when no byte of the request reached a socket. */
export class H1Error extends Error {
  /** A Node socket error code (ECONNREFUSED, ...) or one of ours (CONNECT_TIMEOUT, HTTP_PARSE, SOCKET_CLOSED, ABORTED, CLOSED). */
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
  /** At most this many connections; 0 for no limit (long polls hold one each). */
  readonly connections: number;
}

/** Largest reply head accepted; etcd's are a few hundred bytes. */
const MAX_HEAD = 64 * 1024;
const CRLF2 = Buffer.from("\r\n\r\n", "latin1");

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
    this.signal.removeEventListener("abort", this.onAbort);
    this.resolve(reply);
  }

  fail(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.signal.removeEventListener("abort", this.onAbort);
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

  /** A pool for `endpoint` (an http or https URL); nothing is opened before the first request. */
  constructor(endpoint: string, options: H1PoolOptions) {
    this.url = new URL(endpoint);
    this.hostHeader = this.url.host;
    this.options = options;
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
      signal.addEventListener("abort", exchange.onAbort, { once: true });
      const connection = this.idle.pop();
      if (connection !== undefined) connection.send(exchange);
      else {
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

  /** Opens another connection when requests wait for one and the limit allows. */
  private grow(): void {
    const limit = this.options.connections;
    if (this.dialing >= this.queue.length || (limit > 0 && this.size >= limit)) return;
    this.size++;
    this.dialing++;
    this.all.add(new Connection(this, dial(this.url, this.options, "http/1.1"), this.options.dialTimeout));
  }

  /** A connection finished opening. */
  opened(connection: Connection): void {
    this.dialing--;
    this.free(connection);
  }

  /** A connection is free: it takes the oldest waiting request, or waits unreferenced. */
  free(connection: Connection): void {
    const next = this.queue.shift();
    if (next !== undefined) {
      connection.send(next);
      return;
    }
    if (this.closed) {
      connection.destroy(undefined);
      return;
    }
    // An idle connection must not keep the process alive, as an idle undici socket does not.
    connection.socket.unref();
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
    for (const exchange of this.queue.splice(0)) exchange.fail(new H1Error("the connection pool is closed", "CLOSED", false));
    this.idle.length = 0;
    for (const connection of [...this.all]) connection.destroy(undefined);
  }
}

/** Parser states of a reply. */
const enum Phase {
  Head,
  Fixed,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  Trailers,
  UntilClose,
}

/** One connection: writes a request, parses its reply, goes back to the pool. */
class Connection {
  readonly socket: net.Socket;
  private readonly pool: H1Pool;
  private opened = false;
  private dialTimer: NodeJS.Timeout | undefined;
  private current: Exchange | undefined;
  private dead = false;
  private reusable = true;
  // The reply being read.
  private phase = Phase.Head;
  private pendingHead: Buffer | undefined;
  private remaining = 0;
  private line = "";
  private crlfLeft = 0;
  private status = 0;
  private headers: Record<string, string | string[] | undefined> = {};
  private chunks: Buffer[] = [];

  constructor(pool: H1Pool, socket: net.Socket, dialTimeout: number) {
    this.pool = pool;
    this.socket = socket;
    this.dialTimer = setTimeout(() => {
      this.destroy(new H1Error(`no connection within ${dialTimeout} ms`, "CONNECT_TIMEOUT", false));
    }, dialTimeout);
    this.dialTimer.unref();
    socket.once(socket instanceof tls.TLSSocket ? "secureConnect" : "connect", () => {
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
    if (this.current !== undefined && this.phase === Phase.UntilClose) this.complete();
    this.destroy(undefined);
  }

  /** Whether a reply is still being read (a method: parsing steps change it behind the compiler's back). */
  private reading(): boolean {
    return this.current !== undefined;
  }

  private protocolError(message: string): void {
    this.destroy(new H1Error(`malformed HTTP reply: ${message}`, "HTTP_PARSE", this.current?.written ?? true));
  }

  private onData(data: Buffer): void {
    if (this.current === undefined) {
      // Nothing was asked: a server speaking out of turn (a timeout notice) is not to be trusted further.
      this.destroy(undefined);
      return;
    }
    let pos = 0;
    while (pos < data.length && this.reading()) {
      switch (this.phase) {
        case Phase.Head:
          pos = this.readHead(data, pos);
          break;
        case Phase.Fixed:
        case Phase.ChunkData: {
          const n = Math.min(this.remaining, data.length - pos);
          this.chunks.push(data.subarray(pos, pos + n));
          this.remaining -= n;
          pos += n;
          if (this.remaining === 0) {
            if (this.phase === Phase.Fixed) this.complete();
            else {
              this.phase = Phase.ChunkEnd;
              this.crlfLeft = 2;
            }
          }
          break;
        }
        case Phase.ChunkEnd: {
          const byte = data[pos++];
          if (byte !== (this.crlfLeft === 2 ? 0x0d : 0x0a)) {
            this.protocolError("a chunk is not followed by CRLF");
            return;
          }
          if (--this.crlfLeft === 0) this.phase = Phase.ChunkSize;
          break;
        }
        case Phase.ChunkSize:
        case Phase.Trailers:
          pos = this.readLine(data, pos);
          break;
        case Phase.UntilClose:
          this.chunks.push(pos === 0 ? data : data.subarray(pos));
          pos = data.length;
          break;
      }
    }
    if (this.dead || this.reading()) return;
    // The reply is complete. Bytes after it, with nothing asked, mean a server not to be reused.
    if (this.reusable && pos === data.length) this.pool.free(this);
    else this.destroy(undefined);
  }

  /** Reads the status line and headers; returns where the body starts, or data.length when incomplete. */
  private readHead(data: Buffer, pos: number): number {
    let buf = pos === 0 ? data : data.subarray(pos);
    let from = 0;
    if (this.pendingHead !== undefined) {
      from = Math.max(0, this.pendingHead.length - 3);
      buf = Buffer.concat([this.pendingHead, buf]);
      this.pendingHead = undefined;
    }
    const end = buf.indexOf(CRLF2, from);
    if (end < 0 ? buf.length > MAX_HEAD : end > MAX_HEAD) {
      this.protocolError(`a reply head longer than ${MAX_HEAD} bytes`);
      return data.length;
    }
    if (end < 0) {
      this.pendingHead = Buffer.from(buf);
      return data.length;
    }
    const consumed = end + 4 - (buf.length - (data.length - pos));
    if (!this.parseHead(buf.toString("latin1", 0, end))) return data.length;
    return pos + consumed;
  }

  /** Parses a head; false after a protocol error. Interim (1xx) replies are skipped. */
  private parseHead(text: string): boolean {
    // Scanned by hand rather than split and matched: every reply passes here.
    let eol = text.indexOf("\r\n");
    if (eol < 0) eol = text.length;
    const minor = text.charCodeAt(7);
    const status = digit(text, 9) * 100 + digit(text, 10) * 10 + digit(text, 11);
    if (!text.startsWith("HTTP/1.") || (minor !== 0x30 && minor !== 0x31) || text.charCodeAt(8) !== 0x20 || !(status >= 0) || (eol !== 12 && text.charCodeAt(12) !== 0x20)) {
      this.protocolError(`bad status line ${JSON.stringify(text.slice(0, Math.min(eol, 80)))}`);
      return false;
    }
    const headers: Record<string, string | string[] | undefined> = {};
    for (let pos = eol + 2; pos < text.length; ) {
      let next = text.indexOf("\r\n", pos);
      if (next < 0) next = text.length;
      const colon = text.indexOf(":", pos);
      if (colon <= pos || colon > next) {
        this.protocolError(`bad header line ${JSON.stringify(text.slice(pos, Math.min(next, pos + 80)))}`);
        return false;
      }
      const name = lowerCase(text.slice(pos, colon));
      let start = colon + 1;
      while (start < next && isBlank(text.charCodeAt(start))) start++;
      let end = next;
      while (end > start && isBlank(text.charCodeAt(end - 1))) end--;
      const value = text.slice(start, end);
      const previous = headers[name];
      headers[name] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [previous, value];
      pos = next + 2;
    }
    if (status >= 100 && status < 200) {
      if (status === 101) {
        this.protocolError("an unrequested protocol switch (101)");
        return false;
      }
      return true;
    }
    this.status = status;
    this.headers = headers;
    const connection = headerText(headers.connection).toLowerCase();
    if (connection.includes("close") || (minor === 0x30 && !connection.includes("keep-alive"))) this.reusable = false;
    const exchange = this.current as Exchange;
    if (exchange.head || status === 204 || status === 304) {
      this.complete();
      return true;
    }
    const coding = headerText(headers["transfer-encoding"]).toLowerCase();
    if (coding !== "") {
      if (/(?:^|,)\s*chunked\s*$/.test(coding)) this.phase = Phase.ChunkSize;
      else {
        this.phase = Phase.UntilClose;
        this.reusable = false;
      }
      return true;
    }
    const length = headers["content-length"];
    if (length !== undefined) {
      const values = Array.isArray(length) ? length : [length];
      const n = values[0] ?? "";
      if (!/^\d{1,15}$/.test(n) || values.some((v) => v !== n)) {
        this.protocolError(`bad content-length ${JSON.stringify(values.join(", "))}`);
        return false;
      }
      this.remaining = Number(n);
      if (this.remaining === 0) this.complete();
      else this.phase = Phase.Fixed;
      return true;
    }
    this.phase = Phase.UntilClose;
    this.reusable = false;
    return true;
  }

  /** Reads a chunk-size or trailer line; returns the position after it (or data.length when incomplete). */
  private readLine(data: Buffer, pos: number): number {
    const nl = data.indexOf(0x0a, pos);
    const piece = data.toString("latin1", pos, nl < 0 ? data.length : nl + 1);
    this.line += piece;
    if (this.line.length > MAX_HEAD) {
      this.protocolError("a chunk-size or trailer line that does not end");
      return data.length;
    }
    if (nl < 0) return data.length;
    const line = this.line.endsWith("\r\n") ? this.line.slice(0, -2) : this.line.slice(0, -1);
    this.line = "";
    if (this.phase === Phase.Trailers) {
      if (line === "") this.complete();
      return nl + 1;
    }
    const size = /^([0-9a-fA-F]{1,12})[ \t]*(?:;.*)?$/.exec(line);
    if (size === null) {
      this.protocolError(`bad chunk size ${JSON.stringify(line.slice(0, 40))}`);
      return data.length;
    }
    this.remaining = Number.parseInt(size[1] as string, 16);
    this.phase = this.remaining === 0 ? Phase.Trailers : Phase.ChunkData;
    return nl + 1;
  }

  /** The reply is complete: the caller hears; whoever read the last byte frees or ends the connection. */
  private complete(): void {
    const exchange = this.current as Exchange;
    const chunks = this.chunks;
    const body = chunks.length === 0 ? "" : chunks.length === 1 ? (chunks[0] as Buffer).toString("utf8") : Buffer.concat(chunks).toString("utf8");
    const reply: H1Reply = { status: this.status, headers: this.headers, body };
    this.current = undefined;
    exchange.connection = undefined;
    this.phase = Phase.Head;
    this.chunks = [];
    this.headers = {};
    exchange.succeed(reply);
  }
}

function headerText(value: string | string[] | undefined): string {
  return value === undefined ? "" : Array.isArray(value) ? value.join(", ") : value;
}

/** The decimal digit at `i`, or NaN. */
function digit(text: string, i: number): number {
  const c = text.charCodeAt(i) - 0x30;
  return c >= 0 && c <= 9 ? c : Number.NaN;
}

function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** Lower-case header names seen, so etcd's few canonical names are not lowered again per reply. */
const LOWER = new Map<string, string>();

function lowerCase(name: string): string {
  let lower = LOWER.get(name);
  if (lower === undefined) {
    lower = name.toLowerCase();
    // Bounded: a server may send any names, and only etcd's own recur.
    if (LOWER.size < 256) LOWER.set(name, lower);
  }
  return lower;
}
