/**
 * The v2 key space against a real 3-member etcd cluster: every key method, its options, and
 * every key error a real etcd produces.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { decodeKeyReply } from "../../src/codec/v2.js";
import { EtcdError, EtcdV2Client, type EtcdErrorCode, type RawResponse } from "../../src/index.js";
import { etcdVersion, startCluster, type Cluster } from "../harness/index.js";
import { CurlLog, rejectsWith, sleep } from "./util.js";

/** Decodes a raw error reply with the client's own codec, to check real etcd bytes against the error table. */
function decodeError(res: RawResponse): EtcdError {
  try {
    decodeKeyReply(res, "raw");
  } catch (error) {
    if (error instanceof EtcdError) return error;
    throw error;
  }
  assert.fail(`expected an error reply, got ${res.status} ${res.body}`);
}

describe("v2 keys on a 3-member cluster", () => {
  let cluster: Cluster;
  let client: EtcdV2Client;
  const curl = new CurlLog();

  before(async () => {
    cluster = await startCluster({ size: 3, name: "v2keys" });
    client = new EtcdV2Client({ endpoints: cluster.endpoints(), onCurl: curl.onCurl });
  });
  after(async () => {
    await client.close();
    await cluster.stop();
  });

  it("set then get returns the value, the node's indexes and the cluster headers", async () => {
    const key = `${cluster.prefix("set")}/foo`;
    const set = await client.set(key, "bar");
    assert.equal(set.action, "set");
    assert.equal(set.node?.key, key);
    assert.equal(set.node.value, "bar");
    assert.equal(set.prevNode, undefined);
    assert.ok(set.etcdIndex > 0 && set.node.modifiedIndex === set.etcdIndex);
    assert.ok((set.raftIndex ?? 0) > 0 && (set.raftTerm ?? 0) > 0);
    assert.match(set.clusterId ?? "", /^[0-9a-f]+$/);
    const got = await client.get(key);
    assert.equal(got.action, "get");
    assert.equal(got.node?.value, "bar");
    assert.ok(got.etcdIndex >= set.etcdIndex);
    const again = await client.set(key, "baz");
    assert.equal(again.prevNode?.value, "bar");
  });

  it("keys with spaces, +, %, ?, #, unicode and no leading slash reach etcd as written", async () => {
    const base = cluster.prefix("odd");
    const names = ["a b", "a+b", "100%", "what?x=1", "tag#1", "ünï日本", "semi;colon", "quote'\"", "amp&eq="];
    for (const name of names) {
      const key = `${base}/${name}`;
      const res = await client.set(key, name);
      assert.equal(res.node?.key, key, `set ${name}`);
      assert.equal((await client.get(key)).node?.value, name, `get ${name}`);
    }
    const listing = await client.get(base, { sorted: true });
    assert.deepEqual(listing.node?.nodes?.map((n) => n.key), names.map((n) => `${base}/${n}`).sort());
    const relative = await client.set(`${base.slice(1)}/rel`, "r");
    assert.equal(relative.node?.key, `${base}/rel`);
  });

  it("values that are strings of any content survive the form encoding", async () => {
    const key = `${cluster.prefix("values")}/v`;
    for (const value of ["", " ", "a+b c&d=e%20", "line1\nline2", "日本語", "x".repeat(100_000)]) {
      await client.set(key, value);
      assert.equal((await client.get(key)).node?.value, value);
    }
  });

  it("values and keys that are not strings are refused before anything is sent", async () => {
    curl.clear();
    await rejectsWith(client.set("/k", 42 as unknown as string), "INVALID_ARGUMENT");
    await rejectsWith(client.set("/k", undefined as unknown as string), "INVALID_ARGUMENT");
    await rejectsWith(client.create("/k", { a: 1 } as unknown as string), "INVALID_ARGUMENT");
    await rejectsWith(client.get(7 as unknown as string), "INVALID_ARGUMENT");
    await rejectsWith(client.set("/k", "v", { ttl: 0 }), "INVALID_ARGUMENT");
    await rejectsWith(client.refresh("/k", 2.5), "INVALID_ARGUMENT");
    assert.deepEqual(curl.keys(), []);
  });

  it("get recursive returns the subtree, sorted sorts it, and hidden keys stay hidden", async () => {
    const dir = cluster.prefix("tree");
    await client.set(`${dir}/b/x`, "1");
    await client.set(`${dir}/a`, "2");
    await client.set(`${dir}/_hidden`, "3");
    const flat = await client.get(dir, { sorted: true });
    assert.deepEqual(flat.node?.nodes?.map((n) => [n.key, n.dir === true, n.nodes === undefined]), [
      [`${dir}/a`, false, true],
      [`${dir}/b`, true, true],
    ]);
    const deep = await client.get(dir, { recursive: true, sorted: true });
    assert.equal(deep.node?.nodes?.[1]?.nodes?.[0]?.value, "1");
    assert.equal((await client.get(`${dir}/_hidden`)).node?.value, "3");
  });

  it("strong consistency sends quorum=true; weak sends none and can be overridden per call", async () => {
    const key = `${cluster.prefix("quorum")}/k`;
    await client.set(key, "v");
    curl.clear();
    await client.get(key);
    await client.get(key, { quorum: false });
    assert.match(curl.keys()[0] ?? "", /quorum=true/);
    assert.doesNotMatch(curl.keys()[1] ?? "", /quorum=/);
    const weakCurl = new CurlLog();
    const weak = new EtcdV2Client({ endpoints: cluster.endpoints(), consistency: "weak", onCurl: weakCurl.onCurl });
    try {
      assert.equal((await weak.get(key)).node?.value, "v");
      await weak.get(key, { quorum: true });
      assert.doesNotMatch(weakCurl.keys()[0] ?? "", /quorum=/);
      assert.match(weakCurl.keys()[1] ?? "", /quorum=true/);
    } finally {
      await weak.close();
    }
  });

  it("create makes a key only once (NODE_EXISTS after) and answers 'create'", async () => {
    const key = `${cluster.prefix("create")}/k`;
    const res = await client.create(key, "1");
    assert.equal(res.action, "create");
    const e = await rejectsWith(client.create(key, "2"), "NODE_EXISTS");
    assert.equal(e.errorCode, 105);
    assert.equal(e.status, 412);
    assert.equal(e.serverCause, key);
    assert.ok((e.index ?? 0) >= res.etcdIndex);
    assert.equal(e.message, `105: Key already exists (${key}) [${e.index ?? 0}]`);
  });

  it("update changes only existing keys (KEY_NOT_FOUND otherwise) and ttl null clears a TTL", async () => {
    const key = `${cluster.prefix("update")}/k`;
    await rejectsWith(client.update(key, "x"), "KEY_NOT_FOUND");
    await client.set(key, "1", { ttl: 100 });
    const kept = await client.update(key, "2", { ttl: 50 });
    assert.equal(kept.action, "update");
    assert.ok((kept.node?.ttl ?? 0) > 40);
    const cleared = await client.update(key, "3", { ttl: null });
    assert.equal(cleared.node?.ttl, undefined);
    assert.equal(cleared.node?.expiration, undefined);
    assert.equal(cleared.prevNode?.value, "2");
    assert.equal((await client.get(key)).node?.ttl, undefined);
  });

  it("a key written with ttl=1 is gone (KEY_NOT_FOUND) 2.5 s later", async () => {
    const key = `${cluster.prefix("ttl")}/k`;
    const res = await client.set(key, "v", { ttl: 1 });
    assert.equal(res.node?.ttl, 1);
    assert.ok(res.node.expiration !== undefined && !Number.isNaN(Date.parse(res.node.expiration)));
    await sleep(2_500);
    const e = await rejectsWith(client.get(key), "KEY_NOT_FOUND");
    assert.equal(e.errorCode, 100);
    assert.equal(e.status, 404);
  });

  it("refresh resets a TTL without changing the value; without a key it is KEY_NOT_FOUND", async () => {
    const key = `${cluster.prefix("refresh")}/k`;
    await client.set(key, "keep", { ttl: 2 });
    const res = await client.refresh(key, 60);
    assert.equal(res.node?.value, "keep");
    assert.ok((res.node.ttl ?? 0) > 50);
    await sleep(2_200);
    assert.equal((await client.get(key)).node?.value, "keep");
    await rejectsWith(client.refresh(`${key}-missing`, 5), "KEY_NOT_FOUND");
  });

  it("noValueOnSuccess answers with the action only", async () => {
    const key = `${cluster.prefix("novalue")}/k`;
    const set = await client.set(key, "v", { noValueOnSuccess: true });
    assert.equal(set.action, "set");
    assert.equal(set.node, undefined);
    assert.ok(set.etcdIndex > 0);
    const created = await client.create(`${key}2`, "v", { noValueOnSuccess: true });
    assert.equal(created.node, undefined);
    const updated = await client.update(key, "w", { noValueOnSuccess: true });
    assert.equal(updated.node, undefined);
    const swapped = await client.compareAndSwap(key, "x", { prevValue: "w", noValueOnSuccess: true });
    assert.equal(swapped.action, "compareAndSwap");
    assert.equal(swapped.node, undefined);
  });

  it("directories: setDir, createDir, updateDir, deleteDir and their errors", async () => {
    const dir = `${cluster.prefix("dirs")}/d`;
    const made = await client.createDir(dir);
    assert.equal(made.node?.dir, true);
    await rejectsWith(client.createDir(dir), "NODE_EXISTS");
    const e102 = await rejectsWith(client.set(dir, "v"), "NOT_A_FILE");
    assert.equal(e102.status, 403);
    if (etcdVersion().startsWith("3.4.")) {
      const ttl = await client.updateDir(dir, { ttl: 100 });
      assert.ok((ttl.node?.ttl ?? 0) > 90);
      const cleared = await client.updateDir(dir, { ttl: null });
      assert.equal(cleared.node?.ttl, undefined);
    } else {
      // etcd 3.5 refuses to update an existing directory over v2 (etcd-io/etcd#13589): error 300
      // "Raft Internal Error", cause "nodePath /1/<dir> : Not a file ()". 300 may follow an
      // applied write, so the client reports the outcome as unknown, with etcd's error inside.
      const e = await rejectsWith(client.updateDir(dir, { ttl: 100 }), "OUTCOME_UNKNOWN");
      assert.equal(e.errors.at(-1)?.errorCode, 300, e.message);
      assert.match(e.errors.at(-1)?.serverCause ?? "", /Not a file/);
    }
    await rejectsWith(client.updateDir(`${dir}-missing`), "KEY_NOT_FOUND");
    assert.equal((await client.setDir(`${dir}/sub`, { ttl: 100 })).node?.dir, true);
    // Why setDir is never sent twice: a second one on the same directory is refused.
    await rejectsWith(client.setDir(`${dir}/sub`), "NOT_A_FILE");
    const e108 = await rejectsWith(client.deleteDir(dir), "DIR_NOT_EMPTY");
    assert.equal(e108.errorCode, 108);
    assert.equal((await client.deleteDir(`${dir}/sub`)).action, "delete");
    await rejectsWith(client.delete(dir), "NOT_A_FILE");
    assert.equal((await client.deleteDir(dir)).action, "delete");
  });

  it("a file in the middle of a path is NOT_A_DIRECTORY", async () => {
    const file = `${cluster.prefix("notdir")}/file`;
    await client.set(file, "v");
    const e = await rejectsWith(client.set(`${file}/child`, "v"), "NOT_A_DIRECTORY");
    assert.equal(e.errorCode, 104);
    assert.equal(e.status, 400);
  });

  it("createInOrder and createInOrderDir make increasing keys in the directory", async () => {
    const queue = cluster.prefix("queue");
    const first = await client.createInOrder(queue, "job1");
    const second = await client.createInOrder(queue, "job2", { ttl: 100 });
    assert.equal(first.action, "create");
    assert.ok((first.node?.key ?? "") < (second.node?.key ?? ""));
    assert.match(first.node?.key ?? "", new RegExp(`^${queue}/\\d{20}$`));
    assert.ok((second.node?.ttl ?? 0) > 90);
    const listing = await client.get(queue, { sorted: true });
    assert.deepEqual(listing.node?.nodes?.map((n) => n.value), ["job1", "job2"]);
    const sub = await client.createInOrderDir(queue, { ttl: 100 });
    assert.equal(sub.node?.dir, true);
    assert.ok(sub.node.key > (second.node?.key ?? ""));
  });

  it("delete removes files, dir:true empty directories and recursive:true whole trees", async () => {
    const base = cluster.prefix("delete");
    await client.set(`${base}/f`, "v");
    const del = await client.delete(`${base}/f`);
    assert.equal(del.action, "delete");
    assert.equal(del.prevNode?.value, "v");
    await rejectsWith(client.delete(`${base}/f`), "KEY_NOT_FOUND");
    await client.setDir(`${base}/empty`);
    assert.equal((await client.delete(`${base}/empty`, { dir: true })).action, "delete");
    await client.set(`${base}/tree/a/b`, "v");
    await rejectsWith(client.delete(`${base}/tree`, { dir: true }), "DIR_NOT_EMPTY");
    await client.delete(`${base}/tree`, { recursive: true });
    await rejectsWith(client.get(`${base}/tree`), "KEY_NOT_FOUND");
  });

  it("compareAndSwap compares on value and on index, and COMPARE_FAILED says why", async () => {
    const key = `${cluster.prefix("cas")}/k`;
    const v1 = await client.set(key, "one");
    const swapped = await client.compareAndSwap(key, "two", { prevValue: "one" });
    assert.equal(swapped.action, "compareAndSwap");
    assert.equal(swapped.prevNode?.value, "one");
    const e = await rejectsWith(client.compareAndSwap(key, "three", { prevValue: "one" }), "COMPARE_FAILED");
    assert.equal(e.errorCode, 101);
    assert.equal(e.status, 412);
    assert.match(e.serverCause ?? "", /one != two/);
    await rejectsWith(client.compareAndSwap(key, "three", { prevIndex: v1.etcdIndex }), "COMPARE_FAILED");
    const byIndex = await client.compareAndSwap(key, "three", { prevIndex: swapped.node?.modifiedIndex ?? 0, ttl: 100 });
    assert.equal(byIndex.node?.value, "three");
    assert.ok((byIndex.node.ttl ?? 0) > 90);
    await rejectsWith(client.compareAndSwap(`${key}-missing`, "x", { prevValue: "y" }), "KEY_NOT_FOUND");
  });

  it("compare calls without a condition are refused unsent; an empty prevValue goes to etcd (201)", async () => {
    curl.clear();
    await rejectsWith(client.compareAndSwap("/k", "v", {}), "INVALID_ARGUMENT");
    await rejectsWith(client.compareAndDelete("/k", {}), "INVALID_ARGUMENT");
    await rejectsWith(client.compareAndSwap("/k", "v", { prevIndex: 0 }), "INVALID_ARGUMENT");
    assert.deepEqual(curl.keys(), []);
    const key = `${cluster.prefix("cas-empty")}/k`;
    await client.set(key, "");
    const e = await rejectsWith(client.compareAndSwap(key, "v", { prevValue: "" }), "PREV_VALUE_REQUIRED");
    assert.equal(e.errorCode, 201);
    assert.equal(e.index, undefined);
  });

  it("compareAndDelete deletes only on a match", async () => {
    const key = `${cluster.prefix("cad")}/k`;
    const set = await client.set(key, "v");
    await rejectsWith(client.compareAndDelete(key, { prevValue: "other" }), "COMPARE_FAILED");
    await rejectsWith(client.compareAndDelete(key, { prevIndex: set.etcdIndex + 1000 }), "COMPARE_FAILED");
    const res = await client.compareAndDelete(key, { prevValue: "v", prevIndex: set.etcdIndex });
    assert.equal(res.action, "compareAndDelete");
    await rejectsWith(client.get(key), "KEY_NOT_FOUND");
  });

  it("writes to / are ROOT_READ_ONLY, not a crash", async () => {
    const writes = [() => client.set("/", "v"), () => client.delete("/", { recursive: true }), () => client.deleteDir("/"), () => client.setDir("/")];
    for (const write of writes) {
      const e = await rejectsWith(write(), "ROOT_READ_ONLY");
      assert.equal(e.errorCode, 107);
      assert.equal(e.serverCause, "/");
    }
    assert.equal((await client.get("/")).node?.dir, true);
  });

  it("raw reaches what the typed methods refuse, and returns any status as it came", async () => {
    const key = `${cluster.prefix("raw")}/k`;
    await client.set(key, "v");
    const ok = await client.raw("GET", `/v2/keys${key}`, { query: { quorum: "true" } });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers["content-type"], "application/json");
    assert.equal((JSON.parse(ok.body) as { node: { value: string } }).node.value, "v");
    const missing = await client.raw("GET", `/v2/keys${key}-missing`);
    assert.equal(missing.status, 404);
    const head = await client.raw("HEAD", `/v2/keys${key}`);
    assert.equal(head.status, 200);
    await rejectsWith(client.raw("PATCH" as "GET", "/v2/keys"), "INVALID_ARGUMENT");
  });

  it("the input errors etcd itself reports (202, 203, 209, 210, 211, 212) keep their codes", async () => {
    const key = `${cluster.prefix("input")}/k`;
    await client.set(key, "v");
    const cases: [Parameters<EtcdV2Client["raw"]>, number, EtcdErrorCode][] = [
      [["PUT", `/v2/keys${key}`, { form: { value: "v", ttl: "soon" } }], 202, "TTL_NAN"],
      [["PUT", `/v2/keys${key}`, { query: { prevIndex: "first" }, form: { value: "v" } }], 203, "INDEX_NAN"],
      [["GET", `/v2/keys${key}`, { query: { recursive: "maybe" } }], 209, "INVALID_FIELD"],
      [["PUT", `/v2/keys${key}`, { query: { refresh: "true", prevExist: "true" }, form: { value: "x", ttl: "5" } }], 211, "REFRESH_VALUE"],
      [["PUT", `/v2/keys${key}`, { query: { refresh: "true", prevExist: "true" } }], 212, "REFRESH_TTL_REQUIRED"],
    ];
    for (const [args, errorCode, code] of cases) {
      const res = await client.raw(...args);
      assert.equal(res.status, 400);
      const e = decodeError(res);
      assert.equal(e.errorCode, errorCode);
      assert.equal(e.code, code);
      assert.equal(e.delivery, undefined);
    }
    // 210 needs a form body etcd cannot parse; raw encodes forms correctly, so go below it.
    const bad = await fetch(`${cluster.clientUrl(0)}/v2/keys${key}`, { method: "PUT", body: "value=%zz", headers: { "content-type": "application/x-www-form-urlencoded" } });
    const e210 = decodeError({ status: bad.status, headers: {}, body: await bad.text() });
    assert.equal(e210.code, "INVALID_FORM");
  });

  it("a watch from an index older than etcd's 1000-event history is EVENT_INDEX_CLEARED", async () => {
    const dir = cluster.prefix("history");
    const first = await client.set(`${dir}/k`, "0");
    const writes = Array.from({ length: 1010 }, (_, i) => i);
    for (let i = 0; i < writes.length; i += 100) {
      await Promise.all(writes.slice(i, i + 100).map((n) => client.set(`${dir}/k${n % 10}`, String(n))));
    }
    const res = await client.raw("GET", `/v2/keys${dir}`, { query: { wait: "true", recursive: "true", waitIndex: String(first.etcdIndex) } });
    assert.equal(res.status, 400);
    const e = decodeError(res);
    assert.equal(e.code, "EVENT_INDEX_CLEARED");
    assert.equal(e.errorCode, 401);
    assert.ok((e.resumeIndex ?? 0) > first.etcdIndex, `history starts at ${e.resumeIndex ?? "?"}`);
  });

  it("an aborted signal rejects with its reason; a timeout rejects with TIMEOUT", async () => {
    const key = `${cluster.prefix("abort")}/k`;
    const controller = new AbortController();
    const reason = new Error("caller gave up");
    const pending = client.raw("GET", `/v2/keys${key}`, { query: { wait: "true" }, signal: controller.signal });
    setTimeout(() => {
      controller.abort(reason);
    }, 100);
    await assert.rejects(pending, (e) => e === reason);
    await assert.rejects(client.get(key, { signal: AbortSignal.abort(reason) }), (e) => e === reason);
    const started = Date.now();
    await rejectsWith(client.raw("GET", `/v2/keys${key}`, { query: { wait: "true" }, timeout: 300 }), "TIMEOUT");
    assert.ok(Date.now() - started < 5_000);
  });

  it("the endpoint list can be read, replaced and synced, and only takes http(s) URLs or host:port", async () => {
    const one = new EtcdV2Client({ endpoints: [cluster.clientUrl(0)] });
    try {
      const seen = one.endpoints;
      assert.deepEqual(seen, [cluster.clientUrl(0)]);
      assert.notStrictEqual(seen, one.endpoints, "a copy, not the client's own list");
      const synced = await one.sync();
      assert.deepEqual([...synced].sort(), cluster.endpoints().sort());
      one.setEndpoints([cluster.clientUrl(1)]);
      assert.deepEqual(one.endpoints, [cluster.clientUrl(1)]);
      assert.throws(() => {
        one.setEndpoints(["ftp://127.0.0.1:1"]);
      }, (e) => e instanceof EtcdError && e.code === "INVALID_ARGUMENT");
      // etcdctl's bare host:port is taken as http://host:port.
      one.setEndpoints([cluster.clientUrl(2).replace("http://", "")]);
      assert.deepEqual(one.endpoints, [cluster.clientUrl(2)]);
      assert.throws(() => new EtcdV2Client({ endpoints: [] }), (e) => e instanceof EtcdError && e.code === "INVALID_ARGUMENT");
      assert.equal((await one.get("/")).node?.dir, true);
    } finally {
      await one.close();
    }
  });

  it("close is idempotent, fails later calls with CLIENT_CLOSED, and await using closes", async () => {
    const key = `${cluster.prefix("close")}/k`;
    const c = new EtcdV2Client({ endpoints: cluster.endpoints() });
    const inflight = c.set(key, "v");
    const closing = c.close();
    assert.equal((await inflight).node?.value, "v");
    await closing;
    await c.close();
    await rejectsWith(c.get(key), "CLIENT_CLOSED");
    let disposed: EtcdV2Client | undefined;
    {
      await using scoped = new EtcdV2Client({ endpoints: cluster.endpoints() });
      disposed = scoped;
      assert.equal((await scoped.get(key)).node?.value, "v");
    }
    await rejectsWith(disposed.get(key), "CLIENT_CLOSED");
  });
});
