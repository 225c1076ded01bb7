/**
 * Watch scale, in a child process of its own (run with --expose-gc, so memory is read after a
 * full collection): 1,000 v2 watches on one etcd-ts client, each on its own key. Reports the
 * memory they hold and how fast an event reaches its watcher, one write at a time and in a burst.
 */
import { setMaxListeners } from "node:events";
import { EtcdV2Client } from "../../src/index.js";
import { quantile, max, sleep } from "./stats.js";

/** What the parent asks for. */
export interface WatchSpec {
  readonly endpoints: readonly string[];
  readonly pin: string;
  readonly prefix: string;
  readonly watches: number;
  /** Writes measured one at a time. */
  readonly samples: number;
  /** Writes in flight during the burst. */
  readonly burstConcurrency: number;
}

/** What the child prints (one JSON line). */
export interface WatchResult {
  readonly watches: number;
  readonly establishMs: number;
  readonly heapDeltaBytes: number;
  readonly rssDeltaBytes: number;
  readonly sequential: { readonly p50Ms: number; readonly p99Ms: number; readonly maxMs: number; readonly n: number };
  readonly burst: { readonly p50Ms: number; readonly p99Ms: number; readonly maxMs: number; readonly totalMs: number; readonly n: number };
  readonly lost: number;
}

const EVENT_TIMEOUT_MS = 10_000;

function collect(): NodeJS.MemoryUsage {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  return process.memoryUsage();
}

/** Per-key "next event arrived" notifications. */
class Arrivals {
  readonly #waiting = new Map<number, (at: number) => void>();
  readonly #early = new Map<number, number>();

  /** Called by a watch loop when key `i` changed. */
  arrived(i: number): void {
    const at = performance.now();
    const wake = this.#waiting.get(i);
    if (wake === undefined) this.#early.set(i, at);
    else {
      this.#waiting.delete(i);
      wake(at);
    }
  }

  /** When key `i`'s next event arrived (or arrives), or NaN after the timeout. */
  next(i: number): Promise<number> {
    const early = this.#early.get(i);
    if (early !== undefined) {
      this.#early.delete(i);
      return Promise.resolve(early);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(i);
        resolve(Number.NaN);
      }, EVENT_TIMEOUT_MS);
      this.#waiting.set(i, (at) => {
        clearTimeout(timer);
        resolve(at);
      });
    });
  }
}

async function watchLoop(client: EtcdV2Client, key: string, i: number, waitIndex: number, signal: AbortSignal, arrivals: Arrivals): Promise<void> {
  for await (const event of client.watch(key, { waitIndex, signal })) {
    if (event.action !== "resync") arrivals.arrived(i);
  }
}

/** Writes keys `indexes` with `concurrency` in flight; returns each delivery latency from its write's start. */
async function writeAll(client: EtcdV2Client, spec: WatchSpec, indexes: readonly number[], concurrency: number, arrivals: Arrivals): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < indexes.length) {
      const i = indexes[next++] ?? 0;
      const start = performance.now();
      const delivered = arrivals.next(i);
      await client.set(`${spec.prefix}/w${i}`, "x");
      latencies.push((await delivered) - start);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return latencies;
}

function summary(latencies: readonly number[]): { p50Ms: number; p99Ms: number; maxMs: number; n: number } {
  const ok = latencies.filter((l) => Number.isFinite(l));
  return { p50Ms: quantile(ok, 0.5), p99Ms: quantile(ok, 0.99), maxMs: max(ok), n: ok.length };
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? "{}") as WatchSpec;
  const client = new EtcdV2Client({ endpoints: [spec.pin] });
  client.setEndpoints(spec.endpoints);
  const stop = new AbortController();
  // One signal ends all the watches; each adds a listener to it.
  setMaxListeners(0, stop.signal);
  const arrivals = new Arrivals();
  const all = Array.from({ length: spec.watches }, (_, i) => i);
  // An explicit start index: every write after it is delivered, however late its poll starts.
  const from = (await client.set(`${spec.prefix}/w-start`, "x")).etcdIndex + 1;
  await sleep(200);
  const before = collect();
  const started = performance.now();
  const loops = all.map((i) => watchLoop(client, `${spec.prefix}/w${i}`, i, from, stop.signal, arrivals));
  // Round 0 proves every watch is live (each sees its key's first write) and warms the path.
  const warm = await writeAll(client, spec, all, spec.burstConcurrency, arrivals);
  const establishMs = performance.now() - started;
  await sleep(500);
  const idle = collect();
  const sample = Array.from({ length: Math.min(spec.samples, spec.watches) }, (_, s) => Math.floor((s * spec.watches) / spec.samples));
  const sequential = await writeAll(client, spec, sample, 1, arrivals);
  const burstStart = performance.now();
  const burst = await writeAll(client, spec, all, spec.burstConcurrency, arrivals);
  const burstMs = performance.now() - burstStart;
  stop.abort();
  await Promise.all(loops);
  await client.close();
  const result: WatchResult = {
    watches: spec.watches,
    establishMs,
    heapDeltaBytes: idle.heapUsed - before.heapUsed,
    rssDeltaBytes: idle.rss - before.rss,
    sequential: summary(sequential),
    burst: { ...summary(burst), totalMs: burstMs },
    lost: [...warm, ...sequential, ...burst].filter((l) => !Number.isFinite(l)).length,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
