/**
 * Throughput benchmark: etcd-ts against etcd's official Go clients on v2 and v3, node-etcd and the
 * raw HTTP ceiling (wrk) on v2, and etcd3 and the raw gRPC ceiling (h2load) on v3, on a 1-member
 * and a 3-member etcd started here on loopback, then watch
 * scale (1,000 v2 watches, 10,000 v3 watchers). Prints markdown tables and writes every run to
 * bench/results/<timestamp>.json.
 *
 *   npm run bench                 3 rounds, C = 1, 16, 64, 256 (about 36 minutes with the Go clients)
 *   npm run bench -- --quick      1 short round, C = 1, 64 (CI: proves the benchmark still runs)
 *   npm run bench -- --workloads v2 --members 1 --concurrency 16,64 --rounds 5 --no-watch
 *   npm run bench -- --clients etcd-ts,undici-raw,wrk   (undici-raw: a bare undici Pool)
 *
 * etcd-ts and the benchmark children are compiled with tsc first (bench/lib/build.ts). Each cell
 * runs its contenders back to back, each Node client in a fresh child process; the order rotates,
 * and each table cell is the median round by ops/s. A failed op is counted by its error code and
 * shown as an error rate in its cell; a child that dies is shown as "crashed" and makes the run
 * exit non-zero after the tables are printed. The Go client (bench/go, built by bench/lib/go.ts
 * from Debian's packages) runs when Go and etcd's Go sources are installed. The etcd-ts v3 rows (and v3 watch scale) are
 * skipped, with the reason printed, while `EtcdV3Client` is not exported from src/index.ts.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { promisify, parseArgs } from "node:util";
import { Etcd3 } from "etcd3";
import { EtcdV2Client } from "../src/index.js";
import { startCluster, type Cluster } from "../test/harness/index.js";
import { clean, compile, compiled } from "./lib/build.js";
import { waitQuiet } from "./lib/machine.js";
import type { Limits } from "./lib/phase.js";
import { table, watchTable, type Cell } from "./lib/report.js";
import { loadV3, NO_V3_EXIT, type V3Lookup } from "./lib/v3.js";
import type { WatchResult, WatchSpec } from "./lib/watch-scale.js";
import type { WorkerSpec } from "./lib/worker.js";
import { NODE_CLIENTS, V2_WORKLOADS, V3_WORKLOADS, VALUE, WORKLOADS, isV3, paths, supports, v3Paths, type NodeClient, type Workload } from "./lib/workloads.js";
import { buildGo, type GoPeer } from "./lib/go.js";
import { H2LOAD, runH2load } from "./lib/h2load.js";
import { WRK, runWrk } from "./lib/wrk.js";

const execFileAsync = promisify(execFile);
const WORKER = "bench/lib/worker.ts";
const WATCH = "bench/lib/watch-scale.ts";
const WATCH_V3 = "bench/lib/watch-scale-v3.ts";
const DEFAULT_RAFT = ["--heartbeat-interval=100", "--election-timeout=1000"];
/**
 * The longest wait for the machine to quieten before a cell; after it, the cell runs and is
 * marked if noisy. 2 s, not more: with other engineers' suites running (load averages of 6–9),
 * longer waits almost always expired anyway and doubled the full run's length.
 */
const QUIET_WAIT_MS = 2_000;

interface Settings {
  readonly quick: boolean;
  readonly rounds: number;
  readonly members: readonly number[];
  readonly concurrency: readonly number[];
  readonly warm: Limits;
  readonly limits: Limits;
  /** How long wrk and h2load run per cell. */
  readonly ceilingSeconds: number;
  readonly quietCores: number;
  readonly watch: boolean;
  readonly workloads: readonly Workload[];
  readonly contenders: readonly Contender[];
  /** Where the compiled children are. */
  readonly build: string;
  /** The Go peer's binary, when it was built. */
  readonly go: string | undefined;
}

/** Who is measured: etcd-ts, Go, node-etcd, etcd3, wrk and h2load unless `--clients` names others (undici-raw too). */
type Contender = NodeClient | Ceiling | "go";
/** The C load generators that give each API's raw ceiling: wrk for v2, h2load for v3. */
type Ceiling = "wrk" | "h2load";

function isCeiling(who: Contender): who is Ceiling {
  return who === "wrk" || who === "h2load";
}

/** The contenders; the Go peer is built (`buildGoPeer`) only when it is one of them. */
function contenders(list: string | undefined, wanted: { wrk: boolean; h2load: boolean }, buildGoPeer: () => GoPeer): { chosen: Contender[]; go: string | undefined } {
  const known: readonly Contender[] = ["etcd-ts", "go", "node-etcd", "etcd3", "undici-raw", "wrk", "h2load"];
  const named = list === undefined ? [...NODE_CLIENTS, "go", "wrk", "h2load"] : list.split(",");
  const tools: readonly [Ceiling, string, string, boolean][] = [
    ["wrk", WRK, "Debian package wrk: the v2 ceiling column is left out", wanted.wrk],
    ["h2load", H2LOAD, "Debian package nghttp2-client: the v3 ceiling column is left out", wanted.h2load],
  ];
  let chosen = known.filter((c) => named.includes(c));
  for (const [who, path, why, on] of tools) {
    if (on && chosen.includes(who) && !existsSync(path)) progress(`${path} not found (${why})`);
    if (!on || !existsSync(path)) chosen = chosen.filter((c) => c !== who);
  }
  if (!chosen.includes("go")) return { chosen, go: undefined };
  const go = buildGoPeer();
  if (go.ok) return { chosen, go: go.binary };
  progress(go.reason);
  return { chosen: chosen.filter((c) => c !== "go"), go: undefined };
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
      "no-h2load": { type: "boolean" },
      clients: { type: "string" },
      workloads: { type: "string" },
    },
  });
  const quick = values.quick === true;
  const who = contenders(values.clients, { wrk: values["no-wrk"] !== true, h2load: values["no-h2load"] !== true }, () => buildGo(build));
  const list = (text: string | undefined, fallback: readonly number[]): number[] => (text === undefined ? [...fallback] : text.split(",").map(Number));
  return {
    quick,
    rounds: Number(values.rounds ?? (quick ? 1 : 3)),
    members: list(values.members, [1, 3]),
    concurrency: list(values.concurrency, quick ? [1, 64] : [1, 16, 64, 256]),
    // Warm-up is by time, not by count: 2,000 ops left etcd-ts's code half-optimised by V8
    // (43 against 31 µs per weak GET), which a count sized for the slowest client cannot fix.
    // Full run: 1 s warm-up and 2.5 s measured per cell keep 360 cells (v2 and v3, 2 clusters,
    // 3 rounds) near 25 minutes; 5 s phases took 45. A median of 3 short rounds resists the
    // machine's other load better than one long round.
    warm: quick ? { ops: 20_000, ms: 300 } : { ops: 200_000, ms: 1000 },
    limits: quick ? { ops: 3000, ms: 400 } : { ops: 50_000, ms: 2500 },
    ceilingSeconds: quick ? 1 : 2,
    quietCores: quick ? 0 : 0.2,
    watch: values["no-watch"] !== true,
    workloads: workloadList(values.workloads),
    contenders: who.chosen,
    build,
    go: who.go,
  };
}

/** `--workloads v2`, `v3`, or names (e.g. `get-local,v3-put`); all by default. */
function workloadList(text: string | undefined): Workload[] {
  if (text === undefined) return [...WORKLOADS];
  const wanted = text.split(",").flatMap((w) => (w === "v2" ? [...V2_WORKLOADS] : w === "v3" ? [...V3_WORKLOADS] : [w]));
  return WORKLOADS.filter((w) => wanted.includes(w));
}

/** Where the clients point: etcd-ts starts on a follower (the common case) and wrk and h2load use the same one. */
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
  // The v3 read key is written with etcd3, so that it exists whether or not etcd-ts's v3 client does.
  const v3 = new Etcd3({ hosts: [...cluster.endpoints()] });
  try {
    await v3.put(v3Paths(prefix).readKey).value(VALUE).exec();
  } finally {
    v3.close();
  }
  const serverPids = cluster.members.map((m) => m.pid).filter((p): p is number => p !== undefined);
  return { members: cluster.size, endpoints: cluster.endpoints(), pin, prefix, serverPids };
}

interface CellSpec {
  readonly workload: Workload;
  readonly concurrency: number;
}

/** One cell for one contender; each Node client and the Go peer run in a fresh child process. */
async function cell(s: Settings, t: Target, who: Contender, workload: Workload, concurrency: number): Promise<Cell> {
  if (s.quietCores > 0) await waitQuiet(t.serverPids, s.quietCores, QUIET_WAIT_MS);
  if (who === "wrk") return { ...(await runWrk(t.pin, t.prefix, workload, concurrency, s.ceilingSeconds, t.serverPids)), workload, concurrency, client: who, members: t.members };
  if (who === "h2load") {
    if (!isV3(workload)) throw new Error(`h2load runs only the v3 workloads, not ${workload}`);
    return { ...(await runH2load(t.pin, t.prefix, workload, concurrency, s.ceilingSeconds, t.serverPids)), workload, concurrency, client: who, members: t.members };
  }
  const [only] = await workerCells(s, t, who, [{ workload, concurrency }]);
  if (only === undefined) throw new Error("the worker reported no cell");
  return only;
}

/**
 * Runs `list` in one child process of client `who` (the Go peer's reads the same spec); a cell the
 * child did not report (it died) is returned as crashed. A crash is a benchmark bug, not a
 * measurement: the run goes on and fails at the end.
 */
async function workerCells(s: Settings, t: Target, who: NodeClient | "go", list: readonly CellSpec[]): Promise<Cell[]> {
  const spec: WorkerSpec = {
    client: who,
    endpoints: t.endpoints,
    pin: t.pin,
    prefix: t.prefix,
    serverPids: t.serverPids,
    cells: list,
    warm: s.warm,
    limits: s.limits,
    quietCores: 0,
  };
  let stdout: string;
  let why: string | undefined;
  try {
    const json = JSON.stringify(spec);
    const child = who === "go" && s.go !== undefined ? { command: s.go, args: [json] } : { command: process.execPath, args: [compiled(s.build, WORKER), json] };
    ({ stdout } = await execFileAsync(child.command, child.args, { maxBuffer: 1 << 24, timeout: 5 * 60_000 }));
  } catch (error) {
    const out = (error as { stdout?: unknown }).stdout;
    stdout = typeof out === "string" ? out : "";
    why = crashReason(error);
  }
  const reported = stdout
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => ({ ...(JSON.parse(line) as Cell), members: t.members }));
  return list.map((c, i) => {
    const got = reported[i];
    if (got !== undefined) return got;
    progress(`${who} ${c.workload} C=${c.concurrency} (${t.members} member(s)) crashed: ${why ?? "no result"}`);
    return { ...c, client: who, members: t.members, crashed: why ?? "no result", ops: 0, errors: 0, opsPerSec: 0, p50Ms: Number.NaN, p99Ms: Number.NaN, cpuUsPerOp: Number.NaN };
  });
}

/** A dead child's uncaught error (the "XError: message" line of its stderr), or the exec error's message. */
function crashReason(error: unknown): string {
  const stderr = (error as { stderr?: unknown }).stderr;
  const lines = typeof stderr === "string" ? stderr.trim().split("\n") : [];
  const thrown = lines.find((l) => /^\w*Error\b/.test(l)) ?? lines.find((l) => /error/i.test(l));
  return thrown?.trim() ?? (error instanceof Error ? error.message.split("\n")[0] ?? error.name : String(error));
}

/** One watch-scale child; undefined when it had nothing to measure (no v3 client yet) or died (then `failures` grows). */
async function watchScale(s: Settings, t: Target, api: "v2" | "v3", failures: string[]): Promise<WatchResult | undefined> {
  const watches = api === "v2" ? 1000 : 10_000;
  const spec: WatchSpec = { endpoints: t.endpoints, pin: t.pin, prefix: `${t.prefix}-watch`, watches, samples: s.quick ? 50 : 200, burstConcurrency: 64 };
  try {
    const { stdout } = await execFileAsync(process.execPath, ["--expose-gc", compiled(s.build, api === "v2" ? WATCH : WATCH_V3), JSON.stringify(spec)], { timeout: 180_000 });
    return JSON.parse(stdout.trim()) as WatchResult;
  } catch (error) {
    if ((error as { code?: unknown }).code === NO_V3_EXIT) return undefined;
    const why = crashReason(error);
    progress(`${api} watch scale crashed: ${why}`);
    failures.push(`${api} watch scale: ${why}`);
    return undefined;
  }
}

/** The contenders of one cell: those that speak its API (etcd-ts's v3 rows only when its v3 client exists). */
function cellContenders(s: Settings, v3: V3Lookup, workload: Workload): Contender[] {
  return s.contenders.filter((who) => supports(who, workload) && !(who === "etcd-ts" && isV3(workload) && !v3.ok));
}

async function benchCluster(s: Settings, v3: V3Lookup, members: number, runs: Cell[][], failures: string[]): Promise<WatchResult[]> {
  const cluster = await startCluster({ size: members as 1 | 3, name: `bench${members}`, extraArgs: DEFAULT_RAFT });
  try {
    const target = await prepare(cluster);
    for (let round = 0; round < s.rounds; round++) {
      progress(`${members} member(s), round ${round + 1}/${s.rounds}`);
      const cells: Cell[] = [];
      if (s.quick) {
        // --quick only proves that every path runs: one process per Node client per cluster
        // (about 8 instead of 60 process starts), wrk and h2load per cell as always.
        for (const who of s.contenders) {
          const list = s.workloads.filter((w) => cellContenders(s, v3, w).includes(who)).flatMap((workload) => s.concurrency.map((concurrency) => ({ workload, concurrency })));
          if (isCeiling(who)) for (const c of list) cells.push(await cell(s, target, who, c.workload, c.concurrency));
          else if (list.length > 0) cells.push(...(await workerCells(s, target, who, list)));
        }
        runs.push(cells);
        continue;
      }
      let k = round;
      for (const workload of s.workloads) {
        const present = cellContenders(s, v3, workload);
        for (const concurrency of s.concurrency) {
          // The contenders of a cell run back to back, so a change in the machine's load between
          // cells hits them alike; the order rotates so that none always goes first.
          const n = present.length;
          const order = present.map((_, i) => present[(i + k) % n] ?? "wrk");
          k++;
          for (const who of order) cells.push(await cell(s, target, who, workload, concurrency));
        }
      }
      runs.push(cells);
    }
    const watches: WatchResult[] = [];
    if (!s.watch || members !== 1) return watches;
    if (s.workloads.some((w) => !isV3(w))) {
      progress("watch scale: 1,000 v2 watches");
      const w = await watchScale(s, target, "v2", failures);
      if (w !== undefined) watches.push(w);
    }
    if (s.workloads.some((w) => isV3(w))) {
      if (v3.ok) {
        progress("watch scale: 10,000 v3 watchers");
        const w = await watchScale(s, target, "v3", failures);
        if (w !== undefined) watches.push(w);
      } else progress(`v3 watch scale skipped: ${v3.reason}`);
    }
    return watches;
  } finally {
    await cluster.stop();
  }
}

function progress(text: string): void {
  process.stderr.write(`[bench] ${text}\n`);
}

async function main(): Promise<void> {
  const started = performance.now();
  const s = settings(compile([WORKER, WATCH, WATCH_V3]));
  try {
    await measure(s, started);
  } finally {
    clean(s.build);
  }
}

async function measure(s: Settings, started: number): Promise<void> {
  const loadBefore = loadavg();
  const v3 = await loadV3();
  // The etcd3 rows still run: they are the bar the etcd-ts rows will be held to.
  const skipped = !v3.ok && s.contenders.includes("etcd-ts") && s.workloads.some(isV3) ? `etcd-ts v3 rows skipped: ${v3.reason}` : undefined;
  if (skipped !== undefined) progress(skipped);
  const runs: Cell[][] = [];
  const failures: string[] = [];
  const watches: WatchResult[] = [];
  for (const members of s.members) watches.push(...(await benchCluster(s, v3, members, runs, failures)));
  const seconds = (performance.now() - started) / 1000;
  const loadAfter = loadavg();
  const cpu = cpus()[0]?.model ?? "?";
  const load = (l: number[]): string => l.map((x) => x.toFixed(2)).join(", ");
  console.log(`### throughput: ${s.rounds} round(s), median round per cell; ${cpus().length} × ${cpu}, Node ${process.version}; took ${seconds.toFixed(0)} s`);
  console.log(`load average (1, 5, 15 min) before: ${load(loadBefore)}; after: ${load(loadAfter)}\n`);
  // Quick cells run in cold processes for a fraction of a second: they prove the benchmark runs.
  if (s.quick) console.log("**--quick: cold processes and short phases; these numbers are not for comparison.**\n");
  if (skipped !== undefined) console.log(`**${skipped}** (the etcd3 rows still ran).\n`);
  console.log(table(runs, s));
  for (const w of watches) console.log(`\n${watchTable(w)}`);
  mkdirSync("bench/results", { recursive: true });
  const file = `bench/results/${new Date().toISOString().replace(/[:.]/g, "-")}.json`;
  writeFileSync(file, JSON.stringify({ settings: s, node: process.version, cpu, seconds, loadBefore, loadAfter, v3Skipped: skipped, runs, watches }, null, 2));
  progress(`results written to ${file}`);
  const crashed = runs.flat().filter((c) => c.crashed !== undefined);
  for (const c of crashed) failures.push(`${c.client} ${c.workload} C=${c.concurrency} (${c.members} member(s)): ${c.crashed ?? ""}`);
  if (failures.length > 0) {
    progress(`FAILED: ${failures.length} child process(es) died:\n  ${failures.join("\n  ")}`);
    process.exitCode = 1;
  }
}

await main();
