/**
 * The v2 transport: the only code that opens HTTP connections. One HTTP/1.1 pool per member for
 * ordinary requests (our own, src/transport/h1.ts: undici's per-request cost was most of the
 * client's), a separate small pool per member for health probes (so a probe never queues behind
 * requests stuck on a hung member), and a third kind for long polls (watches), so they never hold
 * the connections ordinary requests need. A replacement undici Dispatcher (the `transport` option,
 * go-etcd's SetTransport) carries all three instead when given.
 *
 * It turns every transport failure into an `EtcdError` whose `delivery` says whether the request
 * could have reached the server; the engine's retry rule depends on that distinction.
 */
import type { Dispatcher } from "undici";
import { EtcdError } from "../errors.js";
import { DEFAULTS, type AuthOptions, type TlsOptions } from "../options.js";
import type { ProbeVerdict } from "../endpoints/engine.js";
import { H1Error, H1Pool } from "./h1.js";
import { requestProblem } from "./h1-parse.js";

/** HTTP methods the v2 API uses. */
export type HttpMethod = "GET" | "HEAD" | "PUT" | "POST" | "DELETE";

/** One HTTP request, with its path and query already encoded. */
export interface HttpRequest {
  readonly method: HttpMethod;
  /** Path and query string, e.g. `/v2/keys/foo?quorum=true`. */
  readonly path: string;
  /** A urlencoded form or JSON body. */
  readonly body?: string | undefined;
  /** The body's content type (default `application/x-www-form-urlencoded` when there is a body). */
  readonly contentType?: string | undefined;
  /** Use a long-poll connection (watches), kept apart from ordinary requests. */
  readonly longPoll?: boolean | undefined;
}

/** A complete HTTP reply. */
export interface HttpReply {
  readonly status: number;
  /** Header names are lower case. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

/** Options of the HTTP transport. */
export interface HttpTransportOptions {
  readonly dialTimeout?: number | undefined;
  readonly keepAlive?: number | undefined;
  readonly tls?: TlsOptions | undefined;
  readonly auth?: AuthOptions | undefined;
  /** A replacement dispatcher for ordinary requests (go-etcd's SetTransport). */
  readonly transport?: V2Dispatcher | undefined;
  /** Connections per member for ordinary requests. */
  readonly connections?: number | undefined;
  /** Connections per member a burst may open while the member answers (DEFAULTS.maxConnections). */
  readonly maxConnections?: number | undefined;
  /** Receives every request as an equivalent curl command, password redacted. */
  readonly onCurl?: ((line: string) => void) | undefined;
  /** The largest reply body accepted, in bytes (DEFAULTS.maxResponseBytes). */
  readonly maxResponseBytes?: number | undefined;
  /** Requests that may wait for a connection per pool (DEFAULTS.maxPendingRequests). */
  readonly maxPendingRequests?: number | undefined;
}

// Errors raised before a request could have been written: safe to send again anywhere.
const NEVER_SENT = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
  "UND_ERR_CONNECT_TIMEOUT",
  "CONNECT_TIMEOUT",
]);

const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|UNABLE_TO_|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH|ERR_OSSL_)/;

/**
 * The part of an undici `Dispatcher` (an `Agent`, `Pool`, `ProxyAgent`, `MockAgent`…) that the v2
 * client calls: typed by shape so that etcd-ts's published types don't require undici.
 */
export interface V2Dispatcher {
  /** Starts one request; the client passes a handler of undici's `DispatchHandler` protocol. */
  dispatch(
    options: { origin: string; method: string; path: string; headers: Record<string, string>; body: string | null },
    handler: object,
  ): boolean;
  /** Sends one request and resolves with its whole reply (used by health probes). */
  request(options: { origin: string; method: "GET"; path: string; headers: Record<string, string>; signal: AbortSignal }): Promise<{
    /** The HTTP status. */
    statusCode: number;
    /** The reply's headers, names lower-cased. */
    headers: Record<string, string | string[] | undefined>;
    /** The reply's body. */
    body: {
      /** Reads the whole body as UTF-8 text. */
      text(): Promise<string>;
    };
  }>;
}

/** Sends v2 requests over HTTP/1.1 pools, one set per member (or over a replacement undici Dispatcher). */
export class HttpTransport {
  private readonly pools = new Map<string, H1Pool>();
  private readonly probePools = new Map<string, H1Pool>();
  private readonly pollPools = new Map<string, H1Pool>();
  private readonly options: HttpTransportOptions;
  private readonly authHeader: string | undefined;
  /** The authorization header line, or "": every request carries it. */
  private readonly authLine: string;

  /** Creates a transport; connections open lazily, per member. */
  constructor(options: HttpTransportOptions = {}) {
    this.options = options;
    const auth = options.auth;
    this.authHeader = auth === undefined ? undefined : `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`;
    this.authLine = this.authHeader === undefined ? "" : `authorization: ${this.authHeader}\r\n`;
  }

  /**
   * Sends one request to `endpoint` and reads the whole reply; throws `EtcdError` on transport
   * failure. A request abandoned (by `signal`) or failed before undici began writing it is
   * reported `unsent`, so even a create may then go to another member.
   */
  request(endpoint: string, req: HttpRequest, signal: AbortSignal): Promise<HttpReply> {
    this.options.onCurl?.(this.curl(endpoint, req));
    const dispatcher = this.options.transport;
    if (dispatcher === undefined) {
      const pool = req.longPoll === true ? this.pool(this.pollPools, endpoint, 0) : this.pool(this.pools, endpoint, this.options.connections ?? DEFAULTS.connections, this.options.maxConnections ?? DEFAULTS.maxConnections);
      let headers = this.authLine;
      if (req.body !== undefined) headers += `content-type: ${req.contentType ?? "application/x-www-form-urlencoded"}\r\n`;
      return pool.request({ method: req.method, path: req.path, headers, body: req.body }, signal).catch((error: unknown) => {
        throw h1Failure(error, endpoint, signal);
      });
    }
    const headers: Record<string, string> = {};
    if (this.authHeader !== undefined) headers.authorization = this.authHeader;
    if (req.body !== undefined) headers["content-type"] = req.contentType ?? "application/x-www-form-urlencoded";
    // The same checks as our pool's, so a replacement dispatcher's callers see the same INVALID_ARGUMENT.
    const problem = requestProblem(req.method, req.path, req.body === undefined ? "" : `content-type: ${headers["content-type"] ?? ""}\r\n`);
    if (problem !== undefined) return Promise.reject(new EtcdError("INVALID_ARGUMENT", `refused before sending: ${problem}`, { endpoint }));
    return new Promise((resolve, reject) => {
      const handler = new ReplyHandler(endpoint, signal, this.options.maxResponseBytes ?? DEFAULTS.maxResponseBytes, resolve, reject);
      if (signal.aborted) {
        handler.abandon();
        return;
      }
      dispatcher.dispatch({ origin: endpoint, method: req.method, path: req.path, headers, body: req.body ?? null }, handler);
    });
  }

  /**
   * Probes a member on its own connection: healthy when `/health` says so; "no-leader" when the
   * process answers (`/version`) but is not healthy; "unresponsive" when neither answers.
   */
  async probe(endpoint: string, signal: AbortSignal): Promise<ProbeVerdict> {
    // A replacement transport may be the only way to reach the members (a proxy, a socket path),
    // so probes use it too; the separate-connection guarantee is then the transport's to keep.
    const dispatcher = this.options.transport;
    const get = async (path: string): Promise<HttpReply> => {
      if (dispatcher === undefined) return this.pool(this.probePools, endpoint, 2).request({ method: "GET", path, headers: this.authLine, body: undefined }, signal);
      const headers: Record<string, string> = {};
      if (this.authHeader !== undefined) headers.authorization = this.authHeader;
      const res = await dispatcher.request({ origin: endpoint, method: "GET", path, headers, signal });
      return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
    };
    const [health, version] = await Promise.allSettled([get("/health"), get("/version")]);
    if (health.status === "fulfilled" && health.value.status === 200 && isHealthyBody(health.value.body)) return "healthy";
    if (version.status === "fulfilled") return "no-leader";
    // Nothing listens on the port: the process is gone, and a gone process applies nothing later.
    if (errorCode(version.reason) === "ECONNREFUSED") return "down";
    // Only silence means hung; a TLS or protocol failure says nothing about the member's health.
    return signal.aborted ? "unresponsive" : "inconclusive";
  }

  /** The pool of `map` for `endpoint`; `connections` 0 for no limit, `maxConnections` for bursts. The engine owns deadlines, so pools have none. */
  private pool(map: Map<string, H1Pool>, endpoint: string, connections: number, maxConnections = connections): H1Pool {
    let pool = map.get(endpoint);
    if (pool === undefined) {
      pool = new H1Pool(endpoint, {
        dialTimeout: this.options.dialTimeout ?? DEFAULTS.dialTimeout,
        keepAlive: this.options.keepAlive ?? DEFAULTS.keepAlive,
        tls: this.options.tls,
        connections,
        maxConnections,
        maxResponseBytes: this.options.maxResponseBytes ?? DEFAULTS.maxResponseBytes,
        maxPending: this.options.maxPendingRequests ?? DEFAULTS.maxPendingRequests,
      });
      map.set(endpoint, pool);
    }
    return pool;
  }

  /** The request as a curl command line, with the password redacted. */
  curl(endpoint: string, req: HttpRequest): string {
    const parts = ["curl", "-X", req.method];
    if (this.options.auth !== undefined) parts.push("-u", shellQuote(`${this.options.auth.username}:<redacted>`));
    if (req.body !== undefined) {
      if (req.contentType !== undefined) parts.push("-H", shellQuote(`Content-Type: ${req.contentType}`));
      parts.push("-d", shellQuote(req.body));
    }
    parts.push(shellQuote(endpoint + req.path));
    return parts.join(" ");
  }

  /** Destroys every connection. Call it once nothing of ours is in flight (the clients wait for the engine to be idle first). */
  close(): Promise<void> {
    for (const map of [this.pools, this.probePools, this.pollPools]) {
      for (const pool of map.values()) pool.close();
      map.clear();
    }
    return Promise.resolve();
  }
}

/**
 * An H1 pool's failure as the engine needs it: a request the caller abandoned fails with the
 * caller's reason once it was sent, and as provably unsent before; anything else is classified.
 */
function h1Failure(error: unknown, endpoint: string, signal: AbortSignal): unknown {
  if (!(error instanceof H1Error)) return classify(error, endpoint, true);
  if (error.code === "ABORTED") return error.written ? (signal.reason as unknown) : abandonedUnsent(endpoint, signal.reason);
  // Answers about the request, not failures of the member: another member would answer the same.
  if (error.code === "INVALID_REQUEST") return new EtcdError("INVALID_ARGUMENT", error.message, { endpoint, cause: error });
  if (error.code === "RESPONSE_TOO_LARGE") return tooLarge(endpoint, error);
  // Our own queue is full: nothing left, so another member (or a later attempt) may take it.
  if (error.code === "PENDING_LIMIT") return new EtcdError("PENDING_LIMIT", `${endpoint}: ${error.message}`, { endpoint, delivery: "unsent", cause: error });
  return classify(error, endpoint, error.written);
}

/** A reply past maxResponseBytes. The request was sent, so a write may have taken effect. */
function tooLarge(endpoint: string, cause: Error): EtcdError {
  return new EtcdError("RESPONSE_TOO_LARGE", `${endpoint}: ${cause.message}; the request was sent and may have taken effect`, { endpoint, cause });
}

/** A request its caller gave up on before any byte of it left: safe to send anywhere. */
function abandonedUnsent(endpoint: string, reason: unknown): EtcdError {
  return new EtcdError("UNAVAILABLE", `${endpoint}: abandoned before it was sent`, { endpoint, delivery: "unsent", cause: reason });
}

/**
 * Maps a transport failure to an EtcdError that says whether the request may have been delivered:
 * `written` is false until undici starts writing the request to a socket.
 */
export function classify(error: unknown, endpoint: string, written = true): EtcdError {
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  if (code !== undefined && TLS_CODES.test(code)) {
    return new EtcdError("TLS_ERROR", `${endpoint}: TLS: ${message} (${code})`, { endpoint, delivery: "unsent", cause: error });
  }
  const delivery = !written || (code !== undefined && NEVER_SENT.has(code)) ? "unsent" : "unknown";
  const detail = code === undefined ? message : `${message} (${code})`;
  return new EtcdError("UNAVAILABLE", `${endpoint}: ${detail}`, { endpoint, delivery, cause: error });
}

function errorCode(error: unknown): string | undefined {
  // undici wraps socket errors; the useful code may sit on the cause.
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    if (typeof e === "object" && "code" in e && typeof e.code === "string" && e.code !== "UND_ERR_SOCKET") return e.code;
    e = typeof e === "object" && "cause" in e ? e.cause : undefined;
  }
  if (typeof error === "object" && error !== null && "code" in error && typeof error.code === "string") return error.code;
  return undefined;
}

/**
 * Collects one reply for `request()`. undici calls `onRequestStart` synchronously just before it
 * writes the request to a socket, so until then the request is provably unsent.
 */
class ReplyHandler implements Dispatcher.DispatchHandler {
  private written = false;
  private settled = false;
  private controller: Dispatcher.DispatchController | undefined;
  private status = 0;
  private headers: Record<string, string | string[] | undefined> = {};
  private readonly chunks: Buffer[] = [];
  private readonly onAbort = (): void => {
    this.abandon();
  };

  private bytes = 0;

  constructor(
    private readonly endpoint: string,
    private readonly signal: AbortSignal,
    private readonly maxBytes: number,
    private readonly resolve: (reply: HttpReply) => void,
    private readonly reject: (error: unknown) => void,
  ) {
    signal.addEventListener("abort", this.onAbort, { once: true });
  }

  /** The caller gave up: written requests fail with the caller's reason, queued ones as unsent. */
  abandon(): void {
    const reason: unknown = this.signal.reason;
    this.controller?.abort(reason instanceof Error ? reason : new Error(String(reason)));
    if (this.written) this.fail(reason);
    else this.fail(abandonedUnsent(this.endpoint, reason));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // Abandoned while queued: stop it here, before undici writes anything.
    if (this.settled) controller.abort(new Error("abandoned"));
    else this.written = true;
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    this.status = statusCode;
    this.headers = headers;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      const error = tooLarge(this.endpoint, new Error(`the reply body exceeds the limit of ${this.maxBytes} bytes (maxResponseBytes)`));
      controller.abort(error);
      this.fail(error);
      return;
    }
    this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    if (this.settled) return;
    this.settled = true;
    this.signal.removeEventListener("abort", this.onAbort);
    const body = this.chunks.length === 1 ? (this.chunks[0] as Buffer).toString("utf8") : Buffer.concat(this.chunks).toString("utf8");
    this.resolve({ status: this.status, headers: this.headers, body });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.fail(classify(error, this.endpoint, this.written));
  }

  private fail(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.signal.removeEventListener("abort", this.onAbort);
    this.reject(error);
  }
}

function isHealthyBody(body: string): boolean {
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === "object" && parsed !== null && "health" in parsed && (parsed.health === "true" || parsed.health === true);
  } catch {
    return false;
  }
}

function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
}
