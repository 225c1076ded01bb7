/**
 * The v2 transport: the only code that opens HTTP connections. One undici Pool per member for
 * ordinary requests, a separate small pool per member for health probes (so a probe never queues
 * behind requests stuck on a hung member), and a third kind for long polls (watches), so they
 * never hold the connections ordinary requests need.
 *
 * It turns every transport failure into an `EtcdError` whose `delivery` says whether the request
 * could have reached the server; the engine's retry rule depends on that distinction.
 */
import { Pool, type Dispatcher } from "undici";
import { EtcdError } from "../errors.js";
import { DEFAULTS, type AuthOptions, type TlsOptions } from "../options.js";
import type { ProbeVerdict } from "../endpoints/engine.js";

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
  readonly transport?: Dispatcher | undefined;
  /** Connections per member for ordinary requests. */
  readonly connections?: number | undefined;
  /** Receives every request as an equivalent curl command, password redacted. */
  readonly onCurl?: ((line: string) => void) | undefined;
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
]);

const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|UNABLE_TO_|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH|ERR_OSSL_)/;

/** Sends v2 requests over undici pools, one set per member. */
export class HttpTransport {
  private readonly pools = new Map<string, Pool>();
  private readonly probePools = new Map<string, Pool>();
  private readonly pollPools = new Map<string, Pool>();
  private readonly options: HttpTransportOptions;
  private readonly authHeader: string | undefined;

  /** Creates a transport; connections open lazily, per member. */
  constructor(options: HttpTransportOptions = {}) {
    this.options = options;
    const auth = options.auth;
    this.authHeader = auth === undefined ? undefined : `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`;
  }

  /**
   * Sends one request to `endpoint` and reads the whole reply; throws `EtcdError` on transport
   * failure. A request abandoned (by `signal`) or failed before undici began writing it is
   * reported `unsent`, so even a create may then go to another member.
   */
  request(endpoint: string, req: HttpRequest, signal: AbortSignal): Promise<HttpReply> {
    this.options.onCurl?.(this.curl(endpoint, req));
    const dispatcher =
      this.options.transport ??
      (req.longPoll === true ? this.pool(this.pollPools, endpoint, 0) : this.pool(this.pools, endpoint, this.options.connections ?? DEFAULTS.connections));
    const headers: Record<string, string> = {};
    if (this.authHeader !== undefined) headers.authorization = this.authHeader;
    if (req.body !== undefined) headers["content-type"] = req.contentType ?? "application/x-www-form-urlencoded";
    return new Promise((resolve, reject) => {
      const handler = new ReplyHandler(endpoint, signal, resolve, reject);
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
    const pool = this.options.transport ?? this.pool(this.probePools, endpoint, 2);
    const get = async (path: string): Promise<HttpReply> => {
      const headers: Record<string, string> = {};
      if (this.authHeader !== undefined) headers.authorization = this.authHeader;
      const res = await pool.request({ origin: endpoint, method: "GET", path, headers, signal });
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

  private pool(map: Map<string, Pool>, endpoint: string, connections: number): Pool {
    let pool = map.get(endpoint);
    if (pool === undefined) {
      pool = new Pool(endpoint, this.poolOptions(connections));
      map.set(endpoint, pool);
    }
    return pool;
  }

  private poolOptions(connections: number): Pool.Options {
    const tls = this.options.tls;
    const connect: Record<string, unknown> = {
      timeout: this.options.dialTimeout ?? DEFAULTS.dialTimeout,
      keepAlive: true,
      keepAliveInitialDelay: this.options.keepAlive ?? DEFAULTS.keepAlive,
    };
    if (tls !== undefined) {
      if (tls.ca !== undefined) connect.ca = tls.ca;
      if (tls.cert !== undefined) connect.cert = tls.cert;
      if (tls.key !== undefined) connect.key = tls.key;
      if (tls.servername !== undefined) connect.servername = tls.servername;
      connect.rejectUnauthorized = tls.rejectUnauthorized ?? true;
    }
    return {
      connections: connections > 0 ? connections : null,
      pipelining: 1,
      // The engine owns deadlines; undici's own timeouts would cut watches' long polls.
      headersTimeout: 0,
      bodyTimeout: 0,
      connect,
    };
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

  /**
   * Destroys every connection. Call it once nothing of ours is in flight (the clients wait for
   * the engine to be idle first): a graceful `Pool.close()` would also wait for requests we
   * abandoned while they were still queued, which may never be dispatched.
   */
  async close(): Promise<void> {
    const all = [...this.pools.values(), ...this.probePools.values(), ...this.pollPools.values()];
    this.pools.clear();
    this.probePools.clear();
    this.pollPools.clear();
    await Promise.all(all.map((p) => p.destroy().catch(() => undefined)));
  }
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

  constructor(
    private readonly endpoint: string,
    private readonly signal: AbortSignal,
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
    else this.fail(new EtcdError("UNAVAILABLE", `${this.endpoint}: abandoned before it was sent`, { endpoint: this.endpoint, delivery: "unsent", cause: reason }));
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

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
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
