/**
 * The v3 conveniences of issue 16 on a real cluster: typed single-key reads (string, JSON,
 * number, exists), a prefix read into a Map, the empty key and fromKey on get/delete/getAll/watch,
 * the JSON form of results, lease IDs in hex in messages, and auth.status(). The cluster is this
 * file's own, so "every key" is known.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { EtcdV3Client, toJsonSafe } from "../../src/index.js";
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

describe("typed single-key reads", () => {
  it("getString, getJson and getNumber read one key, undefined when it is absent", async () => {
    const p = `${cluster.prefix("typed")}/`;
    const first = await etcd.put(`${p}s`, "héllo");
    await etcd.put(`${p}s`, "later");
    await etcd.put(`${p}j`, JSON.stringify({ a: [1, 2], b: "x" }));
    await etcd.put(`${p}n`, " 42.5\n");
    assert.equal(await etcd.getString(`${p}s`), "later");
    assert.equal(await etcd.getString(`${p}s`, { revision: first.header.revision }), "héllo");
    assert.deepEqual(await etcd.getJson<{ a: number[]; b: string }>(`${p}j`), { a: [1, 2], b: "x" });
    assert.equal(await etcd.getNumber(`${p}n`), 42.5);
    for (const read of [etcd.getString(`${p}none`), etcd.getJson(`${p}none`), etcd.getNumber(`${p}none`)]) assert.equal(await read, undefined);
  });

  it("a value not in the form asked for is BAD_VALUE, naming the key", async () => {
    const p = `${cluster.prefix("bad")}/`;
    await etcd.put(`${p}text`, "not json, not 1");
    await etcd.put(`${p}empty`, "");
    const json = await rejectsWith(etcd.getJson(`${p}text`), "BAD_VALUE");
    assert.match(json.message, /bad\/text.*not JSON/);
    await rejectsWith(etcd.getNumber(`${p}text`), "BAD_VALUE");
    await rejectsWith(etcd.getNumber(`${p}empty`), "BAD_VALUE");
    assert.equal(await etcd.getString(`${p}empty`), "", "an empty value is there, not absent");
  });

  it("exists tells a present key (even with an empty value) from an absent one", async () => {
    const p = `${cluster.prefix("exists")}/`;
    await etcd.put(`${p}empty`, "");
    assert.equal(await etcd.exists(`${p}empty`), true);
    assert.equal(await etcd.exists(`${p}absent`), false);
    assert.equal(await etcd.exists(`${p}empty`, { serializable: true }), true);
  });

  it("getPrefixMap reads a prefix in pages into a Map of strings, JSON or Buffers", async () => {
    const p = `${cluster.prefix("map")}/`;
    for (let i = 0; i < 5; i++) await etcd.put(`${p}k${i}`, JSON.stringify({ i }));
    await etcd.put(`${p.slice(0, -1)}0`, "outside");
    const strings = await etcd.getPrefixMap(p, { pageSize: 2 });
    assert.deepEqual([...strings.keys()], [0, 1, 2, 3, 4].map((i) => `${p}k${i}`));
    assert.equal(strings.get(`${p}k3`), '{"i":3}');
    const json = await etcd.getPrefixMap(p, { as: "json" });
    assert.deepEqual(json.get(`${p}k4`), { i: 4 });
    const buffers = await etcd.getPrefixMap(p, { as: "buffer" });
    assert.ok(Buffer.isBuffer(buffers.get(`${p}k0`)));
    assert.equal((await etcd.getPrefixMap(`${p}none/`)).size, 0);
    await rejectsWith(etcd.getPrefixMap(p, { as: "xml" as "json" }), "INVALID_ARGUMENT");
    const ns = etcd.namespace(p);
    assert.deepEqual([...(await ns.getPrefixMap("k", { as: "json" })).entries()].slice(0, 1), [["k0", { i: 0 }]]);
    assert.equal(await ns.getNumber("k9"), undefined);
    assert.equal(await ns.exists("k1"), true);
  });
});

describe("the empty key and fromKey", () => {
  it('"" with prefix or fromKey covers every key for get, getAll and delete; fromKey covers every key from the key on', async () => {
    const p = `${cluster.prefix("range")}/`;
    for (const k of ["a", "b", "c"]) await etcd.put(`${p}${k}`, k);
    const all = await etcd.get("", { prefix: true, keysOnly: true });
    const fromEmpty = await etcd.get("", { fromKey: true, keysOnly: true });
    assert.ok(all.count >= 3n);
    assert.equal(fromEmpty.count, all.count);
    const everyKey: string[] = [];
    for await (const kv of etcd.getAll("", { pageSize: 3, keysOnly: true })) everyKey.push(kv.key.toString());
    assert.equal(BigInt(everyKey.length), all.count);
    assert.deepEqual(
      (await etcd.get(`${p}b`, { fromKey: true })).kvs.map((kv) => kv.key.toString()).filter((k) => k.startsWith(p)),
      [`${p}b`, `${p}c`],
    );
    const fromB: string[] = [];
    for await (const kv of etcd.getAll(`${p}b`, { fromKey: true })) if (kv.key.toString().startsWith(p)) fromB.push(kv.key.toString());
    assert.deepEqual(fromB, [`${p}b`, `${p}c`]);
    await rejectsWith(etcd.get(""), "INVALID_ARGUMENT");
    await rejectsWith(etcd.get("x", { fromKey: true, prefix: true }), "INVALID_ARGUMENT");
    const txn = await etcd.txn({ compare: [{ key: "", prefix: true, target: "create", result: ">", value: 0 }], success: [{ get: { key: `${p}c`, fromKey: true } }] });
    assert.equal(txn.succeeded, true);
  });

  it('a watch of "" with prefix sees a change of any key; a fromKey watch sees keys from its key on only', async () => {
    const p = `${cluster.prefix("watchall")}/`;
    const controller = new AbortController();
    const everything = etcd.watch("", { prefix: true, signal: controller.signal });
    const fromM = etcd.watch(`${p}m`, { fromKey: true, signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await etcd.put(`${p}a`, "1");
    await etcd.put(`${p}z`, "2");
    const first = await everything.next();
    assert.ok(first.done !== true);
    assert.equal(first.value.kv.key.toString(), `${p}a`);
    const m = await fromM.next();
    assert.ok(m.done !== true);
    assert.equal(m.value.kv.key.toString(), `${p}z`, "the key before m is not seen");
    controller.abort();
  });

  it("deletes everything from a key on with fromKey, and everything with the empty key", async () => {
    const p = `${cluster.prefix("delete")}/`;
    for (const k of ["a", "b", "c"]) await etcd.put(`${p}${k}`, k);
    const some = await etcd.delete(`${p}b`, { fromKey: true, prevKv: true });
    // Other tests' keys may sort after ours: fromKey deletes those too, and nothing before b.
    const deleted = some.prevKvs.map((kv) => kv.key.toString());
    assert.deepEqual(deleted.filter((k) => k.startsWith(p)), [`${p}b`, `${p}c`]);
    assert.ok(deleted.every((k) => k >= `${p}b`));
    assert.equal(await etcd.getString(`${p}a`), "a");
    const before = (await etcd.get("", { prefix: true, countOnly: true })).count;
    const all = await etcd.delete("", { prefix: true });
    assert.equal(all.deleted, before);
    assert.equal((await etcd.get("", { fromKey: true, countOnly: true })).count, 0n);
  });
});

describe("JSON form of results", () => {
  it("JSON.stringify of get, put, delete and txn results works: bigints as decimal strings, text as text, other bytes as { base64 }", async () => {
    const p = `${cluster.prefix("json")}/`;
    const put = await etcd.put(`${p}text`, "héllo", { prevKv: true });
    await etcd.put(`${p}bin`, Buffer.from([0xff, 0x00, 0xfe]));
    const got = JSON.parse(JSON.stringify(await etcd.get(p, { prefix: true }))) as {
      header: { revision: string };
      kvs: { key: unknown; value: unknown; createRevision: string; lease: string }[];
      count: string;
      more: boolean;
    };
    assert.equal(got.count, "2");
    assert.equal(got.more, false);
    assert.match(got.header.revision, /^\d+$/);
    assert.deepEqual(got.kvs.map((kv) => [kv.key, kv.value, kv.lease]), [
      [`${p}bin`, { base64: Buffer.from([0xff, 0x00, 0xfe]).toString("base64") }, "0"],
      [`${p}text`, "héllo", "0"],
    ]);
    assert.equal(got.kvs[1]?.createRevision, put.header.revision.toString());
    const txn = JSON.parse(JSON.stringify(await etcd.txn({ success: [{ get: { key: `${p}text` } }, { put: { key: `${p}x`, value: "1" } }] }))) as {
      succeeded: boolean;
      responses: [{ get: { kvs: { value: string }[] } }, { put: { header: { revision: string } } }];
    };
    assert.equal(txn.succeeded, true);
    assert.equal(txn.responses[0].get.kvs[0]?.value, "héllo");
    assert.doesNotThrow(() => JSON.stringify(put));
    assert.doesNotThrow(() => JSON.stringify(etcd.delete(`${p}x`).then((d) => JSON.stringify(d))));
    const inNamespace = JSON.parse(JSON.stringify(await etcd.namespace(p).get("text"))) as { kvs: { key: string }[] };
    assert.equal(inNamespace.kvs[0]?.key, "text");
    // Results are plain data still: deep equality and spreading ignore the toJSON.
    assert.deepEqual(Object.keys(put), ["header"]);
  });

  it("toJsonSafe converts anything else (a watch event, a big lease ID, a Map)", () => {
    assert.deepEqual(toJsonSafe({ id: 0xffffffffffffffffn, m: new Map([["k", Buffer.from("v")]]), list: [1n, undefined], skip: undefined }), {
      id: "18446744073709551615",
      m: { k: "v" },
      list: ["1", null],
    });
  });
});

describe("lease IDs in hex, auth status", () => {
  it("lease errors name the lease in etcdctl's 16-digit hex", async () => {
    const lease = await etcd.lease.grant(30);
    await etcd.lease.revoke(lease.id);
    const error = await rejectsWith(etcd.lease.keepAliveOnce(lease.id), "LEASE_NOT_FOUND");
    const hex = lease.id.toString(16).padStart(16, "0");
    assert.ok(error.message.includes(`lease ${hex}`), error.message);
    assert.ok(!error.message.includes(lease.id.toString(10)), error.message);
  });

  it("auth.status() says whether auth is on and its revision (etcd 3.5+); on 3.4 it is UNSUPPORTED", async () => {
    const version = (await etcd.maintenance.status()).version;
    if (version.startsWith("3.4.")) {
      await rejectsWith(etcd.auth.status(), "UNSUPPORTED");
      return;
    }
    const status = await etcd.auth.status();
    assert.equal(status.enabled, false);
    assert.equal(typeof status.authRevision, "bigint");
    await etcd.auth.users.add("root", "rootpw");
    await etcd.auth.users.grantRole("root", "root");
    const later = await etcd.auth.status();
    assert.ok(later.authRevision > status.authRevision, "user and role changes raise the auth revision");
  });
});
