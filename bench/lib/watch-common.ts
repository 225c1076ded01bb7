/**
 * What the v2 and v3 watch-scale children share: matching each write to the event it causes,
 * writing with N in flight while counting (not dying on) failed writes, and memory after GC.
 *
 * Every write carries a unique value (its token), and a watcher reports the value it saw. A write
 * whose outcome is unknown (OUTCOME_UNKNOWN under load) may still land and be delivered later;
 * matching by token keeps that late event from being taken for the next write's.
 */
import { countError, type ErrorCounts } from "./errors.js";
import { max, quantile, sleep } from "./stats.js";

/** How long a write's event may take before it counts as lost. */
const EVENT_TIMEOUT_MS = 10_000;

/** Per-write "its event arrived" notifications, by token. */
export class Arrivals {
  readonly #waiting = new Map<string, (at: number) => void>();
  readonly #early = new Map<string, number>();
  readonly #dead = new Set<number>();

  /** Called by a watcher with the value it saw. */
  arrived(token: string): void {
    const at = performance.now();
    const wake = this.#waiting.get(token);
    if (wake === undefined) this.#early.set(token, at);
    else {
      this.#waiting.delete(token);
      wake(at);
    }
  }

  /** When `token`'s event arrived (or arrives); NaN after the timeout, at once if key `i`'s watcher has ended. */
  next(i: number, token: string): Promise<number> {
    const early = this.#early.get(token);
    if (early !== undefined) {
      this.#early.delete(token);
      return Promise.resolve(early);
    }
    if (this.#dead.has(i)) return Promise.resolve(Number.NaN);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(token);
        resolve(Number.NaN);
      }, EVENT_TIMEOUT_MS);
      this.#waiting.set(token, (at) => {
        clearTimeout(timer);
        resolve(at);
      });
    });
  }

  /** Stops waiting for `token` (its write failed), ending the wait with NaN. */
  forget(token: string): void {
    const wake = this.#waiting.get(token);
    this.#waiting.delete(token);
    wake?.(Number.NaN);
  }

  /** Key `i`'s watcher ended with an error: its writes are not waited for any more. */
  dead(i: number): void {
    this.#dead.add(i);
    for (const token of [...this.#waiting.keys()]) if (token.startsWith(`${i}:`)) this.forget(token);
  }
}

/** The outcome of a batch of writes. */
export interface Written {
  /** Delivery latency of each successful write, from its start; NaN when its event never came. */
  readonly latencies: number[];
  readonly writeErrors: ErrorCounts;
}

let sequence = 0;

/**
 * Writes keys `indexes` with `concurrency` in flight, each with a fresh token as its value
 * (`write(i, token)`), and waits for each event. A failed write is counted by code, not waited for.
 */
export async function writeAll(indexes: readonly number[], concurrency: number, arrivals: Arrivals, write: (i: number, token: string) => Promise<unknown>): Promise<Written> {
  const latencies: number[] = [];
  const writeErrors: ErrorCounts = {};
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < indexes.length) {
      const i = indexes[next++] ?? 0;
      const token = `${i}:${sequence++}`;
      const start = performance.now();
      const delivered = arrivals.next(i, token);
      try {
        await write(i, token);
      } catch (error) {
        countError(writeErrors, error);
        arrivals.forget(token);
        await delivered;
        continue;
      }
      latencies.push((await delivered) - start);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { latencies, writeErrors };
}

/** Adds `more` into `into`. */
export function addErrors(into: ErrorCounts, more: ErrorCounts): void {
  for (const [label, n] of Object.entries(more)) into[label] = (into[label] ?? 0) + n;
}

/** p50, p99, max and count of the delivered events. */
export function summary(latencies: readonly number[]): { p50Ms: number; p99Ms: number; maxMs: number; n: number } {
  const ok = latencies.filter((l) => Number.isFinite(l));
  return { p50Ms: quantile(ok, 0.5), p99Ms: quantile(ok, 0.99), maxMs: max(ok), n: ok.length };
}

/** Memory after two full collections (the child runs with --expose-gc). */
export function collect(): NodeJS.MemoryUsage {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  return process.memoryUsage();
}

/** The watch-scale figures both children measure the same way. */
export interface WatchMeasures {
  readonly establishMs: number;
  readonly heapDeltaBytes: number;
  readonly rssDeltaBytes: number;
  readonly sequential: { readonly p50Ms: number; readonly p99Ms: number; readonly maxMs: number; readonly n: number };
  readonly burst: { readonly p50Ms: number; readonly p99Ms: number; readonly maxMs: number; readonly totalMs: number; readonly n: number };
  /** Successful writes whose event never arrived. */
  readonly lost: number;
  /** Writes that failed, by code (their events are not waited for). */
  readonly writeErrors: ErrorCounts;
}

/**
 * Starts one watch per index, then: a warm-up round that proves every watch is live (each sees
 * its key's first write), memory once idle, writes one at a time on a sample, and a burst with
 * `burstConcurrency` in flight; finally aborts `stop` and waits for the watches to end.
 */
export async function measureWatches(
  spec: { readonly watches: number; readonly samples: number; readonly burstConcurrency: number },
  arrivals: Arrivals,
  stop: AbortController,
  watch: (i: number) => Promise<void>,
  write: (i: number, token: string) => Promise<unknown>,
): Promise<WatchMeasures> {
  const all = Array.from({ length: spec.watches }, (_, i) => i);
  await sleep(200);
  const before = collect();
  const started = performance.now();
  const loops = all.map(watch);
  const warm = await writeAll(all, spec.burstConcurrency, arrivals, write);
  const establishMs = performance.now() - started;
  await sleep(500);
  const idle = collect();
  const sample = Array.from({ length: Math.min(spec.samples, spec.watches) }, (_, s) => Math.floor((s * spec.watches) / spec.samples));
  const sequential = await writeAll(sample, 1, arrivals, write);
  const burstStart = performance.now();
  const burst = await writeAll(all, spec.burstConcurrency, arrivals, write);
  const burstMs = performance.now() - burstStart;
  stop.abort();
  await Promise.all(loops);
  const writeErrors: ErrorCounts = {};
  for (const w of [warm, sequential, burst]) addErrors(writeErrors, w.writeErrors);
  return {
    establishMs,
    heapDeltaBytes: idle.heapUsed - before.heapUsed,
    rssDeltaBytes: idle.rss - before.rss,
    sequential: summary(sequential.latencies),
    burst: { ...summary(burst.latencies), totalMs: burstMs },
    lost: [...warm.latencies, ...sequential.latencies, ...burst.latencies].filter((l) => !Number.isFinite(l)).length,
    writeErrors,
  };
}
