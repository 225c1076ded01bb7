/**
 * One client doing one thing at a time — set, then strong get, on one key — with every operation
 * recorded, and a guard so that a client that hangs forever cannot hang the benchmark.
 */
import { quantile, max } from "./stats.js";

/** The two operations a failover client must offer; each must settle when `signal` aborts. */
export interface OpClient {
  set(key: string, value: string, signal: AbortSignal): Promise<unknown>;
  get(key: string, signal: AbortSignal): Promise<unknown>;
  /** A short label for a failure of this client, for the table. */
  label(error: unknown): string;
  close(): Promise<void>;
}

/** One recorded operation. */
export interface OpRecord {
  readonly start: number;
  readonly end: number;
  readonly ok: boolean;
  /** Why it failed; "hung" when the guard cut it. */
  readonly error?: string | undefined;
}

/** Runs set/get in turn until `stop` aborts; each op is cut after `guardMs`. The op `stop` cuts is recorded as "cut". */
export async function opLoop(client: OpClient, key: string, guardMs: number, stop: AbortSignal, log: OpRecord[]): Promise<void> {
  // A function, so the check in the catch block is not narrowed away by the loop condition.
  const stopped = (): boolean => stop.aborted;
  for (let seq = 0; !stopped(); seq++) {
    const guard = new AbortController();
    const timer = setTimeout(() => {
      guard.abort(new Error("guard"));
    }, guardMs);
    const signal = AbortSignal.any([stop, guard.signal]);
    const start = performance.now();
    try {
      await (seq % 2 === 0 ? client.set(key, String(seq), signal) : client.get(key, signal));
      log.push({ start, end: performance.now(), ok: true });
    } catch (error) {
      if (stopped()) {
        log.push({ start, end: performance.now(), ok: false, error: "cut" });
        return;
      }
      log.push({ start, end: performance.now(), ok: false, error: guard.signal.aborted ? "hung" : client.label(error) });
    } finally {
      clearTimeout(timer);
    }
  }
}

/** What happened after a fault at `at`. */
export interface Recovery {
  /** From the fault to the end of the first successful op started after it; undefined if none. */
  readonly firstSuccessMs: number | undefined;
  /** True when an op hung until the guard cut it, after the fault and before the first success. */
  readonly hungFirst: boolean;
  /** Latencies of the (up to) 100 ops after that first success, successful or not. */
  readonly next: readonly number[];
  /** Failures among all ops started after the fault, by label. */
  readonly errors: ReadonlyMap<string, number>;
  /** How long the op the benchmark cut at the end of its window had been waiting, if it had started after the fault. */
  readonly cutAfterMs: number | undefined;
}

/** Reads a recovery out of the log. */
export function recovery(log: readonly OpRecord[], at: number, nextCount: number): Recovery {
  const cut = log.at(-1)?.error === "cut" ? log.at(-1) : undefined;
  const after = log.filter((op) => op.start >= at && op !== cut);
  const firstIndex = after.findIndex((op) => op.ok);
  const first = after[firstIndex];
  const errors = new Map<string, number>();
  for (const op of after) if (!op.ok) errors.set(op.error ?? "?", (errors.get(op.error ?? "?") ?? 0) + 1);
  // The op in flight when the fault took effect started before it, but its hang is the fault's doing.
  const until = first?.end ?? Number.POSITIVE_INFINITY;
  return {
    firstSuccessMs: first === undefined ? undefined : first.end - at,
    hungFirst: log.some((op) => op.error === "hung" && op.end >= at && op.end <= until),
    next: firstIndex < 0 ? [] : after.slice(firstIndex + 1, firstIndex + 1 + nextCount).map((op) => op.end - op.start),
    errors,
    cutAfterMs: cut === undefined || cut.start < at ? undefined : cut.end - cut.start,
  };
}

/** True once the log holds a success after `at` and `nextCount` more ops after it. */
export function recovered(log: readonly OpRecord[], at: number, nextCount: number): boolean {
  let seen = -1;
  for (const op of log) {
    if (op.start < at) continue;
    if (seen >= 0) seen++;
    else if (op.ok) seen = 0;
  }
  return seen >= nextCount;
}

/** p50, p99 and max of latencies. */
export function spread(latencies: readonly number[]): { p50: number; p99: number; max: number } {
  return { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), max: max(latencies) };
}
