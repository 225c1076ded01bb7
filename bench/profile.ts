/**
 * CPU profile of one client on one cell: starts a 1-member etcd, runs the benchmark worker under
 * `node --cpu-prof` (compiled, as in `npm run bench`) and prints where the client's time went,
 * by package and by function (self time). The .cpuprofile is kept for Chrome DevTools.
 *
 *   node --import tsx bench/profile.ts --client etcd-ts --workload get-local --concurrency 64
 *   node --import tsx bench/profile.ts --client etcd3 --workload v3-put --ms 5000 --top 40
 */
import { execFile } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs, promisify } from "node:util";
import { Etcd3 } from "etcd3";
import { EtcdV2Client } from "../src/index.js";
import { startCluster } from "../test/harness/index.js";
import { clean, compile, compiled } from "./lib/build.js";
import type { WorkerSpec } from "./lib/worker.js";
import { VALUE, WORKLOADS, paths, v3Paths, type NodeClient, type Workload } from "./lib/workloads.js";

const run = promisify(execFile);
const WORKER = "bench/lib/worker.ts";

interface CpuProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly hitCount?: number;
}

interface CpuProfile {
  readonly nodes: readonly CpuProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
}

/** Which package (or part of Node) a frame belongs to. */
function bucket(node: CpuProfileNode): string {
  const { url, functionName } = node.callFrame;
  if (url === "") return functionName.startsWith("(") ? functionName : `native ${functionName}`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg !== null) return pkg[1] === ".cache" ? `etcd-ts ${/\/(src|bench)\//.exec(url)?.[1] ?? "?"}` : (pkg[1] ?? "?");
  if (url.startsWith("node:")) return `node:${url.slice(5).split("/").slice(0, 2).join("/")}`;
  return url;
}

function top(map: Map<string, number>, total: number, n: number): string[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, hits]) => `${((100 * hits) / total).toFixed(1).padStart(5)} %  ${name}`);
}

/** Self time by package and by function, as shares of the busy (non-idle) samples. */
export function summarise(profile: CpuProfile, n: number): string {
  const byBucket = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0 || node.callFrame.functionName === "(idle)") continue;
    total += hits;
    const b = bucket(node);
    byBucket.set(b, (byBucket.get(b) ?? 0) + hits);
    const file = node.callFrame.url.split("/").slice(-1)[0] ?? "";
    const name = `${node.callFrame.functionName || "(anonymous)"} ${file}:${node.callFrame.lineNumber + 1} [${b}]`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + hits);
  }
  return [`busy samples: ${total}`, "", "by package (self):", ...top(byBucket, total, 15), "", "by function (self):", ...top(byFunction, total, n)].join("\n");
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      client: { type: "string", default: "etcd-ts" },
      workload: { type: "string", default: "get-local" },
      concurrency: { type: "string", default: "64" },
      ms: { type: "string", default: "4000" },
      top: { type: "string", default: "30" },
    },
  });
  const workload = values.workload as Workload;
  if (!WORKLOADS.includes(workload)) throw new Error(`--workload must be one of ${WORKLOADS.join(", ")}`);
  const build = compile([WORKER]);
  const cluster = await startCluster({ size: 1, name: "benchprof", extraArgs: ["--heartbeat-interval=100", "--election-timeout=1000"] });
  try {
    const prefix = cluster.prefix("bench");
    const v2 = new EtcdV2Client({ endpoints: cluster.endpoints() });
    await v2.set(paths(prefix).readKey, VALUE);
    await v2.close();
    const v3 = new Etcd3({ hosts: [...cluster.endpoints()] });
    await v3.put(v3Paths(prefix).readKey).value(VALUE).exec();
    v3.close();
    const spec: WorkerSpec = {
      client: values.client as NodeClient,
      endpoints: cluster.endpoints(),
      pin: cluster.clientUrl(0),
      prefix,
      serverPids: cluster.members.map((m) => m.pid).filter((p): p is number => p !== undefined),
      cells: [{ workload, concurrency: Number(values.concurrency) }],
      warm: { ops: 200_000, ms: 1500 },
      limits: { ops: 1_000_000, ms: Number(values.ms) },
      quietCores: 0,
    };
    const dir = join("bench", "results", "profiles", `${spec.client}-${workload}-c${values.concurrency}-${Date.now()}`);
    mkdirSync(dir, { recursive: true });
    const { stdout } = await run(process.execPath, ["--cpu-prof", "--cpu-prof-dir", dir, compiled(build, WORKER), JSON.stringify(spec)], { timeout: 120_000 });
    const cell = JSON.parse(stdout) as { opsPerSec: number; cpuUsPerOp: number; p99Ms: number; errors: number };
    console.log(`${spec.client} ${workload} C=${values.concurrency}: ${cell.opsPerSec.toFixed(0)} ops/s, ${cell.cpuUsPerOp.toFixed(1)} µs CPU/op, p99 ${cell.p99Ms.toFixed(2)} ms, ${cell.errors} errors (the profile includes warm-up)`);
    const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
    if (file === undefined) throw new Error(`no profile written in ${dir}`);
    console.log(`profile: ${join(dir, file)}\n`);
    console.log(summarise(JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile, Number(values.top)));
  } finally {
    await cluster.stop();
    clean(build);
  }
}

await main();
