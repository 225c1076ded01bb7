/**
 * `etcd.namespace(prefix)` on a real 3-member cluster: keys are bare to the caller, stored under
 * the prefix (checked with the bare client), and stripped from every reply: kvs, prev_kv, txn
 * results at any depth, watch events, paged reads and lease key lists; range ends (prefix,
 * fromKey, "" for everything, explicit) stay inside the namespace.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { EtcdV3Client } from "../../src/index.js";
import type { KeyValue, TxnOpResult } from "../../src/v3/types.js";
import { startCluster, type Cluster } from "../harness/index.js";
import { rejectsWith } from "./util.js";

let cluster: Cluster;
let etcd: EtcdV3Client;
before(async () => {
  cluster = await startCluster({ size: 3 });
  etcd = new EtcdV3Client({ endpoints: cluster.endpoints() });
});
after(async () => {
  await etcd.close();
  await cluster.stop();
});

let n = 0;
/** A fresh namespace prefix, and a neighbour key that sorts right after every key under it. */
function fresh(): { prefix: string; neighbour: string } {
  const prefix = `${cluster.prefix(`ns${n++}`)}/`;
  // "0" is the byte after "/": the first key past the prefix.
  return { prefix, neighbour: `${prefix.slice(0, -1)}0` };
}

const keysOf = (kvs: readonly KeyValue[]): string[] => kvs.map((kv) => kv.key.toString());

describe("keys bare to the caller, prefixed on the wire", () => {
  it("put, get and delete use bare keys; the bare client finds them under the prefix; prevKv is stripped", async () => {
    const { prefix } = fresh();
    const ns = etcd.namespace(prefix);
    await ns.put("a", "1");
    const second = await ns.put("a", "2", { prevKv: true });
    assert.equal(second.prevKv?.key.toString(), "a");
    assert.equal(second.prevKv.value.toString(), "1");
    assert.deepEqual(keysOf((await etcd.get(prefix, { prefix: true })).kvs), [`${prefix}a`]);
    const got = await ns.get("a");
    assert.deepEqual(keysOf(got.kvs), ["a"]);
    assert.equal(got.kvs[0]?.value.toString(), "2");
    const deleted = await ns.delete("a", { prevKv: true });
    assert.equal(deleted.deleted, 1n);
    assert.deepEqual(keysOf(deleted.prevKvs), ["a"]);
    assert.equal((await etcd.get(`${prefix}a`)).count, 0n);
  });

  it("prefix, fromKey, explicit range ends and the empty key stay inside the namespace", async () => {
    const { prefix, neighbour } = fresh();
    const ns = etcd.namespace(prefix);
    await etcd.put(neighbour, "outside");
    for (const k of ["a", "b/1", "b/2", "c"]) await ns.put(k, k);
    assert.deepEqual(keysOf((await ns.get("b/", { prefix: true })).kvs), ["b/1", "b/2"]);
    assert.deepEqual(keysOf((await ns.get("", { prefix: true })).kvs), ["a", "b/1", "b/2", "c"]);
    assert.deepEqual(keysOf((await ns.get("b", { fromKey: true })).kvs), ["b/1", "b/2", "c"]);
    assert.deepEqual(keysOf((await ns.get("", { fromKey: true })).kvs), ["a", "b/1", "b/2", "c"]);
    assert.deepEqual(keysOf((await ns.get("a", { rangeEnd: "b/2" })).kvs), ["a", "b/1"]);
    assert.deepEqual(keysOf((await ns.get("a", { rangeEnd: "\0" })).kvs), ["a", "b/1", "b/2", "c"]);
    await rejectsWith(ns.get(""), "INVALID_ARGUMENT");
    const all = await ns.delete("", { prefix: true, prevKv: true });
    assert.deepEqual(keysOf(all.prevKvs), ["a", "b/1", "b/2", "c"]);
    assert.equal((await etcd.get(neighbour)).kvs[0]?.value.toString(), "outside", "the key just past the namespace survives");
  });

  it("a prefix ending in 0xff bytes ends where the prefix ends (not one key later, as Go's namespace does)", async () => {
    const base = cluster.prefix(`ns${n++}`);
    const prefix = Buffer.concat([Buffer.from(base), Buffer.from([0xff, 0xff])]);
    const after = Buffer.from(`${base.slice(0, -1)}${String.fromCharCode(base.charCodeAt(base.length - 1) + 1)}`);
    const ns = etcd.namespace(prefix);
    await ns.put("k", "in");
    await etcd.put(after, "just after the namespace");
    assert.deepEqual(keysOf((await ns.get("", { prefix: true })).kvs), ["k"]);
    assert.deepEqual(keysOf((await ns.get("k", { fromKey: true })).kvs), ["k"]);
  });

  it("getAll pages through the namespace with bare keys (a prefix by default, one key with prefix: false)", async () => {
    const { prefix, neighbour } = fresh();
    const ns = etcd.namespace(prefix);
    await etcd.put(neighbour, "outside");
    for (let i = 0; i < 7; i++) await ns.put(`k${i}`, String(i));
    const all: string[] = [];
    for await (const kv of ns.getAll("", { pageSize: 2 })) all.push(kv.key.toString());
    assert.deepEqual(all, ["k0", "k1", "k2", "k3", "k4", "k5", "k6"]);
    const one: string[] = [];
    for await (const kv of ns.getAll("k3", { prefix: false })) one.push(kv.key.toString());
    assert.deepEqual(one, ["k3"]);
    const from: string[] = [];
    for await (const kv of ns.getAll("k5", { fromKey: true, pageSize: 1 })) from.push(kv.key.toString());
    assert.deepEqual(from, ["k5", "k6"]);
  });

  it("txn compares, operates on and answers with bare keys, nested txns included", async () => {
    const { prefix } = fresh();
    const ns = etcd.namespace(prefix);
    const put = await ns.put("x", "1");
    await ns.put("d/1", "gone");
    const r = await ns.txn({
      compare: [
        { key: "x", target: "value", result: "==", value: "1" },
        { key: "x", target: "mod", result: "==", value: put.header.revision },
        { key: "nope/", target: "version", result: "==", value: 0, prefix: true },
      ],
      success: [
        { put: { key: "y", value: "2", prevKv: true } },
        { get: { key: "", prefix: true } },
        { delete: { key: "d/", prefix: true, prevKv: true } },
        { txn: { success: [{ get: { key: "x" } }] } },
      ],
    });
    assert.equal(r.succeeded, true);
    const [p, g, d, t] = r.responses as [TxnOpResult, TxnOpResult, TxnOpResult, TxnOpResult];
    assert.ok("put" in p && p.put.prevKv === undefined);
    assert.ok("get" in g);
    assert.deepEqual(keysOf(g.get.kvs), ["d/1", "x", "y"], "a txn read sees the put before it");
    assert.ok("delete" in d);
    assert.deepEqual(keysOf(d.delete.prevKvs), ["d/1"]);
    assert.ok("txn" in t && "get" in t.txn.responses[0]!);
    assert.deepEqual(keysOf(t.txn.responses[0].get.kvs), ["x"]);
    assert.deepEqual(keysOf((await etcd.get(prefix, { prefix: true })).kvs), [`${prefix}x`, `${prefix}y`]);
    const failed = await ns.txn({ compare: [{ key: "x", target: "value", result: "==", value: "other" }], failure: [{ get: { key: "y" } }] });
    assert.equal(failed.succeeded, false);
    assert.ok("get" in failed.responses[0]!);
    assert.deepEqual(keysOf(failed.responses[0].get.kvs), ["y"]);
  });

  it("watch events carry bare keys and bare prevKv, and only the namespace's keys", async () => {
    const { prefix, neighbour } = fresh();
    const ns = etcd.namespace(prefix);
    await ns.put("w", "0");
    const watch = ns.watch("", { prefix: true, prevKv: true });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await etcd.put(neighbour, "outside");
    await ns.put("w", "1");
    await ns.delete("w");
    const seen: string[] = [];
    for await (const event of watch) {
      seen.push(`${event.type} ${event.kv.key.toString()} prev=${event.prevKv?.key.toString()}:${event.prevKv?.value.toString()}`);
      if (seen.length === 2) break;
    }
    assert.deepEqual(seen, ["put w prev=w:0", "delete w prev=w:1"]);
  });

  it("lease timeToLive lists only the namespace's keys, bare; other lease calls reach the client's lease API", async () => {
    const { prefix } = fresh();
    const ns = etcd.namespace(prefix);
    const lease = await ns.lease.grant(30);
    await ns.put("leased", "v", { lease: lease.id });
    await etcd.put(`${prefix.slice(0, -1)}-other`, "v", { lease: lease.id });
    const ttl = await ns.lease.timeToLive(lease.id, { keys: true });
    assert.deepEqual(ttl.keys.map(String), ["leased"]);
    assert.equal((await etcd.lease.timeToLive(lease.id, { keys: true })).keys.length, 2);
    await ns.lease.revoke(lease.id);
    assert.equal((await ns.get("leased")).count, 0n);
  });

  it("stm inside a namespace reads and writes bare keys stored under the prefix", async () => {
    const { prefix } = fresh();
    const ns = etcd.namespace(prefix);
    await ns.put("a", "10");
    await ns.put("b", "0");
    const moved = await ns.stm(async (tx) => {
      const a = Number((await tx.get("a"))?.toString());
      const b = Number((await tx.get("b"))?.toString());
      tx.put("a", String(a - 4));
      tx.put("b", String(b + 4));
      return 4;
    });
    assert.equal(moved, 4);
    const stored = (await etcd.get(prefix, { prefix: true })).kvs.map((kv) => `${kv.key.toString()}=${kv.value.toString()}`);
    assert.deepEqual(stored, [`${prefix}a=6`, `${prefix}b=4`]);
  });

  it("namespaces nest, and call options (an aborted signal) pass through unchanged", async () => {
    const { prefix } = fresh();
    const inner = etcd.namespace(prefix).namespace("inner/");
    await inner.put("k", "v");
    assert.equal((await etcd.get(`${prefix}inner/k`)).kvs[0]?.value.toString(), "v");
    assert.deepEqual(keysOf((await inner.get("", { prefix: true })).kvs), ["k"]);
    const reason = new Error("stop");
    await assert.rejects(inner.get("k", { signal: AbortSignal.abort(reason) }), (e) => e === reason);
  });

  it("a mutex in a namespace has its key under the prefix, excludes a second holder, and passes on unlock", async () => {
    const { prefix } = fresh();
    const ns = etcd.namespace(prefix);
    const first = await ns.mutex("jobs/nightly", { ttl: 10 }).lock();
    assert.match(first.key, /^jobs\/nightly\/[0-9a-f]+$/, "the lock key is bare");
    const stored = await etcd.get(`${prefix}jobs/nightly/`, { prefix: true });
    assert.deepEqual(keysOf(stored.kvs), [`${prefix}${first.key}`]);
    assert.equal(stored.kvs[0]?.createRevision, first.revision);
    assert.equal(await ns.mutex("jobs/nightly", { ttl: 10 }).tryLock(), undefined, "held by the first");
    const outside = await etcd.mutex("jobs/nightly", { ttl: 10 }).tryLock();
    assert.ok(outside !== undefined, "the same name outside the namespace is another lock");
    await outside.unlock();
    const second = ns.mutex("jobs/nightly", { ttl: 10 }).lock();
    await new Promise((resolve) => setTimeout(resolve, 200));
    await first.unlock();
    const next = await second;
    assert.ok(next.revision > first.revision);
    assert.equal(await ns.withLock("jobs/other", (lock) => Promise.resolve(lock.key.startsWith("jobs/other/")), { ttl: 10 }), true);
    await next.unlock();
    assert.equal((await etcd.get(prefix, { prefix: true })).count, 0n, "no lock key left behind");
  });

  it("an election in a namespace: campaign, leader and observe see bare keys stored under the prefix", async () => {
    const { prefix } = fresh();
    const ns = etcd.namespace(prefix);
    const election = ns.election("svc/leader", { ttl: 10 });
    const a = await election.campaign("host-a");
    assert.match(a.key, /^svc\/leader\/[0-9a-f]+$/);
    assert.deepEqual(keysOf((await etcd.get(prefix, { prefix: true })).kvs), [`${prefix}${a.key}`]);
    const leader = await election.leader();
    assert.equal(leader?.key.toString(), a.key);
    assert.equal(leader.value.toString(), "host-a");
    const controller = new AbortController();
    const seen: string[] = [];
    const observing = (async () => {
      for await (const l of ns.election("svc/leader").observe({ signal: controller.signal })) {
        seen.push(l.value.toString());
        if (seen.length === 3) controller.abort();
      }
    })();
    const b = ns.election("svc/leader", { ttl: 10 }).campaign("host-b");
    await new Promise((resolve) => setTimeout(resolve, 200));
    await a.proclaim("host-a:8080");
    await new Promise((resolve) => setTimeout(resolve, 200));
    await a.resign();
    const lb = await b;
    await observing;
    assert.deepEqual(seen, ["host-a", "host-a:8080", "host-b"]);
    await lb.resign();
    assert.equal(await election.leader(), undefined);
  });
});
