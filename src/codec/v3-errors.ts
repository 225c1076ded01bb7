/**
 * The one table from etcd v3 (gRPC) server errors to `EtcdError` codes. etcd reports its errors
 * as a gRPC status plus a fixed message string (`api/v3rpc/rpctypes/error.go`); the string is
 * what tells them apart (several share InvalidArgument or Unavailable), so it is matched here and
 * nowhere else.
 *
 * As in the v2 table, only member failures get a `delivery` (the engine may go elsewhere); answers
 * about the data or the cluster get none, because another member would answer the same.
 */
import { EtcdError, type Delivery, type EtcdErrorCode } from "../errors.js";

/** gRPC status codes, by name, as the wire carries them in `grpc-status`. */
export const GRPC_STATUS = Object.freeze({
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
});

/** What one etcd message maps to: our code and, for member failures, the delivery. */
export interface V3ErrorRule {
  readonly code: EtcdErrorCode;
  readonly delivery?: Delivery | undefined;
}

/**
 * etcd's messages without their `etcdserver: ` prefix, mapped to our codes. Messages not listed
 * (user and role management, learners, downgrades) keep their text as GRPC_ERROR.
 */
export const V3_ERROR_MESSAGES: ReadonlyMap<string, V3ErrorRule> = new Map<string, V3ErrorRule>([
  ["mvcc: required revision has been compacted", { code: "COMPACTED" }],
  ["mvcc: required revision is a future revision", { code: "FUTURE_REVISION" }],
  ["requested lease not found", { code: "LEASE_NOT_FOUND" }],
  ["lease already exists", { code: "LEASE_EXISTS" }],
  ["permission denied", { code: "PERMISSION_DENIED" }],
  ["invalid auth token", { code: "INVALID_AUTH_TOKEN" }],
  // The token was issued before a change to users or roles: like an expired token, the request
  // was rejected unapplied and a fresh token fixes it, so callers treat both the same way.
  ["revision of auth store is old", { code: "INVALID_AUTH_TOKEN" }],
  ["authentication failed, invalid user ID or password", { code: "AUTH_FAILED" }],
  ["authentication is not enabled", { code: "AUTH_NOT_ENABLED" }],
  ["mvcc: database space exceeded", { code: "NO_SPACE" }],
  ["request is too large", { code: "REQUEST_TOO_LARGE" }],
  // Rejected by the member's own rate check before proposing: nothing happened.
  ["too many requests", { code: "TOO_MANY_REQUESTS", delivery: "unsent" }],
  // Sent by the require-leader check before the request runs.
  ["no leader", { code: "NO_LEADER", delivery: "unsent" }],
  // A learner refuses everything but serializable reads before running them.
  ["rpc not supported for learner", { code: "UNAVAILABLE", delivery: "unsent" }],
  ["key not found", { code: "KEY_NOT_FOUND" }],
  ["duplicate key given in txn request", { code: "DUPLICATE_KEY" }],
  ["too many operations in txn request", { code: "TOO_MANY_OPS" }],
  ["member not found", { code: "MEMBER_NOT_FOUND" }],
  ["member ID already exist", { code: "MEMBER_EXISTS" }],
  ["Peer URLs already exists", { code: "PEER_URL_EXISTS" }],
  ["unhealthy cluster", { code: "UNHEALTHY_CLUSTER" }],
  // User and role management: answers about the auth store, never retried.
  ["user name already exists", { code: "CONFLICT" }],
  ["role name already exists", { code: "CONFLICT" }],
  ["root user does not exist", { code: "CONFLICT" }],
  ["root user does not have root role", { code: "CONFLICT" }],
  ["user name not found", { code: "NOT_FOUND" }],
  ["role name not found", { code: "NOT_FOUND" }],
  ["role is not granted to the user", { code: "NOT_FOUND" }],
  ["permission is not granted to the role", { code: "NOT_FOUND" }],
  ["invalid auth management", { code: "FORBIDDEN" }],
  // A call without a token while auth is on (3.5 words it so; a fresh token fixes it).
  ["user name is empty", { code: "PERMISSION_DENIED" }],
  ["auth: authentication failed, password was given for no password user", { code: "AUTH_FAILED" }],
  ["not leader", { code: "NOT_LEADER" }],
  // The proposal may have been applied by the leader just as the member gave up on it.
  ["leader changed", { code: "UNAVAILABLE", delivery: "unknown" }],
  ["server stopped", { code: "UNAVAILABLE", delivery: "unknown" }],
  ["not capable", { code: "UNAVAILABLE", delivery: "unknown" }],
  // Go's context error: the server gave up at the caller's own grpc-timeout (etcd 3.4 sends it as
  // UNKNOWN, later gRPC servers as DEADLINE_EXCEEDED). A write may have been proposed before it
  // gave up and may still commit, so it is pending: a write reports OUTCOME_UNKNOWN, never "not applied".
  ["context deadline exceeded", { code: "TIMEOUT", delivery: "pending" }],
  // etcd stopped waiting for a proposal because the request's context was cancelled on its side
  // (sent as UNKNOWN): the proposal may already be in the log and commit later, as after a timeout.
  // A 30-minute torture run met one on a txn, which was then counted as "not applied".
  ["request cancelled", { code: "UNAVAILABLE", delivery: "pending" }],
]);

const PREFIX = "etcdserver: ";
// etcd's raft wait gave up; the proposal is still in the log and may commit later. Every variant
// ("…, possibly due to previous leader failure", "…connection lost", …) starts this way.
const TIMED_OUT = "request timed out";

/** Maps a non-zero grpc-status and its decoded grpc-message to an EtcdError. */
export function grpcError(status: number, message: string, endpoint: string | undefined): EtcdError {
  const bare = bareMessage(message);
  const rule = ruleFor(status, bare);
  const where = endpoint === undefined ? "" : `${endpoint}: `;
  const text = message === "" ? `gRPC status ${status}` : message;
  return new EtcdError(rule.code, `${where}${text}`, { endpoint, status, serverMessage: message, delivery: rule.delivery });
}

// etcd wraps some errors a second time as text, e.g. a watch's cancel reason
// "rpc error: code = Unauthenticated desc = etcdserver: invalid auth token".
const WRAPPED = /^rpc error: code = \w+ desc = /;

/** An etcd message without its "rpc error: … desc = " wrapper and "etcdserver: " prefix, as the table keys it. */
export function bareMessage(message: string): string {
  const unwrapped = message.replace(WRAPPED, "");
  return unwrapped.startsWith(PREFIX) ? unwrapped.slice(PREFIX.length) : unwrapped;
}

function ruleFor(status: number, bare: string): V3ErrorRule {
  const known = V3_ERROR_MESSAGES.get(bare);
  if (known !== undefined) return known;
  if (bare.startsWith(TIMED_OUT)) return { code: "UNAVAILABLE", delivery: "pending" };
  // Plain UNAVAILABLE without an etcd message comes from gRPC itself (a proxy, a server going
  // away): the request may or may not have run.
  if (status === GRPC_STATUS.UNAVAILABLE) return { code: "UNAVAILABLE", delivery: "unknown" };
  if (status === GRPC_STATUS.DEADLINE_EXCEEDED) return { code: "TIMEOUT", delivery: "pending" };
  return { code: "GRPC_ERROR" };
}
