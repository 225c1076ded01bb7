/**
 * The v2 codec with no server: what bytes each request carries, how each reply is decoded, and
 * the complete table from etcd's error codes (and HTTP statuses) to ours.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  decodeKeyReply,
  deleteRequest,
  encodeKeyPath,
  encodeParams,
  getRequest,
  postRequest,
  putRequest,
  rawRequest,
} from "../../src/codec/v2.js";
import { V2_ERROR_CODES, V2_MESSAGE_STATUS_CODES, errorFromReply, v2ErrorCode } from "../../src/codec/v2-errors.js";
import {
  decodeHealth,
  decodeLeaderStats,
  decodeMachines,
  decodeMembers,
  decodeRole,
  decodeSelfStats,
  decodeUser,
  decodeUsers,
  roleBody,
} from "../../src/codec/v2-admin.js";
import { EtcdError, type EtcdErrorCode } from "../../src/errors.js";
import type { HttpReply } from "../../src/transport/http.js";

const EP = "http://127.0.0.1:2379";

function reply(status: number, body: unknown, headers: Record<string, string> = {}): HttpReply {
  return { status, headers, body: typeof body === "string" ? body : JSON.stringify(body) };
}

function thrown(fn: () => unknown): EtcdError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof EtcdError, `expected an EtcdError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected a throw");
}

describe("key encoding", () => {
  const cases: [string, string][] = [
    ["/foo", "/v2/keys/foo"],
    ["foo", "/v2/keys/foo"],
    ["/a b/c", "/v2/keys/a%20b/c"],
    ["/a+b", "/v2/keys/a%2Bb"],
    ["/100%", "/v2/keys/100%25"],
    ["/what?x=1", "/v2/keys/what%3Fx%3D1"],
    ["/tag#1", "/v2/keys/tag%231"],
    ["/ünï/日本", "/v2/keys/%C3%BCn%C3%AF/%E6%97%A5%E6%9C%AC"],
    ["/a//b/", "/v2/keys/a/b"],
    ["/", "/v2/keys/"],
    ["", "/v2/keys/"],
    ["/.hidden/_x", "/v2/keys/.hidden/_x"],
  ];
  for (const [key, path] of cases) {
    it(`sends ${JSON.stringify(key)} as ${path}`, () => {
      assert.equal(encodeKeyPath(key), path);
    });
  }

  it("refuses . and .. segments, which etcd would resolve to another key", () => {
    assert.equal(thrown(() => encodeKeyPath("/a/../b")).code, "INVALID_ARGUMENT");
    assert.equal(thrown(() => encodeKeyPath("/a/./b")).code, "INVALID_ARGUMENT");
  });

  it("refuses keys that are not strings or not valid unicode", () => {
    assert.equal(thrown(() => encodeKeyPath(42)).code, "INVALID_ARGUMENT");
    assert.equal(thrown(() => encodeKeyPath(undefined)).code, "INVALID_ARGUMENT");
    assert.equal(thrown(() => encodeKeyPath("/bad\uD800")).code, "INVALID_ARGUMENT");
  });

  it("encodes parameters with percent-encoding and leaves out undefined ones", () => {
    assert.equal(encodeParams({ value: "a b+c&d=e", ttl: undefined, x: "" }), "value=a%20b%2Bc%26d%3De&x=");
  });
});

describe("request building", () => {
  it("GET sends only the flags that are on", () => {
    assert.deepEqual(getRequest("/k", { recursive: true, sorted: false, quorum: true }), { method: "GET", path: "/v2/keys/k?recursive=true&quorum=true" });
    assert.deepEqual(getRequest("/k", {}), { method: "GET", path: "/v2/keys/k" });
  });

  it("PUT puts flags in the query and value, ttl and prevValue in the form", () => {
    const req = putRequest("/k", { value: "v", ttl: 5, prevExist: false, prevIndex: 7, prevValue: "old", noValueOnSuccess: true });
    assert.equal(req.method, "PUT");
    assert.equal(req.path, "/v2/keys/k?prevExist=false&prevIndex=7&noValueOnSuccess=true");
    assert.equal(req.body, "value=v&ttl=5&prevValue=old");
  });

  it("an empty value is sent, not left out (go-etcd dropped it)", () => {
    assert.equal(putRequest("/k", { value: "" }).body, "value=");
  });

  it("ttl null sends an empty ttl, which clears a TTL", () => {
    assert.equal(putRequest("/k", { value: "v", ttl: null, prevExist: true }).body, "value=v&ttl=");
  });

  it("an empty prevValue is sent for the server to judge", () => {
    assert.equal(putRequest("/k", { value: "v", prevValue: "" }).body, "value=v&prevValue=");
  });

  it("directories and refreshes carry no value", () => {
    assert.deepEqual(putRequest("/d", { dir: true, ttl: 3 }), { method: "PUT", path: "/v2/keys/d?dir=true", body: "ttl=3" });
    assert.deepEqual(putRequest("/k", { ttl: 9, refresh: true, prevExist: true }), {
      method: "PUT",
      path: "/v2/keys/k?prevExist=true&refresh=true",
      body: "ttl=9",
    });
  });

  it("POST creates in order with the value in the form", () => {
    assert.deepEqual(postRequest("/q", { value: "job", ttl: 10 }), { method: "POST", path: "/v2/keys/q", body: "value=job&ttl=10" });
    assert.deepEqual(postRequest("/q", { dir: true }), { method: "POST", path: "/v2/keys/q?dir=true", body: "" });
  });

  it("DELETE puts everything in the query, since etcd does not read DELETE bodies", () => {
    assert.deepEqual(deleteRequest("/k", { recursive: true, dir: true }), { method: "DELETE", path: "/v2/keys/k?recursive=true&dir=true" });
    assert.deepEqual(deleteRequest("/k", { prevValue: "a b", prevIndex: 3 }), { method: "DELETE", path: "/v2/keys/k?prevValue=a%20b&prevIndex=3" });
  });

  it("refuses values that are not strings, and TTLs and indexes that are not positive whole numbers", () => {
    assert.equal(thrown(() => putRequest("/k", { value: 5 as unknown as string })).code, "INVALID_ARGUMENT");
    for (const ttl of [0, -1, 1.5, Number.NaN, Infinity]) assert.equal(thrown(() => putRequest("/k", { value: "v", ttl })).code, "INVALID_ARGUMENT");
    assert.equal(thrown(() => putRequest("/k", { value: "v", ttl: "5" as unknown as number })).code, "INVALID_ARGUMENT");
    assert.equal(thrown(() => putRequest("/k", { value: "v", prevIndex: 0 })).code, "INVALID_ARGUMENT");
    assert.equal(thrown(() => deleteRequest("/k", { prevIndex: -2 })).code, "INVALID_ARGUMENT");
    assert.equal(thrown(() => postRequest("/k", { value: null as unknown as string })).code, "INVALID_ARGUMENT");
  });

  it("raw requests need an absolute path and encode query and form", () => {
    assert.deepEqual(rawRequest("PUT", "/v2/keys/x", { dir: "true" }, { ttl: "" }), { method: "PUT", path: "/v2/keys/x?dir=true", body: "ttl=" });
    assert.equal(thrown(() => rawRequest("GET", "v2/keys", {}, undefined)).code, "INVALID_ARGUMENT");
  });
});

describe("key reply decoding", () => {
  const headers = { "x-etcd-index": "12", "x-raft-index": "40", "x-raft-term": "3", "x-etcd-cluster-id": "cdf818194e3a8c32" };

  it("reads the node, the previous node and the index headers", () => {
    const body = {
      action: "compareAndSwap",
      node: { key: "/k", value: "new", expiration: "2030-01-01T00:00:00Z", ttl: 9, modifiedIndex: 12, createdIndex: 4 },
      prevNode: { key: "/k", value: "old", modifiedIndex: 4, createdIndex: 4 },
    };
    assert.deepEqual(decodeKeyReply(reply(200, body, headers), EP), {
      action: "compareAndSwap",
      node: { key: "/k", value: "new", expiration: "2030-01-01T00:00:00Z", ttl: 9, createdIndex: 4, modifiedIndex: 12 },
      prevNode: { key: "/k", value: "old", createdIndex: 4, modifiedIndex: 4 },
      etcdIndex: 12,
      raftIndex: 40,
      raftTerm: 3,
      clusterId: "cdf818194e3a8c32",
    });
  });

  it("reads the root directory, which has no key or indexes, and nested children", () => {
    const body = { action: "get", node: { dir: true, nodes: [{ key: "/d", dir: true, nodes: [{ key: "/d/a", value: "1", modifiedIndex: 2, createdIndex: 2 }], modifiedIndex: 2, createdIndex: 2 }] } };
    const res = decodeKeyReply(reply(200, body, headers), EP);
    assert.equal(res.node?.key, "/");
    assert.equal(res.node.nodes?.[0]?.nodes?.[0]?.value, "1");
  });

  it("accepts a reply without a node (noValueOnSuccess) and one without headers", () => {
    assert.deepEqual(decodeKeyReply(reply(201, { action: "set" }), EP), { action: "set", etcdIndex: 0 });
  });

  it("an empty 200 is EMPTY_RESPONSE, a possible delivery", () => {
    const e = thrown(() => decodeKeyReply(reply(200, ""), EP));
    assert.equal(e.code, "EMPTY_RESPONSE");
    assert.equal(e.delivery, "unknown");
    assert.equal(e.endpoint, EP);
  });

  it("a body cut off mid-way or of the wrong shape is MALFORMED_RESPONSE", () => {
    for (const body of ['{"action":"get","node":{"key":"/k","val', "<html>ok</html>", '{"node":{}}', '{"action":"get","node":{"key":5}}', "[]"]) {
      const e = thrown(() => decodeKeyReply(reply(200, body), EP));
      assert.equal(e.code, "MALFORMED_RESPONSE", body);
      assert.equal(e.delivery, "unknown");
    }
  });
});

// etcd's HTTP status for each errorCode (v2error.go): 100→404, 101/105→412, 102/108→403, 110→401, 300/301→500, else 400.
const STATUS_OF: Record<number, number> = { 100: 404, 101: 412, 105: 412, 102: 403, 108: 403, 110: 401, 300: 500, 301: 500 };
const TABLE: [number, EtcdErrorCode][] = [
  [100, "KEY_NOT_FOUND"],
  [101, "COMPARE_FAILED"],
  [102, "NOT_A_FILE"],
  [104, "NOT_A_DIRECTORY"],
  [105, "NODE_EXISTS"],
  [107, "ROOT_READ_ONLY"],
  [108, "DIR_NOT_EMPTY"],
  [110, "UNAUTHORIZED"],
  [201, "PREV_VALUE_REQUIRED"],
  [202, "TTL_NAN"],
  [203, "INDEX_NAN"],
  [209, "INVALID_FIELD"],
  [210, "INVALID_FORM"],
  [211, "REFRESH_VALUE"],
  [212, "REFRESH_TTL_REQUIRED"],
  [300, "RAFT_INTERNAL"],
  [301, "LEADER_ELECT"],
  [400, "WATCHER_CLEARED"],
  [401, "EVENT_INDEX_CLEARED"],
];

describe("the v2 error table", () => {
  it("lists exactly the codes of the table and nothing else", () => {
    assert.deepEqual(Object.keys(V2_ERROR_CODES).map(Number), TABLE.map(([n]) => n));
  });

  for (const [errorCode, code] of TABLE) {
    const status = STATUS_OF[errorCode] ?? 400;
    it(`${errorCode} (HTTP ${status}) is ${code} and keeps the server's fields`, () => {
      const body = { errorCode, message: `message ${errorCode}`, cause: "/foo", index: 12 };
      const e = thrown(() => decodeKeyReply(reply(status, body, { "x-etcd-index": "12" }), EP));
      assert.equal(e.code, code);
      assert.equal(v2ErrorCode(errorCode), code);
      assert.equal(e.errorCode, errorCode);
      assert.equal(e.serverMessage, `message ${errorCode}`);
      assert.equal(e.serverCause, "/foo");
      assert.equal(e.index, 12);
      assert.equal(e.status, status);
      assert.equal(e.endpoint, EP);
      assert.equal(e.message, `${errorCode}: message ${errorCode} (/foo) [12]`);
      assert.equal(e.delivery, errorCode === 300 || errorCode === 301 ? "pending" : undefined);
    });
  }

  it("an unknown errorCode is SERVER_ERROR, still keeping the server's fields", () => {
    const e = thrown(() => decodeKeyReply(reply(400, { errorCode: 103, message: "Too many levels", cause: "", index: 3 }), EP));
    assert.equal(e.code, "SERVER_ERROR");
    assert.equal(e.errorCode, 103);
    assert.equal(e.message, "103: Too many levels [3]");
    assert.equal(e.delivery, undefined);
  });

  it("uses go-etcd's message format", () => {
    const e = thrown(() => decodeKeyReply(reply(404, { errorCode: 100, message: "Key not found", cause: "/foo", index: 12 }), EP));
    assert.equal(e.message, "100: Key not found (/foo) [12]");
  });

  it("index 0 (input errors, 110) is not kept as an index, so a weak read never looks stale because of it", () => {
    const e = thrown(() => decodeKeyReply(reply(401, { errorCode: 110, message: "The request requires user authentication", cause: "Insufficient credentials", index: 0 }), EP));
    assert.equal(e.index, undefined);
    assert.equal(e.message, "110: The request requires user authentication (Insufficient credentials) [0]");
  });

  it("a raft timeout (300) may have been applied or may still be; a dropped proposal certainly was not", () => {
    const timeout = thrown(() => decodeKeyReply(reply(500, { errorCode: 300, message: "Raft Internal Error", cause: "etcdserver: request timed out", index: 0 }), EP));
    assert.equal(timeout.delivery, "pending");
    const dropped = thrown(() => decodeKeyReply(reply(500, { errorCode: 300, message: "Raft Internal Error", cause: "raft proposal dropped", index: 0 }), EP));
    assert.equal(dropped.code, "RAFT_INTERNAL");
    assert.equal(dropped.delivery, "unsent");
  });

  it("a cleared watch history says where the history now starts", () => {
    const body = { errorCode: 401, message: "The event in requested index is outdated and cleared", cause: "the requested history has been cleared [1008/3]", index: 2007 };
    const e = thrown(() => decodeKeyReply(reply(400, body), EP));
    assert.equal(e.resumeIndex, 1008);
    assert.equal(e.index, 2007);
  });
});

describe("members, auth and stats errors", () => {
  const byStatus: [number, EtcdErrorCode][] = Object.entries(V2_MESSAGE_STATUS_CODES).map(([s, c]) => [Number(s), c]);
  for (const [status, code] of byStatus) {
    it(`HTTP ${status} with a message is ${code}, an answer rather than a member failure`, () => {
      const e = errorFromReply({ endpoint: EP, reply: reply(status, { message: "auth: User nobody does not exist" }) });
      assert.equal(e.code, code);
      assert.equal(e.serverMessage, "auth: User nobody does not exist");
      assert.equal(e.status, status);
      assert.equal(e.delivery, undefined);
    });
  }

  it('403 "not current leader" from stats/leader is NOT_LEADER', () => {
    assert.equal(errorFromReply({ endpoint: EP, reply: reply(403, { message: "not current leader" }) }).code, "NOT_LEADER");
  });

  it("503 during an election is LEADER_ELECT and 500 is SERVER_ERROR, both member failures", () => {
    const election = errorFromReply({ endpoint: EP, reply: reply(503, { message: "During election" }) });
    assert.equal(election.code, "LEADER_ELECT");
    assert.equal(election.delivery, "pending");
    const timeout = errorFromReply({ endpoint: EP, reply: reply(500, { message: "etcdserver: request timed out" }) });
    assert.equal(timeout.code, "SERVER_ERROR");
    assert.equal(timeout.delivery, "pending");
  });

  it("an unlisted status with a message is UNEXPECTED_STATUS", () => {
    assert.equal(errorFromReply({ endpoint: EP, reply: reply(418, { message: "teapot" }) }).code, "UNEXPECTED_STATUS");
  });
});

describe("replies that are not etcd JSON", () => {
  it("a proxy's 502 HTML page is UNEXPECTED_STATUS and a member failure", () => {
    const e = thrown(() => decodeKeyReply(reply(502, "<html><body><h1>502 Bad Gateway</h1></body></html>"), EP));
    assert.equal(e.code, "UNEXPECTED_STATUS");
    assert.equal(e.status, 502);
    assert.equal(e.delivery, "pending");
    assert.match(e.message, /HTTP 502: <html>/);
  });

  it("a non-JSON 500, 503 and 504 are member failures too", () => {
    for (const status of [500, 503, 504]) assert.equal(thrown(() => decodeKeyReply(reply(status, "oops"), EP)).delivery, "pending");
  });

  it("etcd's text 405 is UNEXPECTED_STATUS and an answer", () => {
    const e = thrown(() => decodeKeyReply(reply(405, "Method Not Allowed\n"), EP));
    assert.equal(e.code, "UNEXPECTED_STATUS");
    assert.equal(e.delivery, undefined);
  });
});

describe("members, auth, stats and health decoding", () => {
  it("reads members, with null lists as empty ones", () => {
    const body = { members: [{ id: "8e9e05c52164694d", name: "a", peerURLs: ["http://127.0.0.1:2380"], clientURLs: ["http://127.0.0.1:2379"] }, { id: "2", peerURLs: ["http://x:2380"], clientURLs: null }] };
    assert.deepEqual(decodeMembers(body), [
      { id: "8e9e05c52164694d", name: "a", peerURLs: ["http://127.0.0.1:2380"], clientURLs: ["http://127.0.0.1:2379"] },
      { id: "2", name: "", peerURLs: ["http://x:2380"], clientURLs: [] },
    ]);
  });

  it("reads /v2/machines text", () => {
    assert.deepEqual(decodeMachines("http://a:2379, http://b:2379\n"), ["http://a:2379", "http://b:2379"]);
  });

  it("reads users whose roles come as names (writes) or as whole roles (reads)", () => {
    assert.deepEqual(decodeUser({ user: "alice", roles: ["r1"] }), { user: "alice", roles: ["r1"] });
    assert.deepEqual(decodeUser({ user: "bob", roles: null }), { user: "bob", roles: [] });
    const full = decodeUser({ user: "alice", roles: [{ role: "r1", permissions: { kv: { read: ["/a/*"], write: null } } }] });
    assert.deepEqual(full, { user: "alice", roles: ["r1"], roleDetails: [{ role: "r1", permissions: { kv: { read: ["/a/*"], write: [] } } }] });
    assert.deepEqual(decodeUsers({ users: null }), []);
  });

  it("builds role grants for read, write and both", () => {
    assert.deepEqual(roleBody("r", { verb: "grant", prefixes: ["/a/*"], permission: "readwrite" }), { role: "r", grant: { kv: { read: ["/a/*"], write: ["/a/*"] } } });
    assert.deepEqual(roleBody("r", { verb: "revoke", prefixes: ["/a"], permission: "write" }), { role: "r", revoke: { kv: { write: ["/a"] } } });
    assert.deepEqual(decodeRole({ role: "guest" }), { role: "guest", permissions: { kv: { read: [], write: [] } } });
  });

  it("reads stats, where the server leaves out zero rates", () => {
    const self = decodeSelfStats({ name: "a", id: "1", state: "StateLeader", startTime: "t", leaderInfo: { leader: "1", uptime: "1s", startTime: "t" }, recvAppendRequestCnt: 0, sendAppendRequestCnt: 5, sendPkgRate: 2.5 });
    assert.equal(self.sendPkgRate, 2.5);
    assert.equal("recvPkgRate" in self, false);
    const leader = decodeLeaderStats({ leader: "1", followers: { "2": { latency: { current: 1, average: 2, standardDeviation: 0, minimum: 1, maximum: 3 }, counts: { fail: 0, success: 9 } } } });
    assert.equal(leader.followers["2"]?.counts.success, 9);
  });

  it("reads health as etcd writes it (a string) and as a boolean", () => {
    assert.deepEqual(decodeHealth({ health: "true" }), { health: true });
    assert.deepEqual(decodeHealth({ health: "false", reason: "RAFT NO LEADER" }), { health: false, reason: "RAFT NO LEADER" });
    assert.deepEqual(decodeHealth({ health: true }), { health: true });
  });
});
