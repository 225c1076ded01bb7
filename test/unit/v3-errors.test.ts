/**
 * The v3 error table, exhaustively: every etcd message (as etcd 3.4 sends it, with its gRPC
 * status) maps to its code, and only member failures carry a delivery.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { GRPC_STATUS, V3_ERROR_MESSAGES, bareMessage, grpcError } from "../../src/codec/v3-errors.js";
import type { Delivery, EtcdErrorCode } from "../../src/errors.js";

const EP = "http://127.0.0.1:2379";
const S = GRPC_STATUS;

/** [grpc-status, grpc-message as etcd sends it, our code, delivery]. */
const CASES: readonly (readonly [number, string, EtcdErrorCode, Delivery | undefined])[] = [
  [S.OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted", "COMPACTED", undefined],
  [S.OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future revision", "FUTURE_REVISION", undefined],
  [S.NOT_FOUND, "etcdserver: requested lease not found", "LEASE_NOT_FOUND", undefined],
  [S.FAILED_PRECONDITION, "etcdserver: lease already exists", "LEASE_EXISTS", undefined],
  [S.PERMISSION_DENIED, "etcdserver: permission denied", "PERMISSION_DENIED", undefined],
  [S.UNAUTHENTICATED, "etcdserver: invalid auth token", "INVALID_AUTH_TOKEN", undefined],
  [S.INVALID_ARGUMENT, "etcdserver: revision of auth store is old", "INVALID_AUTH_TOKEN", undefined],
  [S.INVALID_ARGUMENT, "etcdserver: authentication failed, invalid user ID or password", "AUTH_FAILED", undefined],
  [S.FAILED_PRECONDITION, "etcdserver: authentication is not enabled", "AUTH_NOT_ENABLED", undefined],
  [S.RESOURCE_EXHAUSTED, "etcdserver: mvcc: database space exceeded", "NO_SPACE", undefined],
  [S.INVALID_ARGUMENT, "etcdserver: request is too large", "REQUEST_TOO_LARGE", undefined],
  [S.RESOURCE_EXHAUSTED, "etcdserver: too many requests", "TOO_MANY_REQUESTS", "unsent"],
  [S.UNAVAILABLE, "etcdserver: no leader", "NO_LEADER", "unsent"],
  [S.UNAVAILABLE, "etcdserver: rpc not supported for learner", "UNAVAILABLE", "unsent"],
  [S.INVALID_ARGUMENT, "etcdserver: key not found", "KEY_NOT_FOUND", undefined],
  [S.INVALID_ARGUMENT, "etcdserver: duplicate key given in txn request", "DUPLICATE_KEY", undefined],
  [S.INVALID_ARGUMENT, "etcdserver: too many operations in txn request", "TOO_MANY_OPS", undefined],
  [S.NOT_FOUND, "etcdserver: member not found", "MEMBER_NOT_FOUND", undefined],
  [S.FAILED_PRECONDITION, "etcdserver: member ID already exist", "MEMBER_EXISTS", undefined],
  [S.FAILED_PRECONDITION, "etcdserver: Peer URLs already exists", "PEER_URL_EXISTS", undefined],
  [S.UNAVAILABLE, "etcdserver: unhealthy cluster", "UNHEALTHY_CLUSTER", undefined],
  [S.UNAVAILABLE, "etcdserver: leader changed", "UNAVAILABLE", "unknown"],
  [S.UNAVAILABLE, "etcdserver: server stopped", "UNAVAILABLE", "unknown"],
  [S.UNAVAILABLE, "etcdserver: not capable", "UNAVAILABLE", "unknown"],
  [S.UNAVAILABLE, "etcdserver: request timed out", "UNAVAILABLE", "pending"],
  [S.UNAVAILABLE, "etcdserver: request timed out, possibly due to previous leader failure", "UNAVAILABLE", "pending"],
  [S.UNAVAILABLE, "etcdserver: request timed out, possibly due to connection lost", "UNAVAILABLE", "pending"],
  [S.UNAVAILABLE, "etcdserver: request timed out, waiting for the applied index took too long", "UNAVAILABLE", "pending"],
  [S.UNKNOWN, "etcdserver: request cancelled", "UNAVAILABLE", "pending"],
  // gRPC's own statuses, with no etcd message.
  [S.UNAVAILABLE, "", "UNAVAILABLE", "unknown"],
  [S.UNAVAILABLE, "transport is closing", "UNAVAILABLE", "unknown"],
  [S.DEADLINE_EXCEEDED, "context deadline exceeded", "TIMEOUT", "pending"],
  [S.UNKNOWN, "context deadline exceeded", "TIMEOUT", "pending"],
  [S.DEADLINE_EXCEEDED, "deadline exceeded after 0.3s", "TIMEOUT", "pending"],
  // User and role management answers.
  [S.FAILED_PRECONDITION, "etcdserver: user name already exists", "CONFLICT", undefined],
  [S.FAILED_PRECONDITION, "etcdserver: role name already exists", "CONFLICT", undefined],
  [S.FAILED_PRECONDITION, "etcdserver: root user does not exist", "CONFLICT", undefined],
  [S.FAILED_PRECONDITION, "etcdserver: root user does not have root role", "CONFLICT", undefined],
  [S.FAILED_PRECONDITION, "etcdserver: user name not found", "NOT_FOUND", undefined],
  [S.FAILED_PRECONDITION, "etcdserver: role name not found", "NOT_FOUND", undefined],
  [S.FAILED_PRECONDITION, "etcdserver: role is not granted to the user", "NOT_FOUND", undefined],
  [S.FAILED_PRECONDITION, "etcdserver: permission is not granted to the role", "NOT_FOUND", undefined],
  [S.INVALID_ARGUMENT, "etcdserver: invalid auth management", "FORBIDDEN", undefined],
  [S.INVALID_ARGUMENT, "etcdserver: user name is empty", "PERMISSION_DENIED", undefined],
  [S.INVALID_ARGUMENT, "auth: authentication failed, password was given for no password user", "AUTH_FAILED", undefined],
  [S.FAILED_PRECONDITION, "etcdserver: not leader", "NOT_LEADER", undefined],
  // A reason wrapped as text a second time (watch cancel reasons).
  [S.UNAUTHENTICATED, "rpc error: code = Unauthenticated desc = etcdserver: invalid auth token", "INVALID_AUTH_TOKEN", undefined],
  // Everything else keeps its text as GRPC_ERROR, with no delivery.
  [S.FAILED_PRECONDITION, "etcdserver: learner member is not started", "GRPC_ERROR", undefined],
  [S.OUT_OF_RANGE, "etcdserver: too large lease TTL", "GRPC_ERROR", undefined],
  [S.DATA_LOSS, "etcdserver: corrupt cluster", "GRPC_ERROR", undefined],
  [S.UNIMPLEMENTED, "unknown service etcdserverpb.Nope", "GRPC_ERROR", undefined],
  [S.CANCELLED, "context canceled", "GRPC_ERROR", undefined],
  [S.INTERNAL, "", "GRPC_ERROR", undefined],
];

describe("grpcError", () => {
  for (const [status, message, code, delivery] of CASES) {
    it(`${status} "${message}" → ${code}${delivery === undefined ? "" : ` (${delivery})`}`, () => {
      const e = grpcError(status, message, EP);
      assert.equal(e.code, code);
      assert.equal(e.delivery, delivery);
      assert.equal(e.status, status);
      assert.equal(e.serverMessage, message);
      assert.equal(e.endpoint, EP);
      assert.match(e.message, message === "" ? new RegExp(`gRPC status ${status}`) : new RegExp(message.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
    });
  }

  it("every message in the table is covered above", () => {
    const covered = new Set(CASES.map(([, m]) => bareMessage(m)));
    for (const message of V3_ERROR_MESSAGES.keys()) assert.ok(covered.has(message), message);
  });

  it("matches a message without the etcdserver: prefix too (as a gRPC proxy may pass it)", () => {
    assert.equal(grpcError(S.OUT_OF_RANGE, "mvcc: required revision has been compacted", EP).code, "COMPACTED");
  });

  it("leaves the endpoint out of the text when it is not known", () => {
    const e = grpcError(S.NOT_FOUND, "etcdserver: requested lease not found", undefined);
    assert.equal(e.message, "etcdserver: requested lease not found");
    assert.equal(e.endpoint, undefined);
  });

  it("is an answer about data unless the member failed: retryable only when unsent", () => {
    assert.equal(grpcError(S.UNAVAILABLE, "etcdserver: no leader", EP).retryable, true);
    assert.equal(grpcError(S.UNAVAILABLE, "etcdserver: request timed out", EP).retryable, false);
    assert.equal(grpcError(S.UNAVAILABLE, "etcdserver: request timed out", EP).memberFailure, true);
    assert.equal(grpcError(S.OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted", EP).memberFailure, false);
  });
});
