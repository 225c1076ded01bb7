/**
 * `node --import tsx bench/pool.ts <results.json>…`: pools the rounds of several benchmark runs
 * (files `npm run bench` wrote to bench/results/) and prints, per cell, etcd-ts ÷ Go as the median
 * of every within-round ratio, how many rounds reached 1.0, and the client's and etcd's CPU per
 * op. One run's 3–5 rounds swing by ±10 % on this VM, so a verdict on a cell near 1.0× takes
 * the rounds of several runs; every file given counts, none is left out.
 */
import { readFileSync } from "node:fs";

interface Cell {
  readonly workload: string;
  readonly concurrency: number;
  readonly client: string;
  readonly members: number;
  readonly opsPerSec: number;
  readonly cpuUsPerOp: number | null;
  readonly serverUsPerOp?: number | undefined;
  readonly foreignCores?: number | undefined;
}

interface Pooled {
  readonly ratios: number[];
  readonly cpu: number[];
  readonly goCpu: number[];
  readonly server: number[];
  readonly goServer: number[];
  noisy: number;
}

const files = process.argv.slice(2);
if (files.length === 0) throw new Error("usage: bench/pool.ts <bench/results/*.json>…");
const pooled = new Map<string, Pooled>();
for (const file of files) {
  const parsed = JSON.parse(readFileSync(file, "utf8")) as { runs: Cell[][] };
  for (const round of parsed.runs) {
    const byName = new Map<string, Cell>(round.map((c) => [`${c.members} member(s) ${c.workload} C=${c.concurrency} ${c.client}`, c]));
    for (const [name, ours] of byName) {
      if (ours.client !== "etcd-ts") continue;
      const go = byName.get(name.replace(/ etcd-ts$/, " go"));
      if (go === undefined || go.opsPerSec === 0) continue;
      const key = name.replace(/ etcd-ts$/, "");
      const p = pooled.get(key) ?? { ratios: [], cpu: [], goCpu: [], server: [], goServer: [], noisy: 0 };
      p.ratios.push(ours.opsPerSec / go.opsPerSec);
      if ((ours.foreignCores ?? 0) > 0.25 || (go.foreignCores ?? 0) > 0.25) p.noisy++;
      if (ours.cpuUsPerOp !== null) p.cpu.push(ours.cpuUsPerOp);
      if (go.cpuUsPerOp !== null) p.goCpu.push(go.cpuUsPerOp);
      if (ours.serverUsPerOp !== undefined) p.server.push(ours.serverUsPerOp);
      if (go.serverUsPerOp !== undefined) p.goServer.push(go.serverUsPerOp);
      pooled.set(key, p);
    }
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return Number.NaN;
  return n % 2 === 1 ? (s[(n - 1) / 2] ?? Number.NaN) : ((s[n / 2 - 1] ?? 0) + (s[n / 2] ?? 0)) / 2;
}

console.log("| cell | rounds | etcd-ts ÷ Go (median) | rounds ≥ 1.0 | noisy rounds | client CPU µs/op etcd-ts / Go | etcd CPU µs/op serving etcd-ts / Go |");
console.log("|---|---:|---:|---:|---:|---:|---:|");
for (const [key, p] of pooled) {
  const atLeast = p.ratios.filter((r) => r >= 1).length;
  const cpu = `${median(p.cpu).toFixed(0)} / ${median(p.goCpu).toFixed(0)}`;
  const server = `${median(p.server).toFixed(0)} / ${median(p.goServer).toFixed(0)}`;
  console.log(`| ${key} | ${p.ratios.length} | ${median(p.ratios).toFixed(2)}× | ${atLeast} | ${p.noisy} | ${cpu} | ${server} |`);
}
