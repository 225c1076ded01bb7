/**
 * A child process that runs throughput cells for ONE client and prints one JSON line per cell.
 * Each client gets a process of its own, so one client's garbage and JIT state never bill the
 * other's phases, and `node --cpu-prof` can profile a single client.
 */
import { etcd3Bench, etcdTsBench, isV3, nodeEtcdBench, undiciRawBench, type Bench, type NodeClient, type Workload } from "./workloads.js";
import { runPhase, type Limits } from "./phase.js";
import { waitQuiet } from "./machine.js";
import { loadV3 } from "./v3.js";

/** What the parent asks a worker to do. */
export interface WorkerSpec {
  /** Which client; "go" is read by bench/go/etcdbench.go, which takes this same spec. */
  readonly client: NodeClient | "go";
  readonly endpoints: readonly string[];
  /** The member etcd-ts starts on (and wrk uses). */
  readonly pin: string;
  readonly prefix: string;
  readonly serverPids: readonly number[];
  readonly cells: readonly { workload: Workload; concurrency: number }[];
  readonly warm: Limits;
  readonly limits: Limits;
  /** Wait for the machine to be this quiet (cores of foreign load) before each cell; 0 to skip. */
  readonly quietCores: number;
}

async function makeBench(spec: WorkerSpec): Promise<Bench> {
  switch (spec.client) {
    case "etcd-ts": {
      if (!spec.cells.some((c) => isV3(c.workload))) return etcdTsBench(spec.endpoints, spec.pin, spec.prefix);
      const v3 = await loadV3();
      // The parent schedules no etcd-ts v3 cell without the class; this is for a worker run by hand.
      if (!v3.ok) throw new Error(v3.reason);
      return etcdTsBench(spec.endpoints, spec.pin, spec.prefix, v3.EtcdV3Client);
    }
    case "node-etcd":
      return nodeEtcdBench(spec.endpoints, spec.prefix);
    case "etcd3":
      return etcd3Bench(spec.endpoints, spec.prefix);
    case "undici-raw":
      return undiciRawBench(spec.pin, spec.prefix);
    case "go":
      throw new Error("the Go peer runs bench/go/etcdbench.go, not this worker");
  }
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? "{}") as WorkerSpec;
  const bench = await makeBench(spec);
  try {
    for (const cell of spec.cells) {
      if (spec.quietCores > 0) await waitQuiet(spec.serverPids, spec.quietCores, 5_000);
      const result = await runPhase(bench.op(cell.workload), cell.concurrency, spec.warm, spec.limits, spec.serverPids);
      process.stdout.write(`${JSON.stringify({ ...cell, client: spec.client, ...result })}\n`);
    }
  } finally {
    await bench.close();
  }
}

await main();
