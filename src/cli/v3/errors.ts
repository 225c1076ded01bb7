/**
 * How etcdctl v3 ends: its exit codes (etcd's `cobrautl`) and the text of the error its Go client
 * would have returned. clientv3 hands back etcd's own message for errors it knows
 * ("etcdserver: mvcc: required revision has been compacted"), gRPC's `rpc error: code = … desc = …`
 * for the rest, and "context deadline exceeded" when `--command-timeout` ran out, which is also
 * what a cluster that cannot be reached ends in.
 */
import type { EtcdError } from "../../errors.js";

/** etcdctl v3's exit codes. */
export const EXIT = Object.freeze({
  success: 0,
  error: 1,
  badConnection: 2,
  /** A bad txn or watch request read from stdin. */
  invalidInput: 3,
  /** A valid flag with a value the command does not support (output format, sort order). */
  badFeature: 4,
  interrupted: 5,
  io: 6,
  /** Wrong arguments. */
  badArgs: 128,
});

const GRPC_CODE_NAMES = [
  "OK",
  "Canceled",
  "Unknown",
  "InvalidArgument",
  "DeadlineExceeded",
  "NotFound",
  "AlreadyExists",
  "PermissionDenied",
  "ResourceExhausted",
  "FailedPrecondition",
  "Aborted",
  "OutOfRange",
  "Unimplemented",
  "Internal",
  "Unavailable",
  "DataLoss",
  "Unauthenticated",
];

// Failures clientv3 keeps retrying (a refused or untrusted connection, no leader) until the deadline.
const UNREACHABLE = new Set(["TIMEOUT", "UNAVAILABLE", "NO_LEADER", "NO_ENDPOINTS", "TLS_ERROR"]);

/**
 * The exit code etcdctl ends with for a failed request: clientv3 authenticates while it is
 * created, so a refused password ends as a failure to connect (2); everything else is 1.
 */
export function exitCodeOf(error: unknown): number {
  return isEtcdError(error) && error.code === "AUTH_FAILED" ? EXIT.badConnection : EXIT.error;
}

/** The `Error()` text of the error clientv3 would have returned for this failure. */
export function errorText(error: unknown): string {
  if (!isEtcdError(error)) return error instanceof Error ? error.message : String(error);
  const message = error.serverMessage;
  if (error.status !== undefined && message !== undefined && error.code !== "TIMEOUT") {
    // clientv3's rpctypes knows etcd's own errors and returns their text bare.
    if (message.startsWith("etcdserver: ") || message.startsWith("mvcc: ")) return message;
    return `rpc error: code = ${GRPC_CODE_NAMES[error.status] ?? `Code(${error.status})`} desc = ${message}`;
  }
  // clientv3 retries an unreachable cluster until the command's deadline, then reports the context's error.
  if (UNREACHABLE.has(error.code)) return "context deadline exceeded";
  return error.message;
}

function isEtcdError(error: unknown): error is EtcdError {
  return error instanceof Error && error.name === "EtcdError" && "code" in error;
}
