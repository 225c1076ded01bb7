/**
 * `npm run bench:startup`: how long the `etcd-ts` command takes from spawn to exit, for its common
 * commands, beside `node -e 0` (the floor every Node program pays) and Go's etcdctl, against one
 * local etcd member this script starts. Runs are interleaved (round r runs every command once, in
 * a shuffled order), so load from other processes hits all of them alike; prints median and p90.
 *
 *   node --import tsx bench/startup.ts [--runs 30] [--bin label=path/to/cli/main.js ...]
 *
 * With several `--bin`s (say the build before and after a change) each is timed in the same rounds.
 * The default bin is this checkout's dist/ (run `npm run build` first).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { findOnPath } from "../test/harness/etcd-bin.js";
import { startCluster } from "../test/harness/index.js";
import { ms, quantile } from "./lib/stats.js";

const { values } = parseArgs({ options: { runs: { type: "string" }, bin: { type: "string", multiple: true } }, strict: true });
const RUNS = Math.min(200, Math.max(1, Number(values.runs ?? 30)));
const DEFAULT_BIN = fileURLToPath(new URL("../dist/esm/cli/main.js", import.meta.url));
/** One spawn must not hang the run: far above any start-up, well below a stuck client's deadline. */
const SPAWN_TIMEOUT_MS = 20_000;

interface Case {
  readonly label: string;
  readonly file: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

function bins(): { label: string; path: string }[] {
  const given = values.bin ?? [];
  if (given.length === 0) {
    if (!existsSync(DEFAULT_BIN)) throw new Error(`${DEFAULT_BIN} is missing: run npm run build first`);
    return [{ label: "etcd-ts", path: DEFAULT_BIN }];
  }
  return given.map((spec) => {
    const at = spec.indexOf("=");
    return at < 0 ? { label: "etcd-ts", path: spec } : { label: spec.slice(0, at), path: spec.slice(at + 1) };
  });
}

function cases(endpoint: string): Case[] {
  const v3 = { ETCDCTL_API: "3", ETCDCTL_ENDPOINTS: endpoint };
  const v2 = { ETCDCTL_API: "2", ETCDCTL_ENDPOINTS: endpoint };
  const out: Case[] = [{ label: "node -e 0", file: process.execPath, args: ["-e", "0"], env: {} }];
  for (const { label, path } of bins()) {
    const node = (args: string[], env: Record<string, string>, name: string): Case => ({ label: `${label} ${name}`, file: process.execPath, args: [path, ...args], env });
    out.push(
      node(["--version"], v3, "--version"),
      node(["version"], v3, "version"),
      node(["--help"], v3, "--help"),
      node(["get", "k"], v3, "get k"),
      node(["put", "k", "v"], v3, "put k v"),
      node(["get", "/k"], v2, "get /k (v2)"),
    );
  }
  const etcdctl = process.env["ETCDCTL_BIN"] ?? findOnPath("etcdctl");
  if (etcdctl !== undefined) {
    out.push({ label: "etcdctl get k", file: etcdctl, args: ["get", "k"], env: v3 });
    out.push({ label: "etcdctl version", file: etcdctl, args: ["version"], env: v3 });
  }
  return out;
}

/** Wall time of one run in ms; throws if the command fails, so a broken build can't look fast. */
function time(c: Case): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(c.file, c.args, { env: { PATH: process.env["PATH"] ?? "", ...c.env }, stdio: ["ignore", "pipe", "pipe"], timeout: SPAWN_TIMEOUT_MS });
  const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${c.label} exited ${String(result.status ?? result.signal)}: ${result.stderr.toString()}`);
  return elapsed;
}

function shuffle<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

async function main(): Promise<void> {
  await using cluster = await startCluster({ size: 1, name: "startup" });
  const endpoint = cluster.endpoints()[0] ?? "";
  const all = cases(endpoint);
  // Both stores hold the key, so every get prints a value; one warm-up round fills the page cache.
  for (const c of all) if (c.label.endsWith("put k v")) time(c);
  await fetch(`${endpoint}/v2/keys/k`, { method: "PUT", body: new URLSearchParams({ value: "v2" }) });
  for (const c of all) time(c);
  const samples = new Map<string, number[]>(all.map((c) => [c.label, []]));
  for (let round = 0; round < RUNS; round++) for (const c of shuffle(all)) samples.get(c.label)?.push(time(c));
  const { loadavg } = await import("node:os");
  console.log(`${RUNS} interleaved runs each, node ${process.version}, load average ${loadavg().map((l) => l.toFixed(1)).join(" ")}`);
  console.log("| command | median ms | p90 ms |\n|---|---:|---:|");
  for (const c of all) {
    const s = samples.get(c.label) ?? [];
    console.log(`| \`${c.label}\` | ${ms(quantile(s, 0.5))} | ${ms(quantile(s, 0.9))} |`);
  }
}

await main();
