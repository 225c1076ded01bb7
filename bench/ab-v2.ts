/**
 * `node --import tsx bench/ab-v2.ts --base <dir> [--head <dir>]`: client CPU per v2 op of two
 * builds of etcd-ts, in one process against one local etcd member this script starts.
 *
 * Each build is a directory holding `dist/esm/index.js` (run `npm run build` in it first; the head
 * defaults to this checkout). Both clients live in the same process and take turns, one segment
 * of `--ops` operations at a time, so the JIT, the GC and the machine's load treat them alike;
 * separate processes measured minutes apart differed by more than the effect sought (−3 % to +59 %
 * for the same two builds on this shared machine). The first two segments of each are left out of
 * the median as warm-up; every segment is printed. The measuring process runs plain node, not
 * tsx: tsx transforms JavaScript too (keepNames wraps every function expression), which cost the
 * build with more closures per request 7–24 % here and would be measured as its own regression.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { startCluster } from "../test/harness/index.js";

const { values } = parseArgs({
  options: { base: { type: "string" }, head: { type: "string" }, ops: { type: "string" }, segments: { type: "string" } },
  strict: true,
});
if (values.base === undefined) throw new Error("--base <dir with dist/esm/index.js> is required");
const OPS = Math.min(100_000, Math.max(100, Number(values.ops ?? 4000)));
const SEGMENTS = Math.min(40, Math.max(4, Number(values.segments ?? 12)));
/** Bounds one cell's child: far above its ~10 s, well below a stuck client's forever. */
const CELL_TIMEOUT_MS = 300_000;
const CELLS = [
  ["set", 16],
  ["set", 64],
  ["get", 16],
  ["get", 64],
] as const;

function entry(dir: string): string {
  const file = resolve(dir, "dist/esm/index.js");
  if (!existsSync(file)) throw new Error(`${file} is missing: run npm run build in ${dir}`);
  return pathToFileURL(file).href;
}

/** The measuring child, plain JavaScript: argv = base URL, head URL, endpoint, key, op, C, ops, segments. */
const CHILD = `
const [baseUrl, headUrl, endpoint, key, op, cText, nText, segText] = process.argv.slice(1);
const C = Number(cText), N = Number(nText), SEGMENTS = Number(segText), WARM = 2;
const clients = {
  base: new (await import(baseUrl)).EtcdV2Client({ endpoints: [endpoint] }),
  head: new (await import(headUrl)).EtcdV2Client({ endpoints: [endpoint] }),
};
await clients.base.set(key, "v");
async function segment(client) {
  let next = 0;
  const start = process.cpuUsage();
  await Promise.all(Array.from({ length: C }, async () => {
    while (next++ < N) {
      if (op === "get") await client.get(key, { quorum: true });
      else await client.set(key, "x".repeat(16));
    }
  }));
  const used = process.cpuUsage(start);
  return (used.user + used.system) / N;
}
const cpu = { base: [], head: [] };
for (let s = 0; s < SEGMENTS; s++) {
  // Alternate who goes first, so neither always runs right after the other's GC debt.
  for (const who of s % 2 === 0 ? ["base", "head"] : ["head", "base"]) cpu[who].push(await segment(clients[who]));
}
const median = (xs) => { const s = xs.slice(WARM).sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const [b, h] = [median(cpu.base), median(cpu.head)];
const list = (xs) => xs.map((x) => x.toFixed(0)).join("/");
console.log(op + " C=" + C + ": CPU µs/op base " + b.toFixed(1) + ", head " + h.toFixed(1) + " (" + (h >= b ? "+" : "") + ((h / b - 1) * 100).toFixed(0) + " %); segments base " + list(cpu.base) + ", head " + list(cpu.head));
await Promise.all([clients.base.close(), clients.head.close()]);
`;

const urls = [entry(values.base), entry(values.head ?? ".")];
const cluster = await startCluster({ size: 1, name: "abv2" });
try {
  const key = `${cluster.prefix("ab")}/k`;
  for (const [op, concurrency] of CELLS) {
    const args = ["--input-type=module", "-e", CHILD, ...urls, cluster.clientUrl(0), key, op, String(concurrency), String(OPS), String(SEGMENTS)];
    process.stdout.write(execFileSync(process.execPath, args, { encoding: "utf8", timeout: CELL_TIMEOUT_MS }));
  }
} finally {
  await cluster.stop();
}
