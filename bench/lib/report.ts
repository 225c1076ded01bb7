/** Turns benchmark runs into the markdown tables printed at the end. */
import { describeErrors } from "./errors.js";
import type { PhaseResult } from "./phase.js";
import { ms, rate } from "./stats.js";
import type { WatchResult } from "./watch-scale.js";
import { V2_WORKLOADS, V3_WORKLOADS, type Workload } from "./workloads.js";

/** One measured cell of one round. */
export type Cell = PhaseResult & {
  readonly workload: Workload;
  readonly concurrency: number;
  readonly client: string;
  readonly members: number;
  /** Set when the client's child process died instead of reporting: why (its stderr's last line). */
  readonly crashed?: string | undefined;
};

/** Cells measured while other work used more than this many cores are marked. */
const NOISY_CORES = 0.25;

/** A peer's reference figure and the multiple of it etcd-ts must reach. */
interface Reference {
  readonly go: number;
  readonly peer: number;
}

/**
 * The issue's reference figures on this machine kind, 1 member, 64 in flight: Go's official
 * clients and the Node peer (node-etcd for v2, etcd3 for v3). v3 range serializable has none.
 */
const REFERENCE: Partial<Record<Workload, Reference>> = {
  "get-local": { go: 29_600, peer: 6_200 },
  "get-quorum": { go: 17_000, peer: 5_200 },
  set: { go: 14_500, peer: 4_800 },
  "v3-put": { go: 21_100, peer: 8_700 },
  "v3-range-linearizable": { go: 11_000, peer: 7_400 },
};

/** What one table compares: etcd-ts against a main peer (and more columns), with the issue's bar. */
interface Section {
  readonly api: "v2" | "v3";
  readonly workloads: readonly Workload[];
  /** The peer whose ops/s etcd-ts must multiply and whose CPU per op it must beat. */
  readonly peer: string;
  /** The multiple of `peer` the issue asks for. */
  readonly multiple: number;
  /** The C load generator whose ops/s is this API's raw ceiling on the same member. */
  readonly ceiling: string;
  /** Columns beside etcd-ts, in order (those never measured are left out). */
  readonly columns: readonly string[];
}

const SECTIONS: readonly Section[] = [
  { api: "v2", workloads: V2_WORKLOADS, peer: "node-etcd", multiple: 3, ceiling: "wrk", columns: ["go", "node-etcd", "undici-raw", "wrk"] },
  { api: "v3", workloads: V3_WORKLOADS, peer: "etcd3", multiple: 2, ceiling: "h2load", columns: ["go", "etcd3", "h2load"] },
];

/** The median round of a cell by ops/s (the lower middle when the count is even). */
export function medianCell(cells: readonly Cell[]): Cell | undefined {
  const sorted = [...cells].sort((a, b) => a.opsPerSec - b.opsPerSec);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

function pick(all: readonly Cell[], members: number, workload: Workload, concurrency: number, client: string): Cell | undefined {
  return medianCell(all.filter((c) => c.members === members && c.workload === workload && c.concurrency === concurrency && c.client === client));
}

/** Errors in a row: "err 0.31% (OUTCOME_UNKNOWN 12)"; empty when none. */
function errorText(c: Cell): string {
  if (c.errors === 0) return "";
  const share = (100 * c.errors) / (c.ops + c.errors);
  const codes = describeErrors(c.errorsByCode);
  return ` · err ${share < 0.1 ? share.toFixed(2) : share.toFixed(1)}%${codes === "" ? "" : ` (${codes})`}`;
}

function show(c: Cell | undefined): string {
  if (c === undefined) return "–";
  if (c.crashed !== undefined) return `crashed: ${c.crashed.slice(0, 80)}`;
  const noisy = (c.foreignCores ?? 0) > NOISY_CORES ? " †" : "";
  const cpu = Number.isFinite(c.cpuUsPerOp) ? c.cpuUsPerOp.toFixed(0) : "–";
  return `${rate(c.opsPerSec)} · ${ms(c.p50Ms)}/${ms(c.p99Ms)} · ${cpu}${noisy}${errorText(c)}`;
}

function usable(c: Cell | undefined): c is Cell {
  return c !== undefined && c.crashed === undefined && c.ops > 0;
}

function ratio(a: Cell | undefined, b: Cell | undefined): string {
  return usable(a) && usable(b) ? `${(a.opsPerSec / b.opsPerSec).toFixed(2)}×` : "–";
}

function quiet(c: Cell): boolean {
  return (c.foreignCores ?? 0) <= NOISY_CORES;
}

/**
 * etcd-ts ÷ `peer` for one row as the median of the ratios within each round. A cell's contenders
 * run back to back, so a round's ratio sees the same machine, while the medians of separate cells
 * may come from rounds with different load. Rounds where neither cell had other load are used
 * when there are any; otherwise all, marked †; "(q/n)" says how many of n rounds were quiet.
 */
function pairedRatio(rounds: readonly (readonly Cell[])[], members: number, workload: Workload, concurrency: number, peer: string): string {
  const find = (cells: readonly Cell[], client: string): Cell | undefined => cells.find((c) => c.members === members && c.workload === workload && c.concurrency === concurrency && c.client === client);
  const pairs: { r: number; quiet: boolean }[] = [];
  for (const cells of rounds) {
    const a = find(cells, "etcd-ts");
    const b = find(cells, peer);
    if (usable(a) && usable(b)) pairs.push({ r: a.opsPerSec / b.opsPerSec, quiet: quiet(a) && quiet(b) });
  }
  if (pairs.length === 0) return "–";
  const calm = pairs.filter((p) => p.quiet);
  const use = (calm.length > 0 ? calm : pairs).map((p) => p.r).sort((x, y) => x - y);
  const mid = use.length % 2 === 1 ? (use[(use.length - 1) / 2] as number) : ((use[use.length / 2 - 1] as number) + (use[use.length / 2] as number)) / 2;
  const note = calm.length === pairs.length ? "" : calm.length === 0 ? " †" : ` (${calm.length}/${pairs.length})`;
  return `${mid.toFixed(2)}×${note}`;
}

function title(p: string): string {
  if (p === "go") return "Go client";
  return p === "wrk" || p === "h2load" ? `${p} (ceiling)` : p;
}

/** One section's table: one row per cluster size, workload and concurrency. */
function sectionTable(rounds: readonly (readonly Cell[])[], s: Settings, section: Section): string[] {
  const cells = rounds.flat().filter((c) => section.workloads.includes(c.workload));
  if (cells.length === 0) return [];
  const peers = section.columns.filter((p) => cells.some((c) => c.client === p));
  const ours = cells.some((c) => c.client === "etcd-ts");
  const lines = [
    `#### ${section.api}${ours ? "" : " (no etcd-ts rows: see above)"}`,
    "",
    `| members | workload | C | etcd-ts | ${peers.map(title).join(" | ")} | ${peers.map((p) => `etcd-ts ÷ ${p}`).join(" | ")} | CPU/op etcd-ts ÷ ${section.peer} |`,
    `|---:|---|---:|---:|${peers.map(() => "---:|").join("")}${peers.map(() => "---:|").join("")}---:|`,
  ];
  for (const members of s.members) {
    for (const workload of section.workloads) {
      for (const c of s.concurrency) {
        const mine = pick(cells, members, workload, c, "etcd-ts");
        const theirs = peers.map((p) => pick(cells, members, workload, c, p));
        if (mine === undefined && theirs.every((t) => t === undefined)) continue;
        const peer = pick(cells, members, workload, c, section.peer);
        const cpu = usable(mine) && usable(peer) ? (mine.cpuUsPerOp / peer.cpuUsPerOp).toFixed(2) : "–";
        lines.push(`| ${members} | ${workload} | ${c} | ${show(mine)} | ${theirs.map(show).join(" | ")} | ${peers.map((p) => pairedRatio(rounds, members, workload, c, p)).join(" | ")} | ${cpu} |`);
      }
    }
  }
  return [...lines, "", ...targets(rounds, s.concurrency, section)];
}

/**
 * etcd-ts against the bar of its section: the Go client measured in this run at the same
 * concurrency, the issue's reference figures (Go and Node peer, C=64), and a multiple of the Node
 * peer; beside them the raw ceiling at the same concurrency, since no client can pass it, and a
 * Go reference above it cannot be reached by any client at that concurrency.
 */
function targets(rounds: readonly (readonly Cell[])[], concurrency: readonly number[], section: Section): string[] {
  const all = rounds.flat();
  const lines = [
    `Against the targets (1 member; the issue asks for ≥ Go and ≥ ${section.multiple}× ${section.peer} at 16 and 64 in flight, p99 no worse, least CPU per op; "here" = measured in this run at this C; "ref" = the issue's figures for C=64 on this machine kind; ‡ = the Go reference is above what ${section.ceiling} got from the server at this C):`,
    "",
    `| workload | C | etcd-ts ops/s | Go here (etcd-ts ÷ Go) | ÷ Go ref | ÷ ${section.peer} ref | ÷ ${section.peer} here | ${section.ceiling} here (etcd-ts ÷ it) | p99 etcd-ts / Go / ${section.peer} here (ms) | CPU/op etcd-ts / Go / ${section.peer} here (µs) |`,
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const workload of section.workloads) {
    for (const c of concurrency.filter((n) => n === 16 || n === 64)) {
      const ours = pick(all, 1, workload, c, "etcd-ts");
      const go = pick(all, 1, workload, c, "go");
      const peer = pick(all, 1, workload, c, section.peer);
      const top = pick(all, 1, workload, c, section.ceiling);
      if (!usable(ours)) continue;
      const ref = REFERENCE[workload];
      const vs = (n: number | undefined): string => (n === undefined ? "–" : `${(ours.opsPerSec / n).toFixed(2)}×`);
      const above = ref !== undefined && usable(top) && ref.go > top.opsPerSec ? " ‡" : "";
      const beside = (who: Cell | undefined, text: (c: Cell) => string): string => (usable(who) ? text(who) : "–");
      const ceiling = beside(top, (t) => `${rate(t.opsPerSec)} (${ratio(ours, t)})`);
      const goHere = beside(go, (g) => `${rate(g.opsPerSec)} (${pairedRatio(rounds, 1, workload, c, "go")})`);
      const p99 = [ours, go, peer].map((x) => beside(x, (y) => ms(y.p99Ms))).join(" / ");
      const cpu = [ours, go, peer].map((x) => beside(x, (y) => y.cpuUsPerOp.toFixed(0))).join(" / ");
      lines.push(`| ${workload} | ${c} | ${rate(ours.opsPerSec)} | ${goHere} | ${vs(ref?.go)}${above} | ${vs(ref?.peer)} | ${ratio(ours, peer)} | ${ceiling} | ${p99} | ${cpu} |`);
    }
  }
  return lines;
}

interface Settings {
  readonly members: readonly number[];
  readonly concurrency: readonly number[];
}

/** The throughput tables: v2 (etcd-ts, Go, node-etcd, wrk) and v3 (etcd-ts, Go, etcd3, h2load), each with its targets. */
export function table(rounds: readonly (readonly Cell[])[], s: Settings): string {
  const lines = [
    "cell: ops/s · p50/p99 ms · client CPU µs/op (wrk, h2load: their own CPU; Go client: etcd's official Go clients, v2 client and clientv3 of etcd 3.4.23, built from Debian's packages); † = more than 0.25 cores of other load during the cell; etcd-ts ÷ X = the median of the ratios within each round (a cell's contenders run back to back), from the quiet rounds when there are any, (q/n) = q of n rounds quiet; err = share of ops that failed, by code (ops/s, latency and CPU/op count successful ops only)",
  ];
  for (const section of SECTIONS) {
    const part = sectionTable(rounds, s, section);
    if (part.length > 0) lines.push("", ...part);
  }
  return lines.join("\n");
}

/** A watch-scale result as a small table. */
export function watchTable(w: WatchResult): string {
  const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
  const what = w.api === "v2" ? "watches (long polls)" : "watchers (one gRPC watch stream)";
  const errors = (text: string): string => (text === "" ? "0" : text);
  return [
    `### ${w.api} watch scale: ${w.watches} ${what} on one etcd-ts client (1 member)`,
    "",
    "| measure | value |",
    "|---|---:|",
    `| time to establish all (until each saw its first event) | ${ms(w.establishMs)} ms |`,
    `| heap held by the watches (after GC) | ${mb(w.heapDeltaBytes)} (${(w.heapDeltaBytes / w.watches / 1024).toFixed(1)} KiB each) |`,
    `| RSS growth | ${mb(w.rssDeltaBytes)} (${(w.rssDeltaBytes / w.watches / 1024).toFixed(1)} KiB each) |`,
    `| delivery, one write at a time: p50 / p99 / max (n=${w.sequential.n}) | ${ms(w.sequential.p50Ms)} / ${ms(w.sequential.p99Ms)} / ${ms(w.sequential.maxMs)} ms |`,
    `| delivery, ${w.burst.n} writes 64 in flight: p50 / p99 / max | ${ms(w.burst.p50Ms)} / ${ms(w.burst.p99Ms)} / ${ms(w.burst.maxMs)} ms (all in ${ms(w.burst.totalMs)} ms) |`,
    `| events lost (successful write, no event within 10 s) | ${w.lost} |`,
    `| failed writes (not waited for) | ${errors(describeErrors(w.writeErrors))} |`,
    `| watches ended by an error | ${errors(describeErrors(w.watchErrors))} |`,
    ...(w.resyncs === undefined ? [] : [`| resyncs (history cleared under the burst) | ${w.resyncs} |`]),
  ].join("\n");
}
