/**
 * `etcdctl check perf`: writes random 256-byte keys with 1 KiB values under a prefix at the
 * load's rate from many concurrent writers for 60 s, then gives etcdctl's verdict (throughput
 * above 90 % of the rate, slowest write under 0.5 s, standard deviation under 0.1 s) and deletes
 * the keys. ETCDTS_CHECK_PERF_SECONDS shortens the run (for CI); etcdctl has no such knob.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { EtcdV3Client } from "../../v3/client.js";
import { CliExit } from "../shared/exit.js";
import { goQuote } from "../shared/gofmt.js";
import type { V3Context } from "./context.js";
import { EXIT, errorText } from "./errors.js";
import type { CommandSpec, FlagSpec, Flags } from "./spec.js";

interface Load {
  readonly rate: number;
  readonly writers: number;
}

const LOADS: Readonly<Record<string, Load>> = { s: { rate: 150, writers: 50 }, m: { rate: 1000, writers: 200 }, l: { rate: 8000, writers: 500 }, xl: { rate: 15000, writers: 1000 } };
const ALIASES: Readonly<Record<string, string>> = { s: "s", small: "s", m: "m", medium: "m", l: "l", large: "l", xl: "xl", xLarge: "xl" };
const SECONDS = 60;
/** Writers per client: etcdctl opens one client per writer; HTTP/2 lets a few connections carry them. */
const WRITERS_PER_CLIENT = 50;

/** What the writers measured. */
interface Tally {
  readonly latencies: number[];
  readonly errors: Map<string, number>;
}

/** The next key and value to write, or undefined when the load is over. */
type NextWrite = () => Promise<readonly [Buffer, Buffer] | undefined>;

/** Runs `writers` concurrent loops, each writing what `next` hands out, spread over `clients`. */
async function writeMany(clients: readonly EtcdV3Client[], writers: number, next: NextWrite, tally: Tally, onWrite?: () => void): Promise<void> {
  await Promise.all(
    Array.from({ length: writers }, async (_, i) => {
      const client = clients[Math.floor(i / WRITERS_PER_CLIENT)] ?? clients[0];
      for (let write = await next(); client !== undefined && write !== undefined; write = await next()) {
        const started = performance.now();
        try {
          await client.put(write[0], write[1]);
          tally.latencies.push((performance.now() - started) / 1000);
        } catch (error) {
          const text = errorText(error);
          tally.errors.set(text, (tally.errors.get(text) ?? 0) + 1);
        }
        onWrite?.();
      }
    }),
  );
}

/** check perf's writes: random 256-byte keys, 1 KiB values, at `rate` per second until `until` (or `stop`). */
function paced(prefix: string, cfg: Load, until: number, stop: AbortSignal): NextWrite {
  const value = Buffer.alloc(1024);
  const interval = 1000 / cfg.rate;
  let next = performance.now();
  return async () => {
    const at = next;
    next += interval;
    if (at >= until || stop.aborted) return undefined;
    const wait = at - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    return [Buffer.concat([Buffer.from(prefix), randomKey(256)]), value];
  };
}

/** `size` bytes holding the zig-zag varint of a random 63-bit number, as etcdctl's `binary.PutVarint`. */
function randomKey(size: number): Buffer {
  const key = Buffer.alloc(size);
  let n = BigInt(Math.floor(Math.random() * 2 ** 52)) * 2048n + BigInt(Math.floor(Math.random() * 2048));
  n <<= 1n;
  let i = 0;
  while (n >= 0x80n) {
    key[i++] = Number(n & 0x7fn) | 0x80;
    n >>= 7n;
  }
  key[i] = Number(n);
  return key;
}

function verdict(ctx: V3Context, tally: Tally, rate: number, seconds: number): boolean {
  let ok = true;
  if (tally.errors.size > 0) {
    ctx.out("FAIL: too many errors\n");
    for (const [text, n] of tally.errors) ctx.out(`FAIL: ERROR(${text}) -> ${n}\n`);
    ok = false;
  }
  const lats = tally.latencies;
  const rps = lats.length / seconds;
  if (rps / rate <= 0.9) {
    ctx.out(`FAIL: Throughput too low: ${Math.trunc(rps) + 1} writes/s\n`);
    ok = false;
  } else ctx.out(`PASS: Throughput is ${Math.trunc(rps) + 1} writes/s\n`);
  const slowest = lats.length === 0 ? 0 : Math.max(...lats);
  const mean = lats.reduce((a, b) => a + b, 0) / Math.max(lats.length, 1);
  const stddev = Math.sqrt(lats.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(lats.length, 1));
  if (slowest > 0.5) {
    ctx.out(`Slowest request took too long: ${slowest.toFixed(6)}s\n`);
    ok = false;
  } else ctx.out(`PASS: Slowest request took ${slowest.toFixed(6)}s\n`);
  if (stddev > 0.1) {
    ctx.out(`Stddev too high: ${stddev.toFixed(6)}s\n`);
    ok = false;
  } else ctx.out(`PASS: Stddev is ${stddev.toFixed(6)}s\n`);
  return ok;
}

async function perf(ctx: V3Context, _args: readonly string[], flags: Flags): Promise<void> {
  const model = ALIASES[flags.string("load")];
  const cfg = model === undefined ? undefined : LOADS[model];
  if (cfg === undefined) return ctx.fail(`unknown load option ${flags.string("load")}`, EXIT.badFeature);
  const prefix = flags.string("prefix");
  const settings = await ctx.settings();
  const client = await ctx.client();
  const seconds = Number(ctx.io.env["ETCDTS_CHECK_PERF_SECONDS"] ?? SECONDS) || SECONDS;
  let found;
  try {
    found = await client.get(prefix, { prefix: true, limit: 1, ...(await ctx.call()) });
  } catch (error) {
    return ctx.failWith(error);
  }
  if (found.kvs.length > 0) {
    // etcdctl 3.5 quoted the command to run; 3.4 did not. Follow the member's version.
    const v34 = await client.maintenance.status(undefined, await ctx.call()).then((s) => s.version.startsWith("3.4."), () => false);
    const command = v34 ? `etcdctl del --prefix ${prefix}` : `'etcdctl del --prefix ${prefix}'`;
    ctx.fail(`prefix ${goQuote(prefix)} has keys. Delete with ${command} first`, EXIT.invalidInput);
  }
  const { EtcdV3Client: Client } = await import("../../v3/client.js");
  const extra = Array.from({ length: Math.ceil(cfg.writers / WRITERS_PER_CLIENT) - 1 }, () => new Client(settings.options));
  const tally: Tally = { latencies: [], errors: new Map() };
  const started = performance.now();
  try {
    // Ctrl-C ends the load early; the keys are still deleted and the verdict printed, as etcdctl does.
    await writeMany([client, ...extra], cfg.writers, paced(prefix, cfg, started + seconds * 1000, ctx.io.trapInterrupt()), tally);
  } finally {
    await Promise.all(extra.map((c) => c.close()));
  }
  await cleanup(ctx, client, prefix, flags);
  const ok = verdict(ctx, tally, cfg.rate, (performance.now() - started) / 1000);
  ctx.out(ok ? "PASS\n" : "FAIL\n");
  if (!ok) throw new CliExit(EXIT.error);
}

/** Deletes the keys written, then compacts and defragments when asked, with etcdctl's lines. */
async function cleanup(ctx: V3Context, client: EtcdV3Client, prefix: string, flags: Flags): Promise<void> {
  let revision: bigint;
  try {
    revision = (await client.delete(prefix, { prefix: true, timeout: 30_000 })).header.revision;
  } catch (error) {
    ctx.out(`FAIL: Cleanup failed during key deletion: ERROR(${errorText(error)})\n`);
    return;
  }
  await compactAndDefrag(ctx, client, revision, flags);
}

/** `--auto-compact` and `--auto-defrag`, with etcdctl's `compact` and `defrag` lines. */
async function compactAndDefrag(ctx: V3Context, client: EtcdV3Client, revision: bigint, flags: Flags): Promise<void> {
  try {
    if (flags.bool("auto-compact")) {
      ctx.out(`Compacting with revision ${revision}\n`);
      await client.compact(revision, { physical: true, timeout: 30_000 });
      ctx.out(`Compacted with revision ${revision}\n`);
    }
    if (flags.bool("auto-defrag")) {
      for (const ep of (await ctx.settings()).endpoints) {
        ctx.out(`Defragmenting ${goQuote(ep)}\n`);
        await client.maintenance.defragment(ep, { timeout: 30_000 });
        ctx.out(`Defragmented ${goQuote(ep)}\n`);
      }
    }
  } catch (error) {
    ctx.failWith(error);
  }
}

const SCALES: Readonly<Record<string, { readonly count: number; readonly writers: number }>> = {
  s: { count: 10_000, writers: 50 },
  m: { count: 100_000, writers: 200 },
  l: { count: 1_000_000, writers: 500 },
  xl: { count: 3_000_000, writers: 1000 },
};

/** The member's `process_resident_memory_bytes` from its /metrics, or 0 after printing why not (etcdctl's endpointMemoryMetrics). */
async function residentMemory(ctx: V3Context, endpoint: string): Promise<number> {
  const url = `${endpoint.includes("://") ? endpoint : `http://${endpoint}`}/metrics`;
  let text: string;
  try {
    const { tls } = (await ctx.settings()).options;
    const request = url.startsWith("https://") ? httpsRequest : httpRequest;
    text = await new Promise<string>((resolve, reject) => {
      const ca = tls?.ca;
      const options = { cert: tls?.cert, key: tls?.key, ca: Array.isArray(ca) ? [...(ca as readonly (string | Buffer)[])] : (ca as string | Buffer | undefined), rejectUnauthorized: tls?.rejectUnauthorized, timeout: 10_000 };
      const req = request(url, options, (res: IncomingMessage) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => { resolve(body); });
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end();
    });
  } catch (error) {
    ctx.out(`fetch error: Get "${url}": ${error instanceof Error ? error.message : String(error)}\n`);
    return 0;
  }
  const line = text.split("\n").find((l) => l.startsWith("process_resident_memory_bytes"));
  if (line === undefined) {
    ctx.out("could not find: process_resident_memory_bytes\n");
    return 0;
  }
  return Number(line.slice("process_resident_memory_bytes".length).trim());
}

async function datascale(ctx: V3Context, _args: readonly string[], flags: Flags): Promise<void> {
  const model = ALIASES[flags.string("load")];
  const cfg = model === undefined ? undefined : SCALES[model];
  if (cfg === undefined) return ctx.fail(`unknown load option ${flags.string("load")}`, EXIT.badFeature);
  const prefix = flags.string("prefix");
  const settings = await ctx.settings();
  const client = await ctx.client();
  let found;
  try {
    found = await client.get(prefix, { prefix: true, limit: 1, ...(await ctx.call()) });
  } catch (error) {
    return ctx.failWith(error);
  }
  if (found.kvs.length > 0) ctx.fail(`prefix ${goQuote(prefix)} has keys. Delete with etcdctl del --prefix ${prefix} first`, EXIT.invalidInput);
  const memory = (): Promise<number> => residentMemory(ctx, settings.endpoints[0] ?? "");
  const before = await memory();
  if (before === 0) return noMetrics(ctx, "before");
  ctx.out(`Start data scale check for work load [${cfg.count} key-value pairs, 1024 bytes per key-value, ${cfg.writers} concurrent clients].\n`);
  const { EtcdV3Client: Client } = await import("../../v3/client.js");
  const extra = Array.from({ length: Math.ceil(cfg.writers / WRITERS_PER_CLIENT) - 1 }, () => new Client(settings.options));
  const tally: Tally = { latencies: [], errors: new Map() };
  const value = Buffer.alloc(512);
  let left = cfg.count;
  const next: NextWrite = () => Promise.resolve(left-- > 0 ? ([Buffer.concat([Buffer.from(prefix), randomKey(512)]), value] as const) : undefined);
  try {
    await writeMany([client, ...extra], cfg.writers, next, tally);
  } finally {
    await Promise.all(extra.map((c) => c.close()));
  }
  const after = await memory();
  if (after === 0) return noMetrics(ctx, "after");
  let revision: bigint;
  try {
    revision = (await client.delete(prefix, { prefix: true })).header.revision;
  } catch (error) {
    return ctx.failWith(error);
  }
  await compactAndDefrag(ctx, client, revision, flags);
  if (tally.errors.size > 0) {
    ctx.out("FAIL: too many errors\n");
    for (const [text, n] of tally.errors) ctx.out(`FAIL: ERROR(${text}) -> ${n}\n`);
    throw new CliExit(EXIT.error);
  }
  ctx.out(`PASS: Approximate system memory used : ${((after - before) / (1024 * 1024)).toFixed(2)} MB.\n`);
}

function noMetrics(ctx: V3Context, when: "before" | "after"): never {
  ctx.out(`FAIL: Could not read process_resident_memory_bytes ${when} the put operations.\n`);
  throw new CliExit(EXIT.error);
}

/** The flags `check perf` and `check datascale` share, in etcdctl's words (`what` names the check, `key` its prefix). */
function checkFlags(what: string, key: string): FlagSpec[] {
  return [
    { name: "load", kind: "string", defaultValue: "s", usage: `The ${what} check's workload model. Accepted workloads: s(small), m(medium), l(large), xl(xLarge)` },
    { name: "prefix", kind: "string", defaultValue: `/etcdctl-check-${key}/`, usage: `The prefix for writing the ${what} check's keys.` },
    { name: "auto-compact", kind: "bool", defaultValue: "false", usage: "Compact storage with last revision after test is finished." },
    { name: "auto-defrag", kind: "bool", defaultValue: "false", usage: "Defragment storage after test is finished." },
  ];
}

/** `etcdctl check`. */
export const CHECK: CommandSpec = {
  name: "check",
  use: "<subcommand>",
  short: "commands for checking properties of the etcd cluster",
  subcommands: [
    {
      name: "perf",
      use: "[options]",
      short: "Check the performance of the etcd cluster",
      flags: checkFlags("performance", "perf"),
      action: perf,
    },
    {
      name: "datascale",
      use: "[options]",
      short: "Check the memory usage of holding data for different workloads on a given server endpoint.",
      long: "If no endpoint is provided, localhost will be used. If multiple endpoints are provided, first endpoint will be used.",
      flags: checkFlags("datascale", "datascale"),
      action: datascale,
    },
  ],
};
