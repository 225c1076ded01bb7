import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";

/** TLS material for one request; omit `ca` to use the default trust store. */
export interface RequestTls {
  ca?: string;
  cert?: string;
  key?: string;
}

/** Options for {@link request}. */
export interface RequestOptions {
  method?: string | undefined;
  body?: string | undefined;
  headers?: Record<string, string> | undefined;
  /** Whole-request deadline; the request fails with code ETIMEDOUT when it passes. */
  timeoutMs?: number | undefined;
  tls?: RequestTls | undefined;
  auth?: { user: string; password: string } | undefined;
}

/** A fully read HTTP response. */
export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Error raised by {@link request}, carrying the socket/TLS error code (e.g. ECONNREFUSED, ETIMEDOUT). */
export class RequestError extends Error {
  /** The Node.js error code, when there is one. */
  readonly code: string | undefined;
  constructor(message: string, code: string | undefined, options?: ErrorOptions) {
    super(message, options);
    this.name = "RequestError";
    this.code = code;
  }
}

function errorCode(err: unknown): string | undefined {
  if (typeof err === "object" && err !== null && "code" in err && typeof err.code === "string") return err.code;
  return undefined;
}

/**
 * Makes one HTTP(S) request on a fresh connection and reads the whole body. A fresh connection
 * (no agent) matters for fault tests: a pooled socket to a paused or killed member would make the
 * outcome depend on earlier requests.
 */
export function request(url: string, opts: RequestOptions = {}): Promise<HttpResponse> {
  const target = new URL(url);
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.auth !== undefined) {
    headers["authorization"] =
      "Basic " + Buffer.from(`${opts.auth.user}:${opts.auth.password}`).toString("base64");
  }
  const send = target.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(target, { method: opts.method ?? "GET", headers, agent: false, ...opts.tls }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", (err) => {
        fail(err);
      });
      res.on("end", () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") });
      });
    });
    const fail = (err: unknown): void => {
      clearTimeout(timer);
      const code = errorCode(err);
      reject(new RequestError(`${opts.method ?? "GET"} ${url}: ${code ?? String(err)}`, code, { cause: err }));
    };
    const timer = setTimeout(() => {
      req.destroy(Object.assign(new Error(`timed out after ${opts.timeoutMs} ms`), { code: "ETIMEDOUT" }));
    }, opts.timeoutMs ?? 10_000);
    req.on("error", fail);
    req.end(opts.body);
  });
}
