/**
 * The throughput phase runner: C workers share one op counter and stop at N ops or S seconds,
 * whichever comes first. Latency is taken around each awaited call, so it includes the client's
 * own queueing (e.g. behind a connection pool smaller than C).
 */
import { CpuWindow } from "./machine.js";
import { quantile } from "./stats.js";

/** How long a phase may run. */
export interface Limits {
  readonly ops: number;
  readonly ms: number;
}

/** What a measured phase produced. */
export interface PhaseResult {
  readonly ops: number;
  readonly errors: number;
  readonly firstError?: string | undefined;
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

/** Runs `op` with `concurrency` workers within `limits`, returning raw latencies and counts. */
async function drive(op: Op, concurrency: number, limits: Limits, latencies: Float64Array | undefined): Promise<{ ops: number; errors: number; firstError: string | undefined }> {
  let next = 0;
  let done = 0;
  let errors = 0;
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
        firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      }
      if (latencies !== undefined) latencies[done] = performance.now() - start;
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { ops: done, errors, firstError };
}

/** Warms up, then measures one phase. */
export async function runPhase(op: Op, concurrency: number, warm: Limits, limits: Limits, serverPids: readonly number[]): Promise<PhaseResult> {
  await drive(op, concurrency, { ops: Math.max(warm.ops, 4 * concurrency), ms: warm.ms }, undefined);
  const latencies = new Float64Array(limits.ops);
  const cpu = new CpuWindow(serverPids);
  cpu.start();
  const { ops, errors, firstError } = await drive(op, concurrency, limits, latencies);
  const used = cpu.stop();
  const measured = latencies.subarray(0, ops);
  return {
    ops,
    errors,
    firstError,
    opsPerSec: ops / used.seconds,
    p50Ms: quantile(measured, 0.5),
    p99Ms: quantile(measured, 0.99),
    cpuUsPerOp: (used.self * 1e6) / ops,
    serverUsPerOp: used.server === undefined ? undefined : (used.server * 1e6) / ops,
    foreignCores: used.foreignCores,
  };
}
