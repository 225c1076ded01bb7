/**
 * Failures as `ETCDCTL_API=2 etcdctl` reports them: the text of the error its Go client would
 * have returned, and the exit code etcdctl chooses. Scripts match on both, so they are kept
 * exactly where the failure is one etcdctl can have (server errors, refused connections,
 * deadlines); failures only we detect keep our own, more precise, text.
 */
import { EtcdError } from "../../errors.js";
export { UsageError } from "../shared/exit.js";

/** Exit codes of etcdctl v2. */
export const EXIT = Object.freeze({
  success: 0,
  /** Bad flags or arguments, and every failure of the member, user, role and auth commands. */
  error: 1,
  /** The cluster could not be reached while syncing the member list. */
  badConnection: 2,
  /** An unknown command. */
  unknownCommand: 3,
  /** A key command failed. */
  serverError: 4,
  /** `cluster-health` found an unhealthy member. */
  clusterNotHealthy: 5,
});

const CLUSTER_UNAVAILABLE = "client: etcd cluster is unavailable or misconfigured";

// Failures of the members themselves; everything else is an answer about the data or a local mistake.
const CLUSTER_CODES = new Set(["UNAVAILABLE", "OUTCOME_UNKNOWN", "TLS_ERROR", "NO_ENDPOINTS", "EMPTY_RESPONSE", "MALFORMED_RESPONSE", "STALE_READ"]);

/** True when the Go client would have returned its `ClusterError` (every member failed). */
export function isClusterError(error: unknown): boolean {
  if (!(error instanceof EtcdError) || error.code === "TIMEOUT") return false;
  return CLUSTER_CODES.has(error.code) || error.memberFailure;
}

/** The `Error()` text of the Go client's error for this failure. */
export function goErrorText(error: unknown): string {
  if (!(error instanceof EtcdError)) return error instanceof Error ? error.message : String(error);
  // The Go client returns the context's own error when the deadline passes, not a ClusterError.
  if (error.code === "TIMEOUT") return "context deadline exceeded";
  if (isClusterError(error)) return CLUSTER_UNAVAILABLE + attempts(error).map((text, i) => `; error #${i}: ${text}\n`).join("");
  if (error.errorCode !== undefined) return keyErrorText(error);
  return error.serverMessage ?? error.message;
}

/** `ClusterError.Detail()`: one line per member tried. */
export function clusterDetail(error: EtcdError): string {
  return attempts(error)
    .map((text, i) => `error #${i}: ${text}\n`)
    .join("");
}

/** What etcdctl's `handleError` prints for a failed key command. */
export function handleErrorText(error: unknown): string {
  const text = `Error:  ${goErrorText(error)}\n`;
  return error instanceof EtcdError && isClusterError(error) ? `${text}${clusterDetail(error)}\n` : text;
}

/** How Go's HTTP client words a failed GET of `url` (cluster-health's per-member check). */
export function goHttpErrorText(url: string, error: unknown): string {
  if (!(error instanceof EtcdError)) return goErrorText(error);
  const attempt = error.errors[0] ?? error;
  const hung = error.code === "TIMEOUT" || attempt.health === "unresponsive";
  return `Get "${url}": ${hung ? "context deadline exceeded (Client.Timeout exceeded while awaiting headers)" : attemptText(attempt)}`;
}

/** etcdctl's `isConnectionError`: every member refused, timed out or could not be dialled. */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof EtcdError)) return false;
  if (error.code === "TIMEOUT") return true;
  if (!isClusterError(error)) return false;
  const list = error.errors.length > 0 ? error.errors : [error];
  return list.every((e) => e.code === "TIMEOUT" || (e.code === "UNAVAILABLE" && e.status === undefined));
}

/** The v2 Go client's `Error.Error()`: "code: message (cause) [index]". */
function keyErrorText(error: EtcdError): string {
  return `${error.errorCode ?? 0}: ${error.serverMessage ?? ""} (${error.serverCause ?? ""}) [${bodyIndex(error)}]`;
}

/** The index as the server wrote it in the body (0 for input errors), which the Go client prints. */
function bodyIndex(error: EtcdError): number {
  const reply = error.response;
  if (typeof reply === "object" && reply !== null && "body" in reply && typeof reply.body === "string") {
    try {
      const body: unknown = JSON.parse(reply.body);
      if (typeof body === "object" && body !== null && "index" in body && typeof body.index === "number") return body.index;
    } catch {
      // Not JSON: fall back to the index the error carries.
    }
  }
  return error.index ?? 0;
}

/** One text per member tried, in order, as the Go client words each failure. */
function attempts(error: EtcdError): string[] {
  const list = error.errors.length > 0 ? error.errors : [error];
  const seen = new Set<string>();
  const texts: string[] = [];
  for (const attempt of list) {
    // Our engine may try a member twice; the Go client tries each once, so it reports each once.
    const key = attempt.endpoint ?? `#${texts.length}`;
    if (seen.has(key)) continue;
    seen.add(key);
    texts.push(attemptText(attempt));
  }
  return texts;
}

function attemptText(error: EtcdError): string {
  const endpoint = error.endpoint ?? "";
  const socket = socketError(error.cause);
  if (socket?.code === "ECONNREFUSED") return `dial tcp ${dialAddress(socket, endpoint)}: connect: connection refused`;
  if (socket?.code === "ENOTFOUND") return `dial tcp: lookup ${hostOf(endpoint)}: no such host`;
  if (error.code === "TIMEOUT") return "context deadline exceeded";
  const x509 = X509_TEXT[causeCode(error.cause) ?? ""];
  if (x509 !== undefined) return x509;
  const status = error.status;
  if (status === 500 || status === 503 || error.health === "no-leader") return `client: etcd member ${endpoint} has no leader`;
  if (status !== undefined && status > 500) return `client: etcd member ${endpoint} returns server error [${STATUS_TEXT[status] ?? String(status)}]`;
  // A member the engine found hung: the Go client would have hit its per-request header timeout.
  if (error.health === "unresponsive") return `client: endpoint ${endpoint} exceeded header timeout`;
  return error.message;
}

/** Node's certificate verification failures, as Go's crypto/x509 words the same ones. */
const X509_TEXT: Readonly<Record<string, string>> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "x509: certificate signed by unknown authority",
  UNABLE_TO_GET_ISSUER_CERT: "x509: certificate signed by unknown authority",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "x509: certificate signed by unknown authority",
  SELF_SIGNED_CERT_IN_CHAIN: "x509: certificate signed by unknown authority",
  DEPTH_ZERO_SELF_SIGNED_CERT: "x509: certificate signed by unknown authority",
  CERT_HAS_EXPIRED: "x509: certificate has expired or is not yet valid",
  CERT_NOT_YET_VALID: "x509: certificate has expired or is not yet valid",
};

/** The first string `code` along an error's cause chain. */
function causeCode(cause: unknown): string | undefined {
  for (let e = cause, depth = 0; typeof e === "object" && e !== null && depth < 5; depth++) {
    if ("code" in e && typeof e.code === "string") return e.code;
    e = "cause" in e ? e.cause : undefined;
  }
  return undefined;
}

const STATUS_TEXT: Readonly<Record<number, string>> = { 501: "Not Implemented", 502: "Bad Gateway", 504: "Gateway Timeout", 505: "HTTP Version Not Supported" };

interface SocketError {
  readonly code: string;
  readonly address?: string;
  readonly port?: number;
}

/** The Node socket error under the transport's wrapping, if there is one. */
function socketError(cause: unknown): SocketError | undefined {
  for (let e = cause, depth = 0; typeof e === "object" && e !== null && depth < 5; depth++) {
    if ("code" in e && typeof e.code === "string" && /^E[A-Z]+$/.test(e.code)) {
      const address = "address" in e && typeof e.address === "string" ? e.address : undefined;
      const port = "port" in e && typeof e.port === "number" ? e.port : undefined;
      return { code: e.code, ...(address === undefined ? {} : { address }), ...(port === undefined ? {} : { port }) };
    }
    e = "cause" in e ? e.cause : undefined;
  }
  return undefined;
}

/** The address Go's dialer names: the resolved IP (IPv6 in brackets) and the port. */
function dialAddress(socket: SocketError, endpoint: string): string {
  if (socket.address !== undefined && socket.port !== undefined) {
    return socket.address.includes(":") ? `[${socket.address}]:${socket.port}` : `${socket.address}:${socket.port}`;
  }
  try {
    const url = new URL(endpoint);
    return `${url.hostname}:${url.port === "" ? (url.protocol === "https:" ? "443" : "80") : url.port}`;
  } catch {
    return endpoint;
  }
}

function hostOf(endpoint: string): string {
  try {
    return new URL(endpoint).hostname;
  } catch {
    return endpoint;
  }
}
