/**
 * The throughput phase runner: C workers share one op counter and stop at N ops or S seconds,
 * whichever comes first. Latency is taken around each awaited call, so it includes the client's
 * own queueing (e.g. behind a connection pool smaller than C). A failed op is counted by its
 * typed code and the loop goes on: throughput and latency are of the ops that succeeded, and
 * the error rate is reported beside them.
 */
import { countError, errorLabel, type ErrorCounts } from "./errors.js";
import { CpuWindow } from "./machine.js";
import { quantile } from "./stats.js";

/** How long a phase may run. */
export interface Limits {
  readonly ops: number;
  readonly ms: number;
}

/** What a measured phase produced. */
export interface PhaseResult {
  /** Ops that succeeded. */
  readonly ops: number;
  /** Ops that failed (not in `ops`, `opsPerSec` or the latencies). */
  readonly errors: number;
  /** Failures by label: an EtcdError's code (e.g. OUTCOME_UNKNOWN), a peer's error class. */
  readonly errorsByCode?: ErrorCounts | undefined;
  /** The first failure's label and message, for the JSON file. */
  readonly firstError?: string | undefined;
  /** Successful ops per second. */
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Client CPU per op, all threads of this process (GC helpers included). */
  readonly cpuUsPerOp: number;
  readonly serverUsPerOp?: number | undefined;
  /** CPU used by everything else on the machine during the phase, in cores. */
  readonly foreignCores?: number | undefined;
}

/** One operation; `i` numbers the ops of a phase. */
export type Op = (i: number) => Promise<unknown>;

interface Driven {
  readonly ops: number;
  readonly errors: number;
  readonly errorsByCode: ErrorCounts;
  readonly firstError: string | undefined;
}

/**
 * Runs `op` with `concurrency` workers within `limits` (attempted ops, failed ones included),
 * returning the successful ops' latencies and the failures by code. Never rejects for a failed op.
 */
async function drive(op: Op, concurrency: number, limits: Limits, latencies: Float64Array | undefined): Promise<Driven> {
  let next = 0;
  let done = 0;
  let errors = 0;
  const errorsByCode: ErrorCounts = {};
  let firstError: string | undefined;
  const deadline = performance.now() + limits.ms;
  const worker = async (): Promise<void> => {
    while (next < limits.ops && performance.now() < deadline) {
      const i = next++;
      const start = performance.now();
      try {
        await op(i);
      } catch (error) {
        errors++;
        countError(errorsByCode, error);
        firstError ??= `${errorLabel(error)}: ${error instanceof Error ? error.message : String(error)}`;
        continue;
      }
      if (latencies !== undefined) latencies[done] = performance.now() - start;
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { ops: done, errors, errorsByCode, firstError };
}

/** Warms up, then measures one phase. */
export async function runPhase(op: Op, concurrency: number, warm: Limits, limits: Limits, serverPids: readonly number[]): Promise<PhaseResult> {
  await drive(op, concurrency, { ops: Math.max(warm.ops, 4 * concurrency), ms: warm.ms }, undefined);
  const latencies = new Float64Array(limits.ops);
  const cpu = new CpuWindow(serverPids);
  cpu.start();
  const { ops, errors, errorsByCode, firstError } = await drive(op, concurrency, limits, latencies);
  const used = cpu.stop();
  const measured = latencies.subarray(0, ops);
  return {
    ops,
    errors,
    errorsByCode,
    firstError,
    opsPerSec: ops / used.seconds,
    p50Ms: quantile(measured, 0.5),
    p99Ms: quantile(measured, 0.99),
    // Per successful op: a phase that only failed has no cost per op to report.
    cpuUsPerOp: ops === 0 ? Number.NaN : (used.self * 1e6) / ops,
    serverUsPerOp: used.server === undefined || ops === 0 ? undefined : (used.server * 1e6) / ops,
    foreignCores: used.foreignCores,
  };
}
