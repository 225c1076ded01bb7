/**
 * Throughput benchmark: etcd-ts against node-etcd and the raw HTTP ceiling (wrk) on a 1-member
 * and a 3-member etcd started here on loopback, then watch scale. Prints markdown tables and
 * writes every run to bench/results/<timestamp>.json.
 *
 *   npm run bench                 3 rounds, C = 1, 16, 64, 256 (15–25 minutes, longer on a busy machine)
 *   npm run bench -- --quick      1 short round, C = 1, 64 (CI: proves the benchmark still runs)
 *   npm run bench -- --members 1 --concurrency 16,64 --rounds 5 --no-watch
 *   npm run bench -- --clients etcd-ts,undici-raw,wrk   (undici-raw: a bare undici Pool)
 *
 * etcd-ts and the benchmark children are compiled with tsc first (bench/lib/build.ts). Each cell
 * runs its contenders back to back, each Node client in a fresh child process; the order rotates,
 * and each table cell is the median round by ops/s.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { promisify, parseArgs } from "node:util";
import { EtcdV2Client } from "../src/index.js";
import { startCluster, type Cluster } from "../test/harness/index.js";
import { clean, compile, compiled } from "./lib/build.js";
import { waitQuiet } from "./lib/machine.js";
import type { Limits } from "./lib/phase.js";
import { table, watchTable, type Cell } from "./lib/report.js";
import type { WatchResult, WatchSpec } from "./lib/watch-scale.js";
import type { WorkerSpec } from "./lib/worker.js";
import { NODE_CLIENTS, VALUE, WORKLOADS, paths, type NodeClient, type Workload } from "./lib/workloads.js";
import { WRK, runWrk } from "./lib/wrk.js";

const execFileAsync = promisify(execFile);
const WORKER = "bench/lib/worker.ts";
const WATCH = "bench/lib/watch-scale.ts";
const DEFAULT_RAFT = ["--heartbeat-interval=100", "--election-timeout=1000"];
/** The longest wait for the machine to quieten before a cell; after it, the cell runs and is marked if noisy. */
const QUIET_WAIT_MS = 10_000;

interface Settings {
  readonly quick: boolean;
  readonly rounds: number;
  readonly members: readonly number[];
  readonly concurrency: readonly number[];
  readonly warm: Limits;
  readonly limits: Limits;
  readonly wrkSeconds: number;
  readonly quietCores: number;
  readonly watch: boolean;
  readonly contenders: readonly Contender[];
  /** Where the compiled children are. */
  readonly build: string;
}

/** Who is measured: etcd-ts, node-etcd and wrk unless `--clients` names others (undici-raw too). */
type Contender = NodeClient | "wrk";

function contenders(list: string | undefined, wrk: boolean): Contender[] {
  const known: readonly Contender[] = [...NODE_CLIENTS, "undici-raw", "wrk"];
  const wanted = list === undefined ? [...NODE_CLIENTS, "wrk"] : list.split(",");
  const chosen = known.filter((c) => wanted.includes(c));
  if (wrk && !existsSync(WRK)) progress(`${WRK} not found (Debian package wrk): the ceiling column is left out`);
  return wrk && existsSync(WRK) ? chosen : chosen.filter((c) => c !== "wrk");
}

function settings(build: string): Settings {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean" },
      rounds: { type: "string" },
      members: { type: "string" },
      concurrency: { type: "string" },
      "no-watch": { type: "boolean" },
      "no-wrk": { type: "boolean" },
      clients: { type: "string" },
    },
  });
  const quick = values.quick === true;
  const list = (text: string | undefined, fallback: readonly number[]): number[] => (text === undefined ? [...fallback] : text.split(",").map(Number));
  return {
    quick,
    rounds: Number(values.rounds ?? (quick ? 1 : 3)),
    members: list(values.members, [1, 3]),
    concurrency: list(values.concurrency, quick ? [1, 64] : [1, 16, 64, 256]),
    // Warm-up is by time, not by count: 2,000 ops left etcd-ts's code half-optimised by V8
    // (43 against 31 µs per weak GET), which a count sized for the slowest client cannot fix.
    warm: quick ? { ops: 20_000, ms: 300 } : { ops: 200_000, ms: 1500 },
    limits: quick ? { ops: 3000, ms: 400 } : { ops: 50_000, ms: 5000 },
    wrkSeconds: quick ? 1 : 3,
    quietCores: quick ? 0 : 0.2,
    watch: values["no-watch"] !== true,
    contenders: contenders(values.clients, values["no-wrk"] !== true),
    build,
  };
}

/** Where the clients point: etcd-ts starts on a follower (the common case) and wrk uses the same one. */
interface Target {
  readonly members: number;
  readonly endpoints: readonly string[];
  readonly pin: string;
  readonly prefix: string;
  readonly serverPids: readonly number[];
}

async function prepare(cluster: Cluster): Promise<Target> {
  const leader = cluster.size === 1 ? 0 : await cluster.leader();
  const pin = cluster.clientUrl(cluster.size === 1 ? 0 : (leader + 1) % cluster.size);
  const prefix = cluster.prefix("bench");
  const client = new EtcdV2Client({ endpoints: cluster.endpoints() });
  await client.set(paths(prefix).readKey, VALUE);
  await client.close();
  const serverPids = cluster.members.map((m) => m.pid).filter((p): p is number => p !== undefined);
  return { members: cluster.size, endpoints: cluster.endpoints(), pin, prefix, serverPids };
}

/** One cell for one contender; each Node client runs in a fresh child process. */
async function cell(s: Settings, t: Target, who: Contender, workload: Workload, concurrency: number): Promise<Cell> {
  if (s.quietCores > 0) await waitQuiet(t.serverPids, s.quietCores, QUIET_WAIT_MS);
  if (who === "wrk") return { ...(await runWrk(t.pin, t.prefix, workload, concurrency, s.wrkSeconds, t.serverPids)), workload, concurrency, client: who, members: t.members };
  const spec: WorkerSpec = {
    client: who,
    endpoints: t.endpoints,
    pin: t.pin,
    prefix: t.prefix,
    serverPids: t.serverPids,
    cells: [{ workload, concurrency }],
    warm: s.warm,
    limits: s.limits,
    quietCores: 0,
  };
  const { stdout } = await execFileAsync(process.execPath, [compiled(s.build, WORKER), JSON.stringify(spec)], { maxBuffer: 1 << 24, timeout: 10 * 60_000 });
  return { ...(JSON.parse(stdout) as Cell), members: t.members };
}

async function watchScale(s: Settings, t: Target): Promise<WatchResult> {
  const spec: WatchSpec = { endpoints: t.endpoints, pin: t.pin, prefix: `${t.prefix}-watch`, watches: 1000, samples: s.quick ? 50 : 200, burstConcurrency: 64 };
  const { stdout } = await execFileAsync(process.execPath, ["--expose-gc", compiled(s.build, WATCH), JSON.stringify(spec)], { timeout: 120_000 });
  return JSON.parse(stdout.trim()) as WatchResult;
}

async function benchCluster(s: Settings, members: number, runs: Cell[][]): Promise<WatchResult | undefined> {
  const cluster = await startCluster({ size: members as 1 | 3, name: `bench${members}`, extraArgs: DEFAULT_RAFT });
  try {
    const target = await prepare(cluster);
    for (let round = 0; round < s.rounds; round++) {
      progress(`${members} member(s), round ${round + 1}/${s.rounds}`);
      const cells: Cell[] = [];
      let k = round;
      for (const workload of WORKLOADS) {
        for (const concurrency of s.concurrency) {
          // The contenders of a cell run back to back, so a change in the machine's load between
          // cells hits them alike; the order rotates so that none always goes first.
          const n = s.contenders.length;
          const order = s.contenders.map((_, i) => s.contenders[(i + k) % n] ?? "wrk");
          k++;
          for (const who of order) cells.push(await cell(s, target, who, workload, concurrency));
        }
      }
      runs.push(cells);
    }
    if (!s.watch || members !== 1) return undefined;
    progress("watch scale: 1,000 watches");
    return await watchScale(s, target);
  } finally {
    await cluster.stop();
  }
}

function progress(text: string): void {
  process.stderr.write(`[bench] ${text}\n`);
}

async function main(): Promise<void> {
  const started = performance.now();
  const s = settings(compile([WORKER, WATCH]));
  try {
    await measure(s, started);
  } finally {
    clean(s.build);
  }
}

async function measure(s: Settings, started: number): Promise<void> {
  const runs: Cell[][] = [];
  let watch: WatchResult | undefined;
  for (const members of s.members) watch = (await benchCluster(s, members, runs)) ?? watch;
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpus()[0]?.model ?? "?";
  console.log(`### v2 throughput: ${s.rounds} round(s), median round per cell; ${cpus().length} × ${cpu}, Node ${process.version}; took ${seconds.toFixed(0)} s\n`);
  // Quick cells run in cold processes for a fraction of a second: they prove the benchmark runs.
  if (s.quick) console.log("**--quick: cold processes and short phases; these numbers are not for comparison.**\n");
  console.log(table(runs.flat(), s));
  if (watch !== undefined) console.log(`\n${watchTable(watch)}`);
  mkdirSync("bench/results", { recursive: true });
  const file = `bench/results/${new Date().toISOString().replace(/[:.]/g, "-")}.json`;
  writeFileSync(file, JSON.stringify({ settings: s, node: process.version, cpu, seconds, runs, watch }, null, 2));
  progress(`results written to ${file}`);
}

await main();
