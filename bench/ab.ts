/**
 * `node --import tsx bench/ab.ts --base <dir> [--head <dir>] [--api v2|v3]`: client CPU per op
 * (and ops/s, and etcd's CPU per op) of two builds of etcd-ts, in one process against one local
 * etcd member this script starts. v2 measures quorum GETs and sets, v3 linearizable ranges and
 * puts, each at 16 and 64 in flight.
 *
 * Each build is a directory holding `dist/esm/index.js` (run `npm run build` in it first; the head
 * defaults to this checkout). Both clients live in the same process and take turns, one segment
 * of `--ops` operations at a time, so the JIT, the GC and the machine's load treat them alike;
 * separate processes measured minutes apart differed by more than the effect sought (−3 % to +59 %
 * for the same two builds on this shared machine). The first two segments of each are left out of
 * the medians as warm-up; every segment's CPU figure is printed. The measuring process runs plain
 * node, not tsx: tsx transforms JavaScript too (keepNames wraps every function expression), which
 * cost the build with more closures per request 7–24 % here and would be measured as its own
 * regression.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { startCluster } from "../test/harness/index.js";

const { values } = parseArgs({
  options: { base: { type: "string" }, head: { type: "string" }, api: { type: "string" }, ops: { type: "string" }, segments: { type: "string" } },
  strict: true,
});
if (values.base === undefined) throw new Error("--base <dir with dist/esm/index.js> is required");
const OPS = Math.min(100_000, Math.max(100, Number(values.ops ?? 4000)));
const SEGMENTS = Math.min(40, Math.max(4, Number(values.segments ?? 12)));
/** Bounds one cell's child: far above its ~10 s, well below a stuck client's forever. */
const CELL_TIMEOUT_MS = 300_000;
const API = values.api ?? "v2";
if (API !== "v2" && API !== "v3") throw new Error(`--api must be v2 or v3, got ${API}`);
const CELLS = [
  [API === "v2" ? "set" : "put", 16],
  [API === "v2" ? "set" : "put", 64],
  ["get", 16],
  ["get", 64],
] as const;

function entry(dir: string): string {
  const file = resolve(dir, "dist/esm/index.js");
  if (!existsSync(file)) throw new Error(`${file} is missing: run npm run build in ${dir}`);
  return pathToFileURL(file).href;
}

/** The measuring child, plain JavaScript: argv = base URL, head URL, endpoint, key, op, C, ops, segments, API, etcd's pid. */
const CHILD = `
import { readFileSync } from "node:fs";
const [baseUrl, headUrl, endpoint, key, op, cText, nText, segText, api, pidText] = process.argv.slice(1);
const C = Number(cText), N = Number(nText), SEGMENTS = Number(segText), WARM = 2;
const make = async (url) => {
  const m = await import(url);
  return api === "v2" ? new m.EtcdV2Client({ endpoints: [endpoint] }) : new m.EtcdV3Client({ endpoints: [endpoint] });
};
const clients = { base: await make(baseUrl), head: await make(headUrl) };
const VALUE = "x".repeat(api === "v2" ? 16 : 100);
if (api === "v2") await clients.base.set(key, "v");
else await clients.base.put(key, VALUE);
/** etcd's CPU time in µs, from /proc (user + system ticks of 10 ms). */
function etcdCpu() {
  const fields = readFileSync("/proc/" + pidText + "/stat", "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}
async function segment(client) {
  let next = 0;
  const start = process.cpuUsage();
  const server = etcdCpu();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: C }, async () => {
    while (next++ < N) {
      if (api === "v2") {
        if (op === "get") await client.get(key, { quorum: true });
        else await client.set(key, VALUE);
      } else if (op === "get") await client.get(key);
      else await client.put(key, VALUE);
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  const used = process.cpuUsage(start);
  return { cpu: (used.user + used.system) / N, ops: N / seconds, server: (etcdCpu() - server) / N };
}
const runs = { base: [], head: [] };
for (let s = 0; s < SEGMENTS; s++) {
  // Alternate who goes first, so neither always runs right after the other's GC debt.
  for (const who of s % 2 === 0 ? ["base", "head"] : ["head", "base"]) runs[who].push(await segment(clients[who]));
}
const median = (xs) => { const s = xs.slice(WARM).sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const of = (who, k) => median(runs[who].map((r) => r[k]));
const pct = (h, b) => (h >= b ? "+" : "") + ((h / b - 1) * 100).toFixed(0) + " %";
const [b, h] = [of("base", "cpu"), of("head", "cpu")];
// Throughput: the median of the within-pair ratios (a pair's segments ran back to back).
const ratios = runs.head.map((r, i) => r.ops / runs.base[i].ops);
const list = (xs) => xs.map((x) => x.cpu.toFixed(0)).join("/");
console.log(api + " " + op + " C=" + C + ": CPU µs/op base " + b.toFixed(1) + ", head " + h.toFixed(1) + " (" + pct(h, b) + "); ops/s head ÷ base " + median(ratios).toFixed(2) + "×; etcd CPU µs/op base " + of("base", "server").toFixed(0) + ", head " + of("head", "server").toFixed(0) + "; segments base " + list(runs.base) + ", head " + list(runs.head));
await Promise.all([clients.base.close(), clients.head.close()]);
`;

const urls = [entry(values.base), entry(values.head ?? ".")];
const cluster = await startCluster({ size: 1, name: "ab" });
try {
  const key = `${cluster.prefix("ab")}/k`;
  for (const [op, concurrency] of CELLS) {
    const pid = cluster.members[0]?.pid;
    if (pid === undefined) throw new Error("the cluster has no member");
    const args = ["--input-type=module", "-e", CHILD, ...urls, cluster.clientUrl(0), key, op, String(concurrency), String(OPS), String(SEGMENTS), API, String(pid)];
    process.stdout.write(execFileSync(process.execPath, args, { encoding: "utf8", timeout: CELL_TIMEOUT_MS }));
  }
} finally {
  await cluster.stop();
}
