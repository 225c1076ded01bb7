/**
 * `npm run bench:migrate`: the v2 → v3 migration's speed on a 1-member cluster, beside the two
 * ways of writing the same keys without it: etcdctl v3 `put` one key per process (sampled, as
 * 100,000 processes would take minutes) and etcd's Go client writing them in transactions of
 * 128 puts, 4 in flight (this machine's raw floor; bench/go/etcdbench.go `batchput`).
 *
 *   node --import tsx bench/migrate.ts [--keys 100000] [--ttl-every 10] [--etcdctl-sample 300]
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs, promisify } from "node:util";
import { EtcdV2Client, EtcdV3Client, migrateV2ToV3, type MigrationPhase } from "../src/index.js";
import { startCluster } from "../test/harness/index.js";
import { buildGo } from "./lib/go.js";

const run = promisify(execFile);
const { values } = parseArgs({ options: { keys: { type: "string" }, "ttl-every": { type: "string" }, "etcdctl-sample": { type: "string" } }, strict: true });
const KEYS = Number(values.keys ?? 100_000);
const TTL_EVERY = Number(values["ttl-every"] ?? 10);
const SAMPLE = Number(values["etcdctl-sample"] ?? 300);
/** The Go peer's 100-byte value (bench/go/etcdbench.go), so every writer moves the same bytes. */
const VALUE = "v".repeat(100);

interface Row {
  readonly method: string;
  readonly keys: number;
  readonly seconds: number;
}

async function fill(v2: EtcdV2Client): Promise<number> {
  const started = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < KEYS; i = next++) await v2.set(`/src/d${i % 100}/k${String(i).padStart(6, "0")}`, VALUE, i % TTL_EVERY === 0 ? { ttl: 3600 } : {});
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  return (performance.now() - started) / 1000;
}

async function etcdctlOneByOne(endpoint: string): Promise<Row> {
  const started = performance.now();
  for (let i = 0; i < SAMPLE; i++) {
    await run("etcdctl", [`--endpoints=${endpoint}`, "put", `/ctl/k${String(i).padStart(6, "0")}`, VALUE], { env: { ...process.env, ETCDCTL_API: "3" } });
  }
  return { method: `etcdctl v3 put, one process per key (${SAMPLE} sampled)`, keys: SAMPLE, seconds: (performance.now() - started) / 1000 };
}

async function goBatches(endpoint: string): Promise<Row | string> {
  const dir = mkdtempSync(join(tmpdir(), "etcd-ts-bench-migrate-"));
  try {
    const go = buildGo(dir);
    if (!go.ok) return go.reason;
    const spec = { endpoints: [endpoint], prefix: "/go", keys: KEYS, batch: 128, inflight: 4, ttlEvery: TTL_EVERY, ttl: 3600 };
    const { stdout } = await run(go.binary, ["batchput", JSON.stringify(spec)]);
    const { ms } = JSON.parse(stdout) as { ms: number };
    return { method: "Go clientv3, txns of 128 puts, 4 in flight", keys: KEYS, seconds: ms / 1000 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  await using cluster = await startCluster({ size: 1, name: "benchmigrate", extraArgs: ["--heartbeat-interval=100", "--election-timeout=1000", "--quota-backend-bytes=8589934592"] });
  const endpoint = cluster.clientUrl(0);
  const v2 = new EtcdV2Client({ endpoints: [endpoint] });
  const v3 = new EtcdV3Client({ endpoints: [endpoint] });
  try {
    const filled = await fill(v2);
    console.log(`filled the v2 store with ${KEYS} keys (every ${TTL_EVERY}th with a TTL) in ${filled.toFixed(1)} s`);
    const phases = new Map<MigrationPhase, number>();
    const t0 = performance.now();
    const report = await migrateV2ToV3({ source: v2, dest: v3, prefix: "/src", settleMs: 200, onProgress: (p) => phases.set(p.phase, phases.get(p.phase) ?? performance.now()) });
    const total = (performance.now() - t0) / 1000;
    if (report.differences.length !== 0 || report.written !== KEYS) throw new Error(`migration incomplete: ${report.written} written, ${report.differences.length} differences`);
    const copyEnd = phases.get("catching-up") ?? performance.now();
    const copy = (copyEnd - t0) / 1000;
    const t1 = performance.now();
    const again = await migrateV2ToV3({ source: v2, dest: v3, prefix: "/src", settleMs: 200 });
    const rerun = (performance.now() - t1) / 1000;
    if (again.written !== 0) throw new Error(`the second run wrote ${again.written} keys`);
    const rows: (Row | string)[] = [
      { method: "etcd-ts migrate: read + copy (until the catch-up starts)", keys: KEYS, seconds: copy },
      { method: "etcd-ts migrate: whole run (read, copy, catch-up, reconcile, verify)", keys: KEYS, seconds: total },
      { method: "etcd-ts migrate: second run (writes nothing)", keys: KEYS, seconds: rerun },
      await goBatches(endpoint),
      await etcdctlOneByOne(endpoint),
    ];
    const go = rows.find((r): r is Row => typeof r !== "string" && r.method.startsWith("Go"));
    console.log(`\n${report.leases} leases for ${KEYS / TTL_EVERY} keys with a TTL; ${report.bytes} value bytes\n`);
    console.log("| method | keys | s | keys/s | ÷ Go batch rate |\n|---|---:|---:|---:|---:|");
    for (const r of rows) {
      if (typeof r === "string") {
        console.log(`| Go batch writer left out: ${r} | | | | |`);
        continue;
      }
      const rate = r.keys / r.seconds;
      const ratio = go === undefined ? "–" : `${(rate / (go.keys / go.seconds)).toFixed(2)}×`;
      console.log(`| ${r.method} | ${r.keys} | ${r.seconds.toFixed(2)} | ${Math.round(rate)} | ${ratio} |`);
    }
  } finally {
    await v2.close();
    await v3.close();
  }
}

await main();
