/**
 * Throughput benchmark: etcd-ts against node-etcd and the raw HTTP ceiling (wrk) on a 1-member
 * and a 3-member etcd started here on loopback, then watch scale. Prints markdown tables and
 * writes every run to bench/results/<timestamp>.json.
 *
 *   npm run bench                 3 rounds, C = 1, 16, 64, 256 (about 15 minutes)
 *   npm run bench -- --quick      1 short round, C = 1, 64 (CI: proves the benchmark still runs)
 *   npm run bench -- --members 1 --concurrency 16,64 --rounds 5 --no-watch
 *
 * Each Node client runs in a child process of its own (bench/lib/worker.ts); rounds rotate the
 * order of the clients, and each table cell is the median round by ops/s.
 */
import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { promisify, parseArgs } from "node:util";
import { EtcdV2Client } from "../src/index.js";
import { startCluster, type Cluster } from "../test/harness/index.js";
import { clean, compile, compiled } from "./lib/build.js";
import { waitQuiet } from "./lib/machine.js";
import type { Limits, PhaseResult } from "./lib/phase.js";
import { table, watchTable, type Cell } from "./lib/report.js";
import type { WatchResult, WatchSpec } from "./lib/watch-scale.js";
import type { WorkerSpec } from "./lib/worker.js";
import { NODE_CLIENTS, VALUE, WORKLOADS, paths } from "./lib/workloads.js";
import { runWrk } from "./lib/wrk.js";

const execFileAsync = promisify(execFile);
const WORKER = "bench/lib/worker.ts";
const WATCH = "bench/lib/watch-scale.ts";
const DEFAULT_RAFT = ["--heartbeat-interval=100", "--election-timeout=1000"];

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
  readonly wrk: boolean;
  /** Where the compiled children are. */
  readonly build: string;
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
    },
  });
  const quick = values.quick === true;
  const list = (text: string | undefined, fallback: readonly number[]): number[] => (text === undefined ? [...fallback] : text.split(",").map(Number));
  return {
    quick,
    rounds: Number(values.rounds ?? (quick ? 1 : 3)),
    members: list(values.members, [1, 3]),
    concurrency: list(values.concurrency, quick ? [1, 64] : [1, 16, 64, 256]),
    warm: quick ? { ops: 200, ms: 200 } : { ops: 2000, ms: 1500 },
    limits: quick ? { ops: 3000, ms: 500 } : { ops: 20_000, ms: 8000 },
    wrkSeconds: quick ? 1 : 3,
    quietCores: quick ? 0 : 0.2,
    watch: values["no-watch"] !== true,
    wrk: values["no-wrk"] !== true,
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

async function nodeCells(s: Settings, t: Target, client: WorkerSpec["client"]): Promise<Cell[]> {
  const spec: WorkerSpec = {
    client,
    endpoints: t.endpoints,
    pin: t.pin,
    prefix: t.prefix,
    serverPids: t.serverPids,
    cells: WORKLOADS.flatMap((workload) => s.concurrency.map((concurrency) => ({ workload, concurrency }))),
    warm: s.warm,
    limits: s.limits,
    quietCores: s.quietCores,
  };
  const { stdout } = await execFileAsync(process.execPath, [compiled(s.build, WORKER), JSON.stringify(spec)], { maxBuffer: 1 << 24, timeout: 30 * 60_000 });
  return stdout.trim().split("\n").map((line) => ({ ...(JSON.parse(line) as Cell), members: t.members }));
}

async function wrkCells(s: Settings, t: Target): Promise<Cell[]> {
  const cells: Cell[] = [];
  for (const workload of WORKLOADS) {
    for (const concurrency of s.concurrency) {
      if (s.quietCores > 0) await waitQuiet(t.serverPids, s.quietCores, 5_000);
      const result: PhaseResult = await runWrk(t.pin, t.prefix, workload, concurrency, s.wrkSeconds, t.serverPids);
      cells.push({ ...result, workload, concurrency, client: "wrk", members: t.members });
    }
  }
  return cells;
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
    const contenders: ("wrk" | WorkerSpec["client"])[] = s.wrk ? [...NODE_CLIENTS, "wrk"] : [...NODE_CLIENTS];
    for (let round = 0; round < s.rounds; round++) {
      // Rotating the order keeps any drift over a round from always favouring the same client.
      const order = contenders.map((_, k) => contenders[(k + round) % contenders.length] ?? "wrk");
      const cells: Cell[] = [];
      for (const who of order) {
        progress(`${members} member(s), round ${round + 1}/${s.rounds}: ${who}`);
        cells.push(...(who === "wrk" ? await wrkCells(s, target) : await nodeCells(s, target, who)));
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
  console.log(table(runs.flat(), s));
  if (watch !== undefined) console.log(`\n${watchTable(watch)}`);
  mkdirSync("bench/results", { recursive: true });
  const file = `bench/results/${new Date().toISOString().replace(/[:.]/g, "-")}.json`;
  writeFileSync(file, JSON.stringify({ settings: s, node: process.version, cpu, seconds, runs, watch }, null, 2));
  progress(`results written to ${file}`);
}

await main();
