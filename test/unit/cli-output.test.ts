/**
 * The CLI's output formats with no server: each expected string is what etcdctl 3.4
 * (`ETCDCTL_API=2`) printed for the same reply, captured from a real run.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  formatLs,
  formatMember,
  formatMemberAdded,
  formatMemberEnv,
  formatResponse,
  formatRole,
  formatUser,
  formatWatchHeader,
  goResponseJson,
} from "../../src/cli/v2/output.js";
import { goJsonString } from "../../src/cli/shared/gojson.js";
import type { V2Response } from "../../src/index.js";

const setReply: V2Response = {
  action: "set",
  node: { key: "/a/x", value: "hello2", createdIndex: 5, modifiedIndex: 5 },
  prevNode: { key: "/a/x", value: "hello", createdIndex: 4, modifiedIndex: 4 },
  etcdIndex: 5,
};

const deleteReply: V2Response = {
  action: "delete",
  node: { key: "/e/s", createdIndex: 26, modifiedIndex: 34 },
  prevNode: { key: "/e/s", value: "from stdin", createdIndex: 26, modifiedIndex: 26 },
  etcdIndex: 34,
};

describe("formatResponse", () => {
  it("simple prints the value, or the previous value of a delete", () => {
    assert.equal(formatResponse(setReply, "simple"), "hello2\n");
    assert.equal(formatResponse(deleteReply, "simple"), "PrevNode.Value: from stdin\n");
  });

  it("extended prints etcdctl's header lines, the previous value when there is one, then the value", () => {
    assert.equal(formatResponse(setReply, "extended"), "Key: /a/x\nCreated-Index: 5\nModified-Index: 5\nPrevNode.Value: hello\nTTL: 0\nIndex: 5\n\nhello2\n");
    assert.equal(formatResponse(deleteReply, "extended"), "Key: /e/s\nCreated-Index: 26\nModified-Index: 34\nPrevNode.Value: from stdin\nTTL: 0\nIndex: 34\n");
  });

  it("extended shows a directory's empty value and a key's TTL", () => {
    const dir: V2Response = { action: "create", node: { key: "/c/d", dir: true, createdIndex: 17, modifiedIndex: 17 }, etcdIndex: 17 };
    assert.equal(formatResponse(dir, "extended"), "Key: /c/d\nCreated-Index: 17\nModified-Index: 17\nTTL: 0\nIndex: 17\n\n\n");
    const ttl: V2Response = { action: "get", node: { key: "/b/t", value: "v", ttl: 100, expiration: "2026-11-25T02:58:57.301739197Z", createdIndex: 7, modifiedIndex: 7 }, etcdIndex: 7 };
    assert.match(formatResponse(ttl, "extended"), /^TTL: 100$/m);
  });

  it("json is Go's rendering of the client's Response: nodes null, prevNode null, no header indexes", () => {
    const get: V2Response = { action: "get", node: { key: "/a/x", value: "hello3", createdIndex: 6, modifiedIndex: 6 }, etcdIndex: 6 };
    assert.equal(formatResponse(get, "json"), '{"action":"get","node":{"key":"/a/x","value":"hello3","nodes":null,"createdIndex":6,"modifiedIndex":6},"prevNode":null}\n');
  });

  it("json puts dir before value, keeps an empty value on directories, and ends with expiration and ttl", () => {
    const reply: V2Response = {
      action: "get",
      node: {
        key: "/l",
        dir: true,
        nodes: [{ key: "/l/a", value: "v", ttl: 5, expiration: "2026-11-25T02:58:57.3Z", createdIndex: 64, modifiedIndex: 64 }],
        createdIndex: 63,
        modifiedIndex: 63,
      },
      etcdIndex: 67,
    };
    assert.equal(
      goResponseJson(reply),
      '{"action":"get","node":{"key":"/l","dir":true,"value":"","nodes":[{"key":"/l/a","value":"v","nodes":null,"createdIndex":64,"modifiedIndex":64,"expiration":"2026-11-25T02:58:57.3Z","ttl":5}],"createdIndex":63,"modifiedIndex":63},"prevNode":null}',
    );
  });

  it("the root directory has an empty key, as in the Go client", () => {
    const root: V2Response = { action: "get", node: { key: "/", dir: true, createdIndex: 0, modifiedIndex: 0 }, etcdIndex: 9 };
    assert.equal(goResponseJson(root), '{"action":"get","node":{"key":"","dir":true,"value":"","nodes":null,"createdIndex":0,"modifiedIndex":0},"prevNode":null}');
    assert.match(formatResponse(root, "extended"), /^Key: $/m);
  });
});

describe("goJsonString", () => {
  it("escapes like Go's encoding/json: HTML characters, line separators and controls as \\u00XX", () => {
    assert.equal(goJsonString('<a&b>\u2028\u0001\tq"\\é'), '"\\u003ca\\u0026b\\u003e\\u2028\\u0001\\tq\\"\\\\é"');
    assert.equal(goJsonString("line\n\r\b\f"), '"line\\n\\r\\u0008\\u000c"');
  });
});

describe("formatLs", () => {
  const tree: V2Response = {
    action: "get",
    node: {
      key: "/l",
      dir: true,
      nodes: [
        { key: "/l/a", value: "v", createdIndex: 1, modifiedIndex: 1 },
        { key: "/l/b", dir: true, nodes: [{ key: "/l/b/x", value: "v", createdIndex: 2, modifiedIndex: 2 }], createdIndex: 2, modifiedIndex: 2 },
        { key: "/l/empty", dir: true, createdIndex: 3, modifiedIndex: 3 },
      ],
      createdIndex: 1,
      modifiedIndex: 1,
    },
    etcdIndex: 3,
  };

  it("lists children depth first, with -p marking directories", () => {
    assert.equal(formatLs(tree, false), "/l/a\n/l/b\n/l/b/x\n/l/empty\n");
    assert.equal(formatLs(tree, true), "/l/a\n/l/b/\n/l/b/x\n/l/empty/\n");
  });

  it("lists a file as itself and an empty directory as nothing", () => {
    assert.equal(formatLs({ action: "get", node: { key: "/l/a", value: "v", createdIndex: 1, modifiedIndex: 1 }, etcdIndex: 1 }, true), "/l/a\n");
    assert.equal(formatLs({ action: "get", node: { key: "/l/e", dir: true, createdIndex: 1, modifiedIndex: 1 }, etcdIndex: 1 }, false), "");
  });
});

describe("other commands' output", () => {
  it("watch --recursive heads each event with its action and key", () => {
    assert.equal(formatWatchHeader(setReply), "[set] /a/x\n");
  });

  it("member list marks the leader and shows members that never started", () => {
    const started = { id: "47ffc8d78cbcc5d", name: "cli-2", peerURLs: ["http://127.0.0.1:22455"], clientURLs: ["http://127.0.0.1:27591"] };
    assert.equal(formatMember(started, "47ffc8d78cbcc5d"), "47ffc8d78cbcc5d: name=cli-2 peerURLs=http://127.0.0.1:22455 clientURLs=http://127.0.0.1:27591 isLeader=true\n");
    const unstarted = { id: "43603d23b65a6e86", name: "", peerURLs: ["http://127.0.0.1:29996", "http://127.0.0.1:29997"], clientURLs: [] };
    assert.equal(formatMember(unstarted, "x"), "43603d23b65a6e86[unstarted]: peerURLs=http://127.0.0.1:29996,http://127.0.0.1:29997\n");
  });

  it("member add prints the new member's start-up settings with its given name", () => {
    const members = [
      { id: "1", name: "cli-2", peerURLs: ["http://127.0.0.1:22455"], clientURLs: [] },
      { id: "2", name: "", peerURLs: ["http://127.0.0.1:29998"], clientURLs: [] },
    ];
    assert.equal(formatMemberAdded("n9", "2"), "Added member named n9 with ID 2 to cluster\n");
    assert.equal(
      formatMemberEnv("n9", "2", members),
      '\nETCD_NAME="n9"\nETCD_INITIAL_CLUSTER="cli-2=http://127.0.0.1:22455,n9=http://127.0.0.1:29998"\nETCD_INITIAL_CLUSTER_STATE="existing"\n',
    );
  });

  it("user get keeps the Go client's extra space per role when the server sent whole roles", () => {
    const role = { role: "root", permissions: { kv: { read: ["/*"], write: ["/*"] } } };
    assert.equal(formatUser({ user: "u1", roles: ["ra", "rb", "root"], roleDetails: [role, role, role] }), "User: u1\nRoles:    ra rb root\n");
    assert.equal(formatUser({ user: "u2", roles: [] }), "User: u2\nRoles: \n");
    assert.equal(formatUser({ user: "u3", roles: ["a"] }), "User: u3\nRoles: a\n");
  });

  it("role get lists read and write patterns, tab-indented", () => {
    const role = { role: "r1", permissions: { kv: { read: ["/foo", "/foo/*"], write: ["/foo/*"] } } };
    assert.equal(formatRole(role), "Role: r1\nKV Read:\n\t/foo\n\t/foo/*\nKV Write:\n\t/foo/*\n");
  });
});
