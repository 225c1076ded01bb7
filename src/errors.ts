/**
 * Every failure etcd-ts reports is an `EtcdError` with a stable string `code`.
 *
 * This file is also the one place that decides whether a failed request may be sent again
 * (`canRetry`): the endpoint engine, the default retry policy and the docs all read it.
 */

/** Stable error codes; callers switch on these, never on message text. */
export type EtcdErrorCode =
  // v2 key-space errors sent by the server (see codec/v2-errors.ts for the table).
  | "KEY_NOT_FOUND"
  | "COMPARE_FAILED"
  | "NOT_A_FILE"
  | "NOT_A_DIRECTORY"
  | "NODE_EXISTS"
  | "ROOT_READ_ONLY"
  | "DIR_NOT_EMPTY"
  | "UNAUTHORIZED"
  | "PREV_VALUE_REQUIRED"
  | "TTL_NAN"
  | "INDEX_NAN"
  | "INVALID_FIELD"
  | "INVALID_FORM"
  | "REFRESH_VALUE"
  | "REFRESH_TTL_REQUIRED"
  | "RAFT_INTERNAL"
  | "LEADER_ELECT"
  | "WATCHER_CLEARED"
  | "EVENT_INDEX_CLEARED"
  | "SERVER_ERROR"
  // Errors of the members, auth and stats APIs, which answer with `{"message": ...}` bodies.
  | "NOT_FOUND"
  | "CONFLICT"
  | "FORBIDDEN"
  | "BAD_REQUEST"
  | "GONE"
  | "NOT_LEADER"
  // Client-side failures.
  | "INVALID_ARGUMENT"
  | "UNAVAILABLE"
  | "TIMEOUT"
  | "OUTCOME_UNKNOWN"
  | "STALE_READ"
  | "MALFORMED_RESPONSE"
  | "EMPTY_RESPONSE"
  | "UNEXPECTED_STATUS"
  | "TLS_ERROR"
  | "NO_ENDPOINTS"
  | "CLIENT_CLOSED"
  | "COMPACTED"
  // v3 (gRPC) answers; see codec/v3-errors.ts for how status and message map to these.
  | "FUTURE_REVISION"
  | "LEASE_NOT_FOUND"
  | "LEASE_EXISTS"
  | "LEASE_LOST"
  | "PERMISSION_DENIED"
  | "INVALID_AUTH_TOKEN"
  | "AUTH_FAILED"
  | "AUTH_NOT_ENABLED"
  | "NO_SPACE"
  | "REQUEST_TOO_LARGE"
  | "TOO_MANY_REQUESTS"
  | "NO_LEADER"
  | "DUPLICATE_KEY"
  | "TOO_MANY_OPS"
  | "MEMBER_NOT_FOUND"
  | "MEMBER_EXISTS"
  | "PEER_URL_EXISTS"
  | "UNHEALTHY_CLUSTER"
  | "WATCH_CANCELED"
  // A snapshot whose bytes do not match the sha256 digest etcd sent after them, or that lacks one.
  | "SNAPSHOT_CORRUPT"
  | "GRPC_ERROR"
  // An HTTP/1.1 reply body past the client's maxResponseBytes (the connection is closed).
  | "RESPONSE_TOO_LARGE"
  // Calls and streams ended by `destroy()`.
  | "CLIENT_DESTROYED"
  // A v2 call to a cluster that does not serve the v2 API (etcd 3.4+ without --enable-v2).
  | "V2_UNAVAILABLE"
  // Transport limits (DEFAULTS): a reply message over maxMessageBytes; a full queue of calls waiting
  // for a stream (v3, maxPendingStreams) or a connection (v2, maxPendingRequests).
  | "MESSAGE_TOO_LARGE"
  | "PENDING_LIMIT"
  // Concurrency recipes (v3/concurrency): a session closed by its owner, a lock found lost, a
  // lock or leadership given up by its holder (the reason its signal aborts with).
  | "SESSION_CLOSED"
  | "LOCK_LOST"
  | "RELEASED"
  // The member is too old for the call (e.g. auth status on etcd 3.4).
  | "UNSUPPORTED"
  // A stored value is not in the form a typed read asked for (getNumber, getJson).
  | "BAD_VALUE";

/**
 * Whether a failed request could have reached the server and taken effect.
 * - `unsent`: it certainly did not take effect (refused connection, TLS handshake failure, a
 *   request abandoned before it was written, or the server said it dropped the proposal).
 * - `unknown`: it may have taken effect (the connection broke after it was written). Even a
 *   dead member may have forwarded it to the leader first, so it may still commit.
 * - `pending`: it may have taken effect, or may take effect much later: the member is hung
 *   (SIGSTOP) or cut off from its peers with the request in its buffers, or the server gave up
 *   waiting for raft.
 */
export type Delivery = "unsent" | "unknown" | "pending";

/** What the client's health probe found on a member when it gave up on the requests there. */
export type MemberHealth = "down" | "unresponsive" | "no-leader";

/** Fields an `EtcdError` may carry besides its code and message. */
export interface EtcdErrorFields {
  /** The member URL the failure came from. */
  readonly endpoint?: string | undefined;
  /** The HTTP status (v2) or gRPC status (v3) of the reply, when there was one. */
  readonly status?: number | undefined;
  /** The v2 server's numeric `errorCode`, kept as the server sent it. */
  readonly errorCode?: number | undefined;
  /** The server's own message text. */
  readonly serverMessage?: string | undefined;
  /** The server's cause text (for v2 key errors, usually the key). */
  readonly serverCause?: string | undefined;
  /** The etcd index the server reported with the error. */
  readonly index?: number | undefined;
  /** Set on failures of the member itself (as opposed to answers about the data). */
  readonly delivery?: Delivery | undefined;
  /** For `EVENT_INDEX_CLEARED` and `COMPACTED`: the index or revision the caller can resume from. */
  readonly resumeIndex?: number | undefined;
  /** For v3 `COMPACTED`: the revision the store is compacted to; watch from it or later. */
  readonly compactRevision?: bigint | undefined;
  /** Per-attempt errors, for failures after several members were tried. */
  readonly errors?: readonly EtcdError[] | undefined;
  /** The raw reply, when one arrived (status, headers and body for v2). */
  readonly response?: unknown;
  /** Set when the request was abandoned because a health probe found its member so. */
  readonly health?: MemberHealth | undefined;
  /** The underlying error. */
  readonly cause?: unknown;
}

/**
 * The brand every `EtcdError` carries. `Symbol.for` keys are shared across a process's realms and
 * module copies, so an error made by the ESM build is recognised by the CJS build (and by another
 * installed copy of the package), where `instanceof` would see two unrelated classes.
 */
const BRAND: unique symbol = Symbol.for("etcd-ts.error") as never;

/** The one error class of etcd-ts: a stable `code`, the server's own fields, and `cause`. */
export class EtcdError extends Error {
  /** Marks this object as an etcd-ts error for `isEtcdError` and `instanceof` across package copies. */
  declare readonly [BRAND]: true;
  /**
   * `x instanceof EtcdError` holds for an error from any copy of etcd-ts (ESM or CJS build,
   * or two installed versions), not only this module's class; subclasses keep the usual check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== EtcdError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return isEtcdError(value);
  }

  /** Stable machine-readable code. */
  readonly code: EtcdErrorCode;
  /** The member URL the failure came from, when one is known. */
  readonly endpoint: string | undefined;
  /** HTTP status (v2) or gRPC status (v3). */
  readonly status: number | undefined;
  /** The v2 server's `errorCode`. */
  readonly errorCode: number | undefined;
  /** The server's message text. */
  readonly serverMessage: string | undefined;
  /** The server's cause text. */
  readonly serverCause: string | undefined;
  /** The etcd index reported with the error. */
  readonly index: number | undefined;
  /** For member failures: could the request have taken effect. Undefined for answers about data. */
  readonly delivery: Delivery | undefined;
  /** Where a watch may resume after `EVENT_INDEX_CLEARED` or `COMPACTED`. */
  readonly resumeIndex: number | undefined;
  /** For v3 `COMPACTED`: the revision the store is compacted to. */
  readonly compactRevision: bigint | undefined;
  /** What each member answered, when several were tried. */
  readonly errors: readonly EtcdError[];
  /** The raw reply, when one arrived. */
  readonly response: unknown;
  /** Why the client abandoned the request on its member, when a health probe was the reason. */
  readonly health: MemberHealth | undefined;

  /** Builds an error with a code, a message and any of the optional fields. */
  constructor(code: EtcdErrorCode, message: string, fields: EtcdErrorFields = {}) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.name = "EtcdError";
    this.code = code;
    this.endpoint = fields.endpoint;
    this.status = fields.status;
    this.errorCode = fields.errorCode;
    this.serverMessage = fields.serverMessage;
    this.serverCause = fields.serverCause;
    this.index = fields.index;
    this.delivery = fields.delivery;
    this.resumeIndex = fields.resumeIndex;
    this.compactRevision = fields.compactRevision;
    this.errors = fields.errors ?? [];
    this.response = fields.response;
    this.health = fields.health;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** True when the member itself failed (so another member may answer), false for answers about data. */
  get memberFailure(): boolean {
    return this.delivery !== undefined;
  }

  /** True when this failure may be retried on another member for any operation (nothing reached the server). */
  get retryable(): boolean {
    return this.delivery === "unsent";
  }
}

/**
 * How an operation behaves when sent twice:
 * - `read`: it has no effect, so it can always be sent again;
 * - `idempotent`: alone, twice has the effect of once (set, update). With other writers it does
 *   not: a first copy that still commits lands before their writes and the second copy after
 *   them, undoing them. The default policy therefore re-sends it only when it was never sent; a
 *   custom `checkRetry` that knows a key has a single writer may decide otherwise;
 * - `once`: must never be sent twice (create, compare-and-swap, delete, in-order create).
 */
export type Repeat = "read" | "idempotent" | "once";

/**
 * The retry-safety rule, from two facts: could the request have reached the server, and does
 * re-sending it risk applying it twice. Only a request that never left, or a read, is re-sent;
 * answers about data (key not found, compare failed) are never retried.
 */
export function canRetry(error: EtcdError, repeat: Repeat): boolean {
  if (error.delivery === undefined) return false;
  return error.delivery === "unsent" || repeat === "read";
}

/** Whether `value` is an etcd-ts error, from this copy of the package or any other (ESM or CJS build). */
export function isEtcdError(value: unknown): value is EtcdError {
  return typeof value === "object" && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
}
