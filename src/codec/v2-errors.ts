/**
 * The one table from etcd v2 server errors to `EtcdError` codes, and the one place that decides
 * which replies are member failures (`delivery` set, so the engine may go elsewhere) and which
 * are answers about the data (no `delivery`: asking another member would get the same answer).
 *
 * Server message text is matched here and nowhere else.
 */
import { EtcdError, type Delivery, type EtcdErrorCode } from "../errors.js";
import type { HttpReply } from "../transport/http.js";

/** etcd v2 `errorCode` → our code (etcd's `v2error` package; DOC errorcode.md). Anything else is SERVER_ERROR. */
export const V2_ERROR_CODES: Readonly<Record<number, EtcdErrorCode>> = Object.freeze({
  100: "KEY_NOT_FOUND",
  101: "COMPARE_FAILED",
  102: "NOT_A_FILE",
  104: "NOT_A_DIRECTORY",
  105: "NODE_EXISTS",
  107: "ROOT_READ_ONLY",
  108: "DIR_NOT_EMPTY",
  110: "UNAUTHORIZED",
  201: "PREV_VALUE_REQUIRED",
  202: "TTL_NAN",
  203: "INDEX_NAN",
  209: "INVALID_FIELD",
  210: "INVALID_FORM",
  211: "REFRESH_VALUE",
  212: "REFRESH_TTL_REQUIRED",
  300: "RAFT_INTERNAL",
  301: "LEADER_ELECT",
  400: "WATCHER_CLEARED",
  401: "EVENT_INDEX_CLEARED",
});

/** HTTP status → our code, for the members, auth and stats APIs (their errors are `{"message": ...}`). */
export const V2_MESSAGE_STATUS_CODES: Readonly<Record<number, EtcdErrorCode>> = Object.freeze({
  400: "BAD_REQUEST",
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  405: "BAD_REQUEST",
  409: "CONFLICT",
  410: "GONE",
  415: "BAD_REQUEST",
});

/** Maps a v2 server `errorCode` to our code. */
export function v2ErrorCode(errorCode: number): EtcdErrorCode {
  return V2_ERROR_CODES[errorCode] ?? "SERVER_ERROR";
}

/** The fields of a v2 key-space error body. */
export interface V2ErrorBody {
  readonly errorCode: number;
  readonly message: string;
  readonly cause?: string | undefined;
  readonly index?: number | undefined;
}

/** Where a reply came from, for the fields every error carries. */
export interface ReplyContext {
  readonly endpoint: string;
  readonly reply: HttpReply;
  /** `X-Etcd-Index`, when the reply had one. */
  readonly headerIndex?: number | undefined;
}

// "raft proposal dropped" is etcd's ErrProposalDropped: the proposal never entered the raft log,
// so the write certainly did not happen and may be sent anywhere again.
const PROPOSAL_DROPPED = /raft proposal dropped/i;
const NOT_LEADER = /not current leader/i;
const ELECTION = /election/i;
const HISTORY_CLEARED = /\[(\d+)\/(\d+)\]/;

/** Builds the error for a key-space error body, keeping every server field. */
export function keyError(body: V2ErrorBody, ctx: ReplyContext): EtcdError {
  const code = v2ErrorCode(body.errorCode);
  const cause = body.cause ?? "";
  // Index 0 means "no index" (input errors, 110): keeping it would make a weak read look stale.
  const index = positive(body.index) ?? positive(ctx.headerIndex);
  const shown = cause === "" ? "" : ` (${cause})`;
  return new EtcdError(code, `${body.errorCode}: ${body.message}${shown} [${body.index ?? index ?? 0}]`, {
    endpoint: ctx.endpoint,
    status: ctx.reply.status,
    errorCode: body.errorCode,
    serverMessage: body.message,
    serverCause: body.cause,
    index,
    delivery: keyErrorDelivery(body, ctx.reply.status),
    resumeIndex: code === "EVENT_INDEX_CLEARED" ? historyStart(cause) : undefined,
    response: ctx.reply,
  });
}

/**
 * 300 and 301 (HTTP 500) are the member failing, not an answer about the data: the write may or
 * may not have been applied, and may still be (a "request timed out" proposal can commit later),
 * so it is `pending` — unless raft says it dropped the proposal.
 */
function keyErrorDelivery(body: V2ErrorBody, status: number): Delivery | undefined {
  if (body.errorCode === 300 && PROPOSAL_DROPPED.test(`${body.message} ${body.cause ?? ""}`)) return "unsent";
  if (body.errorCode === 300 || body.errorCode === 301 || status >= 500) return "pending";
  return undefined;
}

/** Builds the error for a members/auth/stats `{"message": ...}` reply, by HTTP status. */
export function messageError(message: string, ctx: ReplyContext): EtcdError {
  const status = ctx.reply.status;
  const code = messageCode(status, message);
  return new EtcdError(code, `${status}: ${message}`, {
    endpoint: ctx.endpoint,
    status,
    serverMessage: message,
    delivery: status >= 500 ? "pending" : undefined,
    response: ctx.reply,
  });
}

function messageCode(status: number, message: string): EtcdErrorCode {
  if (status === 403 && NOT_LEADER.test(message)) return "NOT_LEADER";
  if (status >= 500) return ELECTION.test(message) ? "LEADER_ELECT" : "SERVER_ERROR";
  return V2_MESSAGE_STATUS_CODES[status] ?? "UNEXPECTED_STATUS";
}

/**
 * A reply that is not etcd JSON: a proxy's error page, etcd's text 405, an HTML 502. A 5xx is
 * the member (or the proxy in front of it) failing; other statuses are answers.
 */
export function statusError(ctx: ReplyContext): EtcdError {
  const { status, body } = ctx.reply;
  if (status === 404 && body.trim() === GO_NOT_FOUND) return v2UnavailableError(ctx);
  const excerpt = body.trim().slice(0, 120).replace(/\s+/g, " ");
  const detail = excerpt === "" ? "" : `: ${excerpt}`;
  return new EtcdError("UNEXPECTED_STATUS", `${ctx.endpoint} answered HTTP ${status}${detail}`, {
    endpoint: ctx.endpoint,
    status,
    delivery: status >= 500 ? "pending" : undefined,
    response: ctx.reply,
  });
}

/**
 * Go's plain-text `http.NotFound` body. etcd answers every v2 path with it when the v2 API is off
 * (3.4 and 3.5 without `--enable-v2`, and 3.6, which has no v2 API): its v2 handlers answer a
 * missing key with JSON (errorCode 100), never with this text.
 */
const GO_NOT_FOUND = "404 page not found";

/** The v2 API is not served by this member: say how to turn it on, or to use the v3 client. */
export function v2UnavailableError(ctx: ReplyContext): EtcdError {
  return new EtcdError(
    "V2_UNAVAILABLE",
    `${ctx.endpoint} does not serve the v2 API (HTTP 404 "${GO_NOT_FOUND}"): start etcd with --enable-v2=true (etcd 3.4 and 3.5; etcd 3.6 has no v2 API), or use the v3 client (EtcdV3Client)`,
    { endpoint: ctx.endpoint, status: 404, response: ctx.reply },
  );
}

/** A success status with no body: the connection was cut before the answer, or a proxy ate it. */
export function emptyResponseError(ctx: ReplyContext): EtcdError {
  return new EtcdError("EMPTY_RESPONSE", `${ctx.endpoint} answered HTTP ${ctx.reply.status} with an empty body`, {
    endpoint: ctx.endpoint,
    status: ctx.reply.status,
    delivery: "unknown",
    response: ctx.reply,
  });
}

/** A body that is not the JSON etcd sends: cut off mid-way, or not from etcd at all. */
export function malformedResponseError(ctx: ReplyContext, why: string): EtcdError {
  return new EtcdError("MALFORMED_RESPONSE", `${ctx.endpoint} answered HTTP ${ctx.reply.status} with a malformed body: ${why}`, {
    endpoint: ctx.endpoint,
    status: ctx.reply.status,
    delivery: "unknown",
    response: ctx.reply,
  });
}

/** The error for a reply whose status is not the one expected, from whatever its body says. */
export function errorFromReply(ctx: ReplyContext): EtcdError {
  const parsed = parseErrorBody(ctx.reply.body);
  if (parsed === undefined) return statusError(ctx);
  if (typeof parsed.errorCode === "number") {
    return keyError(
      {
        errorCode: parsed.errorCode,
        message: typeof parsed.message === "string" ? parsed.message : "",
        cause: typeof parsed.cause === "string" ? parsed.cause : undefined,
        index: typeof parsed.index === "number" ? parsed.index : undefined,
      },
      ctx,
    );
  }
  if (typeof parsed.message === "string") return messageError(parsed.message, ctx);
  return statusError(ctx);
}

function parseErrorBody(body: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The oldest index still in the watch history, from "the requested history has been cleared [start/asked]". */
function historyStart(cause: string): number | undefined {
  const match = HISTORY_CLEARED.exec(cause);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

function positive(n: number | undefined): number | undefined {
  return n !== undefined && n > 0 ? n : undefined;
}
