/** Turns benchmark runs into the markdown tables printed at the end. */
import type { PhaseResult } from "./phase.js";
import { ms, rate } from "./stats.js";
import type { WatchResult } from "./watch-scale.js";
import { WORKLOADS, type Workload } from "./workloads.js";

/** One measured cell of one round. */
export type Cell = PhaseResult & {
  readonly workload: Workload;
  readonly concurrency: number;
  readonly client: string;
  readonly members: number;
};

/** Cells measured while other work used more than this many cores are marked. */
const NOISY_CORES = 0.25;

/**
 * Go's official v2 client and node-etcd on this machine kind, 1 member, 64 in flight (the
 * brief's reference figures), the bar etcd-ts is held to.
 */
const REFERENCE: Record<Workload, { go: number; nodeEtcd: number }> = {
  "get-local": { go: 29_600, nodeEtcd: 6_200 },
  "get-quorum": { go: 17_000, nodeEtcd: 5_200 },
  set: { go: 14_500, nodeEtcd: 4_800 },
};

/** The median round of a cell by ops/s (the lower middle when the count is even). */
export function medianCell(cells: readonly Cell[]): Cell | undefined {
  const sorted = [...cells].sort((a, b) => a.opsPerSec - b.opsPerSec);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

function pick(all: readonly Cell[], members: number, workload: Workload, concurrency: number, client: string): Cell | undefined {
  return medianCell(all.filter((c) => c.members === members && c.workload === workload && c.concurrency === concurrency && c.client === client));
}

function show(c: Cell | undefined): string {
  if (c === undefined) return "–";
  const noisy = (c.foreignCores ?? 0) > NOISY_CORES ? " †" : "";
  const errors = c.errors > 0 ? ` (${c.errors} errors)` : "";
  return `${rate(c.opsPerSec)} · ${ms(c.p50Ms)}/${ms(c.p99Ms)} · ${c.cpuUsPerOp.toFixed(0)}${noisy}${errors}`;
}

function ratio(a: Cell | undefined, b: Cell | undefined): string {
  return a === undefined || b === undefined ? "–" : `${(a.opsPerSec / b.opsPerSec).toFixed(2)}×`;
}

/** The throughput table: one row per cluster size, workload and concurrency. */
export function table(all: readonly Cell[], s: { readonly members: readonly number[]; readonly concurrency: readonly number[] }): string {
  // The bare undici Pool is an extra, shown only when it was measured (`--clients`).
  const peers = ["node-etcd", ...(all.some((c) => c.client === "undici-raw") ? ["undici-raw"] : []), "wrk"].filter((p) => all.some((c) => c.client === p));
  const title = (p: string): string => (p === "wrk" ? "wrk (ceiling)" : p);
  const lines = [
    "cell: ops/s · p50/p99 ms · client CPU µs/op (wrk: its own CPU); † = more than 0.25 cores of other load during the cell",
    "",
    `| members | workload | C | etcd-ts | ${peers.map(title).join(" | ")} | ${peers.map((p) => `etcd-ts ÷ ${p}`).join(" | ")} | CPU/op etcd-ts ÷ node-etcd |`,
    `|---:|---|---:|---:|${peers.map(() => "---:|").join("")}${peers.map(() => "---:|").join("")}---:|`,
  ];
  for (const members of s.members) {
    for (const workload of WORKLOADS) {
      for (const c of s.concurrency) {
        const ours = pick(all, members, workload, c, "etcd-ts");
        const theirs = peers.map((p) => pick(all, members, workload, c, p));
        const node = pick(all, members, workload, c, "node-etcd");
        const cpu = ours === undefined || node === undefined ? "–" : (ours.cpuUsPerOp / node.cpuUsPerOp).toFixed(2);
        lines.push(`| ${members} | ${workload} | ${c} | ${show(ours)} | ${theirs.map(show).join(" | ")} | ${theirs.map((t) => ratio(ours, t)).join(" | ")} | ${cpu} |`);
      }
    }
  }
  lines.push("", ...targets(all, s.concurrency));
  return lines.join("\n");
}

/** etcd-ts against the bar: Go's v2 client and 3× node-etcd's reference figures, 1 member. */
function targets(all: readonly Cell[], concurrency: readonly number[]): string[] {
  const lines = [
    "Against the targets (1 member; Go v2 client and node-etcd reference figures for C=64 on this machine kind):",
    "",
    "| workload | C | etcd-ts ops/s | ÷ Go ref | ÷ node-etcd ref | ÷ node-etcd here | p99 etcd-ts / node-etcd here (ms) |",
    "|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const workload of WORKLOADS) {
    for (const c of concurrency.filter((n) => n === 16 || n === 64)) {
      const ours = pick(all, 1, workload, c, "etcd-ts");
      const peer = pick(all, 1, workload, c, "node-etcd");
      if (ours === undefined) continue;
      const ref = REFERENCE[workload];
      const p99 = peer === undefined ? "–" : `${ms(ours.p99Ms)} / ${ms(peer.p99Ms)}`;
      lines.push(`| ${workload} | ${c} | ${rate(ours.opsPerSec)} | ${(ours.opsPerSec / ref.go).toFixed(2)}× | ${(ours.opsPerSec / ref.nodeEtcd).toFixed(2)}× | ${ratio(ours, peer)} | ${p99} |`);
    }
  }
  return lines;
}

/** The watch-scale result as a small table. */
export function watchTable(w: WatchResult): string {
  const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
  return [
    `### v2 watch scale: ${w.watches} watches on one etcd-ts client (1 member)`,
    "",
    "| measure | value |",
    "|---|---:|",
    `| time to establish all (until each saw its first event) | ${ms(w.establishMs)} ms |`,
    `| heap held by the watches (after GC) | ${mb(w.heapDeltaBytes)} (${(w.heapDeltaBytes / w.watches / 1024).toFixed(1)} KiB each) |`,
    `| RSS growth | ${mb(w.rssDeltaBytes)} (${(w.rssDeltaBytes / w.watches / 1024).toFixed(1)} KiB each) |`,
    `| delivery, one write at a time: p50 / p99 / max (n=${w.sequential.n}) | ${ms(w.sequential.p50Ms)} / ${ms(w.sequential.p99Ms)} / ${ms(w.sequential.maxMs)} ms |`,
    `| delivery, ${w.burst.n} writes 64 in flight: p50 / p99 / max | ${ms(w.burst.p50Ms)} / ${ms(w.burst.p99Ms)} / ${ms(w.burst.maxMs)} ms (all in ${ms(w.burst.totalMs)} ms) |`,
    `| events lost | ${w.lost} |`,
  ].join("\n");
}
