/**
 * `migrateV2ToV3` against real clusters: trees written with Go's etcdctl (v2), copied, and read
 * back with etcdctl (v3); TTLs as shared leases; writes during the copy; follow; idempotence;
 * a second cluster as destination; conflicts on the v3 side; limits; a cluster without v2.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { EtcdError, EtcdV2Client, EtcdV3Client, migrateV2ToV3, verifyV2ToV3, type MigrationProgress } from "../../src/index.js";
import { etcdBin, sleep, startCluster, type Cluster } from "../harness/index.js";

const run = promisify(execFile);

/** Go's etcdctl of the same version as the etcd under test (ETCDCTL_BIN, or the one beside ETCD_BIN, or PATH's). */
function etcdctlBin(): string {
  const explicit = process.env["ETCDCTL_BIN"];
  if (explicit !== undefined && explicit !== "") return explicit;
  const beside = join(dirname(etcdBin()), "etcdctl");
  return existsSync(beside) ? beside : "etcdctl";
}

async function etcdctl(api: 2 | 3, endpoints: string, args: string[]): Promise<string> {
  const flag = api === 2 ? `--endpoints=${endpoints}` : `--endpoints=${endpoints}`;
  const { stdout } = await run(etcdctlBin(), [flag, ...args], { env: { ...process.env, ETCDCTL_API: String(api) } });
  return stdout;
}

let cluster: Cluster;
let v2: EtcdV2Client;
let v3: EtcdV3Client;
before(async () => {
  cluster = await startCluster({ size: 3 });
  v2 = new EtcdV2Client({ endpoints: cluster.endpoints() });
  v3 = new EtcdV3Client({ endpoints: cluster.endpoints() });
});
after(async () => {
  await v2.close();
  await v3.close();
  await cluster.stop();
});

/** Every key under a v3 prefix with its value, through etcdctl. */
async function v3Pairs(prefix: string): Promise<Map<string, string>> {
  const lines = (await etcdctl(3, cluster.clientUrl(0), ["get", "--prefix", prefix])).split("\n");
  const out = new Map<string, string>();
  for (let i = 0; i + 1 < lines.length; i += 2) out.set(lines[i]!, lines[i + 1]!);
  return out;
}

test("a tree written with etcdctl v2 reads back identically through etcdctl v3, hidden keys when named, TTLs as shared leases", async () => {
  const p = cluster.prefix("tree");
  const e = cluster.clientUrl(0);
  await etcdctl(2, e, ["set", `${p}/a`, "alpha"]);
  await etcdctl(2, e, ["set", `${p}/dir/b`, "béta ünïcode"]);
  await etcdctl(2, e, ["set", `${p}/dir/deeper/c`, "gamma"]);
  await etcdctl(2, e, ["mkdir", `${p}/empty`]);
  await etcdctl(2, e, ["mk", "--in-order", `${p}/queue`, "first"]);
  await etcdctl(2, e, ["set", `${p}/_hidden`, "secret"]);
  await etcdctl(2, e, ["set", `${p}/_notnamed`, "left behind"]);
  await etcdctl(2, e, ["set", "--ttl", "600", `${p}/t1`, "x"]);
  await etcdctl(2, e, ["set", "--ttl", "600", `${p}/t2`, "y"]);
  await etcdctl(2, e, ["set", "--ttl", "900", `${p}/t3`, "z"]);
  const queue = (await v2.get(`${p}/queue`, { recursive: true })).node?.nodes?.[0]?.key;
  assert.ok(queue !== undefined);

  const progress: MigrationProgress[] = [];
  const report = await migrateV2ToV3({ source: v2, dest: v3, prefix: p, keys: [`${p}/_hidden`], settleMs: 300, onProgress: (x) => progress.push(x) });
  assert.deepEqual(report.differences, []);
  assert.equal(report.written, 8);
  assert.deepEqual(report.emptyDirs, [`${p}/empty`]);
  assert.ok(progress.some((x) => x.phase === "copying"));

  const pairs = await v3Pairs(p);
  assert.deepEqual(
    [...pairs].sort(),
    [
      [`${p}/_hidden`, "secret"],
      [`${p}/a`, "alpha"],
      [`${p}/dir/b`, "béta ünïcode"],
      [`${p}/dir/deeper/c`, "gamma"],
      [queue, "first"],
      [`${p}/t1`, "x"],
      [`${p}/t2`, "y"],
      [`${p}/t3`, "z"],
    ].sort(),
  );
  const lease = async (k: string): Promise<bigint> => (await v3.get(k)).kvs[0]?.lease ?? -1n;
  const [l1, l2, l3, none] = await Promise.all([lease(`${p}/t1`), lease(`${p}/t2`), lease(`${p}/t3`), lease(`${p}/a`)]);
  assert.equal(none, 0n);
  assert.ok(l1 > 0n && l3 > 0n && l1 !== l3, "keys expiring at different times get different leases");
  // t1 and t2 were set within a second or two of each other: the same lease when their expiry second matched.
  const t1 = (await v2.get(`${p}/t1`)).node?.expiration;
  const t2 = (await v2.get(`${p}/t2`)).node?.expiration;
  if (t1 !== undefined && t2 !== undefined && Math.floor(Date.parse(t1) / 1000) === Math.floor(Date.parse(t2) / 1000)) assert.equal(l1, l2);
  const ttl = await v3.lease.timeToLive(l3);
  assert.ok(ttl.ttl > 850 && ttl.ttl <= 900, `lease TTL ${ttl.ttl} follows the v2 key's remaining TTL`);
});

test("a second run writes nothing: the v3 revision does not move", async () => {
  const p = cluster.prefix("idempotent");
  for (let i = 0; i < 50; i++) await v2.set(`${p}/k${i}`, `v${i}`, i % 10 === 0 ? { ttl: 300 } : {});
  const first = await migrateV2ToV3({ source: v2, dest: v3, prefix: p, settleMs: 200 });
  assert.equal(first.written, 50);
  const before = (await v3.get("nothing-here")).header.revision;
  const second = await migrateV2ToV3({ source: v2, dest: v3, prefix: p, settleMs: 200 });
  assert.equal(second.written, 0);
  assert.equal(second.unchanged, 50);
  assert.equal(second.leases, 0);
  assert.equal((await v3.get("nothing-here")).header.revision, before);
});

test("writes made during the copy are not lost", async () => {
  const p = cluster.prefix("live");
  const keys = Array.from({ length: 3000 }, (_, i) => `${p}/d${i % 17}/k${i}`);
  for (let i = 0; i < keys.length; i += 200) await Promise.all(keys.slice(i, i + 200).map((k, j) => v2.set(k, `initial-${i + j}`)));
  const writing = { on: true };
  const writer = (async () => {
    let n = 0;
    while (writing.on && n < 3000) {
      const k = keys[(n * 7919) % keys.length]!;
      if (n % 5 === 0) await v2.delete(k).catch(() => undefined);
      else await v2.set(k, `changed-${n}`);
      if (n % 50 === 0) await v2.set(`${p}/new/k${n}`, "added during the copy");
      n++;
    }
    return n;
  })();
  const report = await migrateV2ToV3({ source: v2, dest: v3, prefix: p, batchOps: 64, settleMs: 400 });
  writing.on = false;
  const changes = await writer;
  // The catch-up lasts until the writer has been quiet for settleMs, so this run saw every change.
  assert.ok(report.events > 0, "changes made during the copy arrived as v2 events");
  assert.deepEqual(report.differences, [], `differences after ${changes} concurrent changes`);
  assert.deepEqual(await verifyV2ToV3({ source: v2, dest: v3, prefix: p }), []);
});

test("follow applies sets, deletes, recursive deletes, TTL refreshes and expirations until stopped", async () => {
  const p = cluster.prefix("follow");
  await v2.set(`${p}/keep`, "1");
  await v2.set(`${p}/gone`, "1");
  await v2.set(`${p}/dir/a`, "1");
  await v2.set(`${p}/dir/b`, "1");
  await v2.set(`${p}/short`, "lives briefly", { ttl: 2 });
  await v2.set(`${p}/refreshed`, "r", { ttl: 5 });
  const stop = new AbortController();
  const phases: string[] = [];
  const following = migrateV2ToV3({ source: v2, dest: v3, prefix: p, follow: true, signal: stop.signal, onProgress: (x) => phases.push(x.phase) });
  const until = async (what: string, check: () => Promise<boolean>): Promise<void> => {
    const deadline = Date.now() + 15_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(50);
    }
  };
  const value = async (k: string): Promise<string | undefined> => (await v3.get(k)).kvs[0]?.value.toString();
  await until("the copy", async () => (await value(`${p}/dir/b`)) === "1");
  await v2.set(`${p}/keep`, "2");
  await v2.delete(`${p}/gone`);
  await v2.deleteDir(`${p}/dir`, {}).catch(async () => v2.delete(`${p}/dir`, { recursive: true }));
  await v2.set(`${p}/new`, "fresh");
  const leaseBefore = (await v3.get(`${p}/refreshed`)).kvs[0]?.lease;
  // A refresh sends no v2 watch event: the follower must notice it before the first lease ends.
  await v2.refresh(`${p}/refreshed`, 120);
  await until("set", async () => (await value(`${p}/keep`)) === "2");
  await until("delete", async () => (await value(`${p}/gone`)) === undefined);
  await until("recursive delete", async () => (await v3.get(`${p}/dir/`, { prefix: true })).kvs.length === 0);
  await until("create", async () => (await value(`${p}/new`)) === "fresh");
  await until("expiration", async () => (await value(`${p}/short`)) === undefined);
  await sleep(6000);
  await until("TTL refresh as a new lease", async () => {
    const l = (await v3.get(`${p}/refreshed`)).kvs[0]?.lease;
    return l !== undefined && l !== leaseBefore && l !== 0n;
  });
  const ttl = await v3.lease.timeToLive((await v3.get(`${p}/refreshed`)).kvs[0]!.lease);
  assert.ok(ttl.ttl > 100, `refreshed lease TTL ${ttl.ttl}`);
  stop.abort();
  const report = await following;
  assert.deepEqual(report.differences, []);
  assert.ok(report.events >= 5);
  assert.ok(phases.includes("following") && phases.at(-1) === "verifying");
});

test("a second cluster as destination, under a different prefix", async () => {
  await using other = await startCluster({ size: 1 });
  const dest = new EtcdV3Client({ endpoints: other.endpoints() });
  try {
    const p = cluster.prefix("elsewhere");
    await v2.set(`${p}/x/y`, "1");
    await v2.set(`${p}/z`, "2");
    const report = await migrateV2ToV3({ source: v2, dest, prefix: p, destPrefix: "/moved", settleMs: 200 });
    assert.deepEqual(report.differences, []);
    const got = (await dest.get("/moved/", { prefix: true })).kvs.map((kv) => [kv.key.toString(), kv.value.toString()]);
    assert.deepEqual(got, [["/moved/x/y", "1"], ["/moved/z", "2"]]);
    assert.equal((await v3.get("/moved/", { prefix: true })).kvs.length, 0, "nothing written to the source cluster's v3 store");
  } finally {
    await dest.close();
  }
});

test("a key changed on the v3 side is reported as a conflict, not overwritten", async () => {
  const p = cluster.prefix("conflict");
  await v2.set(`${p}/a`, "v2-1");
  await v2.set(`${p}/b`, "v2-1");
  await migrateV2ToV3({ source: v2, dest: v3, prefix: p, settleMs: 200 });
  const stop = new AbortController();
  const following = migrateV2ToV3({ source: v2, dest: v3, prefix: p, follow: true, signal: stop.signal });
  await sleep(500);
  await v3.put(`${p}/a`, "written in v3 by an application");
  await v2.set(`${p}/a`, "v2-2");
  await v2.set(`${p}/b`, "v2-2");
  const deadline = Date.now() + 10_000;
  while ((await v3.get(`${p}/b`)).kvs[0]?.value.toString() !== "v2-2" && Date.now() < deadline) await sleep(50);
  stop.abort();
  const report = await following;
  assert.deepEqual(report.conflicts.map((c) => c.key), [`${p}/a`]);
  assert.equal((await v3.get(`${p}/a`)).kvs[0]?.value.toString(), "written in v3 by an application");
  assert.equal((await v3.get(`${p}/b`)).kvs[0]?.value.toString(), "v2-2");
  assert.deepEqual(report.differences.map((d) => [d.key, d.kind]), [[`${p}/a`, "value"]]);
});

test("a value over the destination's request limit is reported and skipped, the rest copied", async () => {
  const p = cluster.prefix("large");
  await v2.set(`${p}/small`, "ok");
  await v2.set(`${p}/big`, "x".repeat(4096));
  const report = await migrateV2ToV3({ source: v2, dest: v3, prefix: p, maxRequestBytes: 2048, settleMs: 200 });
  assert.deepEqual(report.skipped.map((s) => s.key), [`${p}/big`]);
  assert.match(report.skipped[0]!.reason, /request limit/);
  assert.equal((await v3.get(`${p}/small`)).kvs[0]?.value.toString(), "ok");
  assert.deepEqual(report.differences.map((d) => [d.key, d.kind]), [[`${p}/big`, "missing"]]);
});

test("a dry run plans without writing", async () => {
  const p = cluster.prefix("dry");
  await v2.set(`${p}/a`, "1", { ttl: 100 });
  const report = await migrateV2ToV3({ source: v2, dest: v3, prefix: p, dryRun: true });
  assert.equal(report.written, 1);
  assert.equal(report.leases, 0);
  assert.equal((await v3.get(`${p}/a`)).kvs.length, 0);
  assert.deepEqual(report.differences.map((d) => d.kind), ["missing"]);
});

test("a cluster that does not serve v2 gives an error that says so", async () => {
  await using bare = await startCluster({ size: 1, extraArgs: ["--enable-v2=false"] });
  const source = new EtcdV2Client({ endpoints: bare.endpoints() });
  try {
    await assert.rejects(migrateV2ToV3({ source, dest: v3, prefix: "/x" }), (error: unknown) => {
      assert.ok(error instanceof EtcdError);
      assert.match(error.message, /--enable-v2=true/);
      return true;
    });
  } finally {
    await source.close();
  }
});
