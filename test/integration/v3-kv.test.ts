/**
 * The v3 KV API against a real 3-member cluster: every option of put, get, delete, getAll, txn
 * and compact; binary keys and values; bigint revisions; weak (serializable) reads; a paged
 * getAll over 10,000 keys that stays one snapshot while writes go on; and etcd's typed errors.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { EtcdError, EtcdV3Client } from "../../src/index.js";
import { GrpcTransport } from "../../src/transport/grpc.js";
import { LeaseGrantRequest, LeaseGrantResponse, LeaseRevokeRequest } from "../../src/v3/gen/etcdserverpb.js";
import { METHODS } from "../../src/v3/methods.js";
import type { KeyValue, TxnOp, TxnResult } from "../../src/v3/types.js";
import { sleep, startCluster, type Cluster } from "../harness/index.js";

let cluster: Cluster;
let etcd: EtcdV3Client;
let raw: GrpcTransport;
before(async () => {
  cluster = await startCluster({ size: 3 });
  etcd = new EtcdV3Client({ endpoints: cluster.endpoints() });
  raw = new GrpcTransport({ dialTimeout: 1000, keepAlive: 1000 });
});
after(async () => {
  await etcd.close();
  await raw.close();
  await cluster.stop();
});

/** Grants a lease over the raw transport (the lease module is written separately; only KV is under test here). */
async function grantLease(ttl: number): Promise<bigint> {
  const reply = await raw.unary(cluster.clientUrl(0), METHODS.leaseGrant, LeaseGrantRequest.encode({ TTL: BigInt(ttl), ID: 0n }).finish(), {
    signal: AbortSignal.timeout(5000),
  });
  return LeaseGrantResponse.decode(reply).ID;
}

async function revokeLease(id: bigint): Promise<void> {
  await raw.unary(cluster.clientUrl(0), METHODS.leaseRevoke, LeaseRevokeRequest.encode({ ID: id }).finish(), { signal: AbortSignal.timeout(5000) });
}

/** Resolves with the EtcdError a call fails with (and fails the test if it succeeds or throws anything else). */
async function failure(call: Promise<unknown>): Promise<EtcdError> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof EtcdError, `not an EtcdError: ${String(error)}`);
    return error;
  }
  assert.fail("the call succeeded");
}

const names = (kvs: readonly KeyValue[], prefix: string): string[] => kvs.map((kv) => kv.key.toString().slice(prefix.length));

describe("put and get", () => {
  it("round-trips binary, non-UTF-8 keys and values as Buffers, with bigint revisions and versions", async () => {
    const key = Buffer.concat([Buffer.from(cluster.prefix("bin")), Buffer.from([0x00, 0xff, 0xc3, 0x28, 0x80])]);
    const value = Buffer.from([0xff, 0xfe, 0x00, 0xc0, 0x80, 0xed, 0xa0, 0x80]);
    const first = await etcd.put(key, value);
    assert.equal(typeof first.header.revision, "bigint");
    assert.equal(typeof first.header.clusterId, "bigint");
    assert.equal(typeof first.header.memberId, "bigint");
    assert.ok(first.header.raftTerm > 0n);
    assert.equal(first.prevKv, undefined);
    const second = await etcd.put(key, new Uint8Array([1, 2, 3]).subarray(1));
    assert.equal(second.header.revision, first.header.revision + 1n);
    const got = await etcd.get(key);
    assert.equal(got.kvs.length, 1);
    const kv = got.kvs[0]!;
    assert.ok(Buffer.isBuffer(kv.key) && Buffer.isBuffer(kv.value));
    assert.ok(kv.key.equals(key));
    assert.deepEqual([...kv.value], [2, 3]);
    assert.deepEqual([kv.createRevision, kv.modRevision, kv.version, kv.lease], [first.header.revision, second.header.revision, 2n, 0n]);
    assert.equal(got.count, 1n);
    assert.equal(got.more, false);
    const old = await etcd.get(key, { revision: first.header.revision });
    assert.ok(old.kvs[0]?.value.equals(value), "the value read at the first revision is the first value, byte for byte");
    const big = Buffer.alloc(1024 * 1024, 0xab);
    await etcd.put(key, big);
    assert.ok((await etcd.get(key)).kvs[0]?.value.equals(big), "a 1 MiB value comes back whole");
  });

  it("prevKv returns the previous key; absent for a new key", async () => {
    const key = `${cluster.prefix("prev")}/k`;
    assert.equal((await etcd.put(key, "a", { prevKv: true })).prevKv, undefined);
    const r = await etcd.put(key, "b", { prevKv: true });
    assert.ok(r.prevKv !== undefined);
    assert.deepEqual([r.prevKv.value.toString(), r.prevKv.version], ["a", 1n]);
    assert.equal((await etcd.put(key, "c")).prevKv, undefined, "not asked for, not returned");
  });

  it("lease attaches the key to a lease; ignoreLease and ignoreValue change one of the two", async () => {
    const key = `${cluster.prefix("lease")}/k`;
    const id = await grantLease(60);
    await etcd.put(key, "v", { lease: id });
    assert.equal((await etcd.get(key)).kvs[0]?.lease, id);
    await etcd.put(key, "w", { ignoreLease: true });
    assert.deepEqual(
      (await etcd.get(key)).kvs.map((kv) => [kv.value.toString(), kv.lease]),
      [["w", id]],
    );
    await etcd.put(key, "", { ignoreValue: true, lease: 0n });
    assert.deepEqual(
      (await etcd.get(key)).kvs.map((kv) => [kv.value.toString(), kv.lease]),
      [["w", 0n]],
    );
    await etcd.put(key, "x", { lease: id });
    await revokeLease(id);
    assert.equal((await etcd.get(key)).kvs.length, 0, "revoking the lease deleted the key");
    assert.equal((await failure(etcd.put(key, "y", { lease: id }))).code, "LEASE_NOT_FOUND");
    assert.equal((await failure(etcd.put(`${key}-absent`, "", { ignoreValue: true }))).code, "KEY_NOT_FOUND");
  });
});

describe("get options", () => {
  let prefix = "";
  const p = (): string => prefix;
  // Keys written in an order that differs from key order, so each sort is visible.
  const writes: [string, string][] = [
    ["c", "1"],
    ["a", "3"],
    ["b", "2"],
    ["a", "4"],
    ["d", "0"],
    ["a", "5"],
  ];
  const revs = new Map<string, bigint>();
  let start: bigint;
  before(async () => {
    prefix = `${cluster.prefix("range")}/`;
    start = (await etcd.put(`${p().slice(0, -1)}-before`, "x")).header.revision;
    for (const [k, v] of writes) revs.set(`${k}${v}`, (await etcd.put(`${p()}${k}`, v)).header.revision);
    await etcd.put(`${p().slice(0, -1)}0`, "outside");
  });

  it("prefix, rangeEnd, and rangeEnd \\0", async () => {
    assert.deepEqual(names((await etcd.get(p(), { prefix: true })).kvs, p()), ["a", "b", "c", "d"]);
    assert.deepEqual(names((await etcd.get(`${p()}b`, { rangeEnd: `${p()}d` })).kvs, p()), ["b", "c"]);
    const all = await etcd.get(`${p()}c`, { rangeEnd: "\0" });
    assert.ok(names(all.kvs, p()).slice(0, 2).join() === "c,d" && all.kvs.some((kv) => kv.value.toString() === "outside"), "\\0 reads on past the prefix");
  });

  it("limit cuts the result short, with more and the full count", async () => {
    const r = await etcd.get(p(), { prefix: true, limit: 2 });
    assert.deepEqual(names(r.kvs, p()), ["a", "b"]);
    assert.equal(r.more, true);
    assert.equal(r.count, 4n);
    const all = await etcd.get(p(), { prefix: true, limit: 4n });
    assert.equal(all.more, false);
  });

  it("revision reads the past", async () => {
    const r = await etcd.get(p(), { prefix: true, revision: revs.get("b2")! });
    assert.deepEqual(
      r.kvs.map((kv) => `${kv.key.toString().slice(p().length)}=${kv.value.toString()}`),
      ["a=3", "b=2", "c=1"],
    );
    assert.equal((await etcd.get(p(), { prefix: true, revision: start })).kvs.length, 0);
  });

  it("keysOnly leaves values out; countOnly returns only the count", async () => {
    const keys = await etcd.get(p(), { prefix: true, keysOnly: true });
    assert.deepEqual(names(keys.kvs, p()), ["a", "b", "c", "d"]);
    assert.ok(keys.kvs.every((kv) => kv.value.length === 0 && kv.version > 0n));
    const count = await etcd.get(p(), { prefix: true, countOnly: true });
    assert.deepEqual([count.kvs.length, count.count], [0, 4n]);
  });

  it("sortOrder and sortTarget: key, version, create, mod, value", async () => {
    const sorted = async (sortTarget: "key" | "version" | "create" | "mod" | "value", sortOrder: "ascend" | "descend"): Promise<string> =>
      names((await etcd.get(p(), { prefix: true, sortTarget, sortOrder })).kvs, p()).join("");
    assert.equal(await sorted("key", "descend"), "dcba");
    assert.equal(await sorted("key", "ascend"), "abcd");
    // versions: a=3, b=c=d=1; ties keep key order.
    assert.equal((await sorted("version", "descend"))[0], "a");
    assert.equal(await sorted("create", "ascend"), "cabd");
    assert.equal(await sorted("mod", "ascend"), "cbda");
    assert.equal(await sorted("mod", "descend"), "adbc");
    // values: a=5, b=2, c=1, d=0.
    assert.equal(await sorted("value", "ascend"), "dcba");
    assert.equal(await sorted("value", "descend"), "abcd");
    assert.equal(names((await etcd.get(p(), { prefix: true, sortOrder: "none" })).kvs, p()).join(""), "abcd");
  });

  it("min/max mod and create revision filter the keys", async () => {
    const list = async (o: Parameters<EtcdV3Client["get"]>[1]): Promise<string> => names((await etcd.get(p(), { prefix: true, ...o })).kvs, p()).join("");
    assert.equal(await list({ minModRevision: revs.get("d0")! }), "ad");
    assert.equal(await list({ maxModRevision: revs.get("b2")! }), "bc");
    assert.equal(await list({ minCreateRevision: revs.get("b2")! }), "bd");
    assert.equal(await list({ maxCreateRevision: revs.get("a3")! }), "ac");
    assert.equal(await list({ minModRevision: revs.get("b2")!, maxModRevision: revs.get("d0")! }), "bd");
  });

  it("a weak client never reads behind its own writes; serializable: false overrides it", async () => {
    const weak = new EtcdV3Client({ endpoints: cluster.endpoints(), consistency: "weak" });
    try {
      for (let n = 6; n < 16; n++) {
        const written = await weak.put(`${p()}a`, String(n));
        const r = await weak.get(`${p()}a`);
        assert.ok(r.header.revision >= written.header.revision, `weak read at ${r.header.revision} after a write at ${written.header.revision}`);
        assert.equal(r.kvs[0]?.value.toString(), String(n));
      }
      await etcd.put(`${p()}a`, "6");
      assert.equal((await etcd.get(p(), { prefix: true, serializable: true })).count, 4n);
      assert.equal((await weak.get(p(), { prefix: true, serializable: false })).kvs[0]?.value.toString(), "6", "serializable: false is linearizable");
    } finally {
      await weak.close();
    }
  });
});

describe("delete", () => {
  it("one key, a prefix and a range, with prevKv and the number deleted", async () => {
    const p = `${cluster.prefix("del")}/`;
    for (const k of ["a", "b", "c", "d", "e/1", "e/2"]) await etcd.put(`${p}${k}`, `v${k}`);
    const one = await etcd.delete(`${p}a`);
    assert.deepEqual([one.deleted, one.prevKvs.length], [1n, 0]);
    const none = await etcd.delete(`${p}a`, { prevKv: true });
    assert.deepEqual([none.deleted, none.prevKvs.length], [0n, 0]);
    const range = await etcd.delete(`${p}b`, { rangeEnd: `${p}d`, prevKv: true });
    assert.equal(range.deleted, 2n);
    assert.deepEqual(
      range.prevKvs.map((kv) => kv.value.toString()),
      ["vb", "vc"],
    );
    const prefix = await etcd.delete(`${p}e/`, { prefix: true, prevKv: true });
    assert.deepEqual(names(prefix.prevKvs, p), ["e/1", "e/2"]);
    assert.ok(prefix.header.revision > range.header.revision);
    assert.deepEqual(names((await etcd.get(p, { prefix: true })).kvs, p), ["d"]);
  });
});

describe("txn", () => {
  it("every compare target and result decides the branch as etcd defines it", async () => {
    const key = `${cluster.prefix("cmp")}/k`;
    const lease = await grantLease(60);
    await etcd.put(key, "m");
    const w = await etcd.put(key, "m", { lease });
    const kv = (await etcd.get(key)).kvs[0]!;
    assert.equal(kv.version, 2n);
    const facts: Record<"value" | "version" | "create" | "mod" | "lease", [string | bigint, string | bigint, string | bigint]> = {
      // [below, equal, above] the key's current field
      value: ["l", "m", "n"],
      version: [1n, 2n, 3n],
      create: [kv.createRevision - 1n, kv.createRevision, kv.createRevision + 1n],
      mod: [w.header.revision - 1n, w.header.revision, w.header.revision + 1n],
      lease: [lease - 1n, lease, lease + 1n],
    };
    let checked = 0;
    for (const [target, [lo, eq, hi]] of Object.entries(facts) as [keyof typeof facts, [string | bigint, string | bigint, string | bigint]][]) {
      // [operand, result, expected]: the comparison reads "key's field <result> operand".
      const cases: [string | bigint, "==" | "!=" | "<" | ">", boolean][] = [
        [eq, "==", true],
        [lo, "==", false],
        [eq, "!=", false],
        [hi, "!=", true],
        [hi, "<", true],
        [eq, "<", false],
        [lo, ">", true],
        [eq, ">", false],
      ];
      for (const [value, result, expected] of cases) {
        const r = await etcd.txn({ compare: [{ key, target, result, value }], success: [{ get: { key, keysOnly: true } }], failure: [] });
        assert.equal(r.succeeded, expected, `${target} ${result} ${String(value)}`);
        assert.equal(r.responses.length, expected ? 1 : 0);
        checked++;
      }
    }
    assert.equal(checked, 40);
    await revokeLease(lease);
  });

  it("success and failure branches with put, get, delete and a nested txn, results in order", async () => {
    const p = `${cluster.prefix("txn")}/`;
    await etcd.put(`${p}gone`, "x");
    const ops: TxnOp[] = [
      { put: { key: `${p}a`, value: "1", prevKv: true } },
      { get: { key: p, prefix: true } },
      { delete: { key: `${p}gone`, prevKv: true } },
      {
        txn: {
          compare: [{ key: `${p}a`, target: "version", result: ">", value: 0 }],
          success: [{ put: { key: `${p}inner`, value: "never" } }],
          failure: [{ put: { key: `${p}inner`, value: "nested-failure" } }, { txn: { success: [{ get: { key: `${p}inner` } }] } }],
        },
      },
    ];
    const absent = [{ key: `${p}a`, target: "create" as const, result: "==" as const, value: 0 }];
    const r = await etcd.txn({ compare: absent, success: ops, failure: [{ get: { key: p, prefix: true } }] });
    assert.equal(r.succeeded, true);
    assert.deepEqual(r.responses.map((x) => Object.keys(x)[0]), ["put", "get", "delete", "txn"]);
    const [put, get, del, nested] = r.responses;
    assert.ok(put !== undefined && "put" in put && put.put.prevKv === undefined);
    // A read in a transaction sees the writes before it in the same transaction.
    assert.ok(get !== undefined && "get" in get);
    assert.deepEqual(names(get.get.kvs, p), ["a", "gone"]);
    assert.ok(del !== undefined && "delete" in del && del.delete.deleted === 1n && del.delete.prevKvs[0]?.value.toString() === "x");
    assert.ok(nested !== undefined && "txn" in nested);
    const inner: TxnResult = nested.txn;
    // etcd decides every branch, nested ones included, on the store as it was before the
    // transaction: the nested compare does not see the put of "a" before it.
    assert.equal(inner.succeeded, false, "the nested compare saw the store before the transaction");
    assert.equal(inner.responses.length, 2);
    const deeper = inner.responses[1];
    assert.ok(deeper !== undefined && "txn" in deeper && deeper.txn.succeeded);
    const deepGet = deeper.txn.responses[0];
    assert.ok(deepGet !== undefined && "get" in deepGet && deepGet.get.kvs[0]?.value.toString() === "nested-failure");
    // Every operation of one transaction is one revision.
    assert.equal((await etcd.get(`${p}inner`)).kvs[0]?.modRevision, r.header.revision);
    assert.equal((await etcd.get(`${p}a`)).kvs[0]?.modRevision, r.header.revision);
    // The same transaction again: the compare fails and the failure branch runs.
    const again = await etcd.txn({ compare: absent, success: ops, failure: [{ get: { key: p, prefix: true } }] });
    assert.equal(again.succeeded, false);
    assert.equal(again.header.revision, r.header.revision, "a failure branch that only reads writes nothing");
    const only = again.responses[0];
    assert.ok(only !== undefined && "get" in only);
    assert.deepEqual(names(only.get.kvs, p), ["a", "inner"]);
  });

  it("a transaction with only compares, and an empty one, answer with the branch taken", async () => {
    const r = await etcd.txn({ compare: [{ key: `${cluster.prefix("empty")}/k`, target: "version", result: "==", value: 0 }] });
    assert.deepEqual([r.succeeded, r.responses.length], [true, 0]);
    assert.equal((await etcd.txn({})).succeeded, true);
  });

  it("etcd's refusals are typed: DUPLICATE_KEY, TOO_MANY_OPS, FUTURE_REVISION", async () => {
    const p = `${cluster.prefix("txnerr")}/`;
    const dup = await failure(etcd.txn({ success: [{ put: { key: `${p}k`, value: "1" } }, { put: { key: `${p}k`, value: "2" } }] }));
    assert.equal(dup.code, "DUPLICATE_KEY");
    assert.equal(dup.delivery, undefined, "an answer about the request, not a member failure");
    const overlap = await failure(etcd.txn({ success: [{ delete: { key: p, prefix: true } }, { put: { key: `${p}k`, value: "1" } }] }));
    assert.equal(overlap.code, "DUPLICATE_KEY");
    assert.equal((await etcd.get(`${p}k`)).kvs.length, 0, "a refused transaction wrote nothing");
    const many: TxnOp[] = Array.from({ length: 129 }, (_, i) => ({ put: { key: `${p}m${i}`, value: "v" } }));
    assert.equal((await failure(etcd.txn({ success: many }))).code, "TOO_MANY_OPS");
    const now = (await etcd.get(`${p}k`)).header.revision;
    assert.equal((await failure(etcd.get(`${p}k`, { revision: now + 1000n }))).code, "FUTURE_REVISION");
    assert.equal((await failure(etcd.txn({ success: [{ get: { key: `${p}k`, revision: now + 1000n } }] }))).code, "FUTURE_REVISION");
  });
});

describe("compact", () => {
  it("physical compaction; reads at a compacted revision are COMPACTED; later revisions still read", async () => {
    const key = `${cluster.prefix("compact")}/k`;
    const r1 = (await etcd.put(key, "1")).header.revision;
    const r2 = (await etcd.put(key, "2")).header.revision;
    const r3 = (await etcd.put(key, "3")).header.revision;
    const done = await etcd.compact(r2, { physical: true });
    assert.ok(done.header.revision >= r3);
    const error = await failure(etcd.get(key, { revision: r1 }));
    assert.equal(error.code, "COMPACTED");
    assert.equal(error.delivery, undefined);
    if (error.compactRevision !== undefined) assert.equal(error.compactRevision, r2);
    assert.equal((await etcd.get(key, { revision: r2 })).kvs[0]?.value.toString(), "2");
    assert.equal((await failure(etcd.compact(r1))).code, "COMPACTED", "compacting to an older revision");
    assert.equal((await failure(etcd.compact(r3 + 1000n))).code, "FUTURE_REVISION");
    await etcd.compact(r3);
  });

  it("getAll whose snapshot is compacted mid-walk ends with COMPACTED", async () => {
    const p = `${cluster.prefix("walkcompact")}/`;
    for (let i = 0; i < 6; i++) await etcd.put(`${p}${i}`, "v");
    const walk = etcd.getAll(p, { pageSize: 2 });
    const first = await walk.next();
    assert.equal(first.done, false);
    const head = (await etcd.put(`${p}9`, "later")).header.revision;
    await etcd.compact(head);
    const seen: string[] = [];
    const error = await failure(
      (async () => {
        for (let r = await walk.next(); r.done !== true; r = await walk.next()) seen.push(r.value.key.toString());
      })(),
    );
    assert.equal(error.code, "COMPACTED");
    assert.ok(seen.length <= 1, `only the rest of the first page may come before the error, got ${seen.length}`);
  });
});

describe("getAll", () => {
  it("pages with pageSize, over a prefix, a range and keysOnly, each key once in order", async () => {
    const p = `${cluster.prefix("pages")}/`;
    const keys = Array.from({ length: 23 }, (_, i) => `${p}${String(i).padStart(2, "0")}`);
    await etcd.txn({ success: keys.map((key) => ({ put: { key, value: `v-${key}` } })) });
    await etcd.put(`${p.slice(0, -1)}0`, "outside");
    const walked: KeyValue[] = [];
    for await (const kv of etcd.getAll(p, { pageSize: 5 })) walked.push(kv);
    assert.deepEqual(
      walked.map((kv) => kv.key.toString()),
      keys,
    );
    assert.ok(walked.every((kv) => kv.value.toString() === `v-${kv.key.toString()}`));
    const ranged: string[] = [];
    for await (const kv of etcd.getAll(`${p}05`, { rangeEnd: `${p}12`, pageSize: 3, keysOnly: true })) {
      assert.equal(kv.value.length, 0);
      ranged.push(kv.key.toString().slice(p.length));
    }
    assert.deepEqual(ranged, ["05", "06", "07", "08", "09", "10", "11"]);
    const atStart: string[] = [];
    const rev = walked[0]!.modRevision;
    for await (const kv of etcd.getAll(p, { pageSize: 1000, revision: rev })) atStart.push(kv.key.toString());
    assert.equal(atStart.length, 23, "revision: the walk at the txn's revision");
    // Keys that are not valid UTF-8 and end in 0xff page correctly too.
    const bin = Buffer.concat([Buffer.from(p), Buffer.from([0xff])]);
    await etcd.put(Buffer.concat([bin, Buffer.from([0xff])]), "1");
    await etcd.put(Buffer.concat([bin, Buffer.from([0xff, 0x00])]), "2");
    await etcd.put(Buffer.concat([bin, Buffer.from([0xff, 0xff])]), "3");
    const binary: string[] = [];
    for await (const kv of etcd.getAll(bin, { pageSize: 1 })) binary.push(kv.value.toString());
    assert.deepEqual(binary, ["1", "2", "3"]);
  });

  it("10,000 keys while writes continue: one snapshot, no key twice, none missing", { timeout: 60_000 }, async (t) => {
    const p = `${cluster.prefix("snap")}/`;
    const key = (i: number): string => `${p}${String(i).padStart(6, "0")}`;
    for (let b = 0; b < 100; b++) {
      // Even numbers now; odd ones are created by the writer during the walk, between existing keys.
      await etcd.txn({ success: Array.from({ length: 100 }, (_, j) => ({ put: { key: key(2 * (b * 100 + j)), value: "0" } })) });
    }
    // Only this writer writes during the walk, and only puts inside the prefix: so every revision
    // from now on is a put of a key in the range, and the snapshot's revision is its largest modRevision.
    let stop = false;
    let acked = 0;
    const writer = (async () => {
      for (let n = 1; !stop; n++) {
        const i = (n * 7919) % 20_000;
        await etcd.put(key(i), String(n));
        acked++;
      }
    })();
    await sleep(100);
    const walked: KeyValue[] = [];
    let afterFirst = 0n;
    let ackedAtFirst = 0;
    for await (const kv of etcd.getAll(p, { pageSize: 500 })) {
      if (walked.length === 0) {
        afterFirst = (await etcd.get(p, { countOnly: true, prefix: true })).header.revision;
        ackedAtFirst = acked;
      }
      walked.push(kv);
      // A slow consumer: the writer gets time between pages.
      if (walked.length % 500 === 0) await sleep(20);
    }
    stop = true;
    await writer;
    const writesDuringWalk = acked - ackedAtFirst;
    t.diagnostic(`walked ${walked.length} keys; ${writesDuringWalk} puts acknowledged during the walk`);
    assert.ok(writesDuringWalk >= 20, `the writer must have written during the walk, only ${writesDuringWalk} puts`);
    const snapshot = walked.reduce((m, kv) => (kv.modRevision > m ? kv.modRevision : m), 0n);
    assert.ok(snapshot <= afterFirst, `a key modified at ${snapshot} was yielded, after the first page (<= ${afterFirst})`);
    const seen = new Set<string>();
    for (const kv of walked) {
      const k = kv.key.toString();
      assert.ok(!seen.has(k), `${k} yielded twice`);
      seen.add(k);
    }
    const expected = await etcd.get(p, { prefix: true, revision: snapshot });
    assert.ok(expected.kvs.length >= 10_000);
    assert.equal(walked.length, expected.kvs.length, "the walk has as many keys as the store at its revision");
    for (const [i, kv] of expected.kvs.entries()) {
      const got = walked[i]!;
      assert.ok(got.key.equals(kv.key) && got.modRevision === kv.modRevision && got.value.equals(kv.value), `key ${kv.key.toString()} differs`);
    }
    const now = (await etcd.get(p, { prefix: true, countOnly: true })).count;
    assert.ok(now > BigInt(walked.length) || writesDuringWalk > 0);
  });
});

describe("weak consistency", () => {
  it("a weak client's reads are served by the member alone: they answer while the quorum is gone, strong reads do not", { timeout: 30_000 }, async () => {
    await cluster.waitHealthy();
    const leader = await cluster.leader();
    const key = `${cluster.prefix("weak")}/k`;
    await etcd.put(key, "before");
    const only = [cluster.clientUrl(leader)];
    const weak = new EtcdV3Client({ endpoints: only, consistency: "weak" });
    const strong = new EtcdV3Client({ endpoints: only });
    const others = [0, 1, 2].filter((i) => i !== leader);
    try {
      // The put was acknowledged by the member it went through, which may not be the leader; a
      // linearizable read on the leader waits until the leader has applied it too, so the weak
      // (serializable) reads below can't race its apply.
      await strong.get(key);
      assert.equal((await weak.get(key)).kvs[0]?.value.toString(), "before");
      for (const i of others) await cluster.member(i).pause();
      const weakRead = await weak.get(key, { timeout: 3000 });
      assert.equal(weakRead.kvs[0]?.value.toString(), "before");
      const strongError = await failure(strong.get(key, { timeout: 1500 }));
      assert.ok(["TIMEOUT", "UNAVAILABLE", "NO_LEADER"].includes(strongError.code), `strong read without quorum: ${strongError.code}`);
      const explicit = await failure(weak.get(key, { serializable: false, timeout: 1500 }));
      assert.ok(["TIMEOUT", "UNAVAILABLE", "NO_LEADER"].includes(explicit.code));
    } finally {
      for (const i of others) await cluster.member(i).resume();
      await weak.close();
      await strong.close();
      await cluster.waitHealthy();
    }
  });
});
