/**
 * One fault scenario against the member a client is using: run the workload, inject the fault,
 * keep the load on, repair, then check every invariant and report the recovery time.
 */
import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import type { Cluster } from "../harness/index.js";
import { checkQueue, clientOn, recoveryMs, runWorkload, summary, worstLatencyAfter } from "./workload.js";

/** What a scenario needs: which member to break, how, how to repair it, and the bounds to check. */
export interface Scenario {
  readonly name: string;
  readonly target: "leader" | "follower";
  readonly fault: (i: number) => Promise<void>;
  readonly repair: (i: number) => Promise<void>;
  /** Generous bound on the time from the fault to the first success of an operation started after it. */
  readonly recoveryBoundMs: number;
  /** How long to keep the load on after the fault. */
  readonly loadAfterMs?: number;
}

/** Runs a scenario on `cluster` and asserts the invariants. */
export async function runScenario(t: TestContext, cluster: Cluster, s: Scenario): Promise<void> {
  await cluster.waitHealthy();
  const leader = await cluster.leader();
  const i = s.target === "leader" ? leader : (leader + 1) % cluster.size;
  const client = clientOn(cluster, i);
  const prefix = cluster.prefix(s.name.replace(/\W+/g, "-"));
  let stop = false;
  const work = runWorkload(client, prefix, 4, () => stop);
  await sleep(500);
  const faultAt = performance.now();
  await s.fault(i);
  await sleep(s.loadAfterMs ?? 4000);
  stop = true;
  const result = await work;
  await s.repair(i);
  await cluster.waitHealthy();
  const problems = await checkQueue(client, prefix, result);
  await client.close();
  const recovery = recoveryMs(result.ops, faultAt);
  const later = worstLatencyAfter(result.ops, faultAt + 3000);
  t.diagnostic(`${s.name}: member ${i} (${s.target}); recovery ${recovery?.toFixed(0) ?? "never"} ms; worst latency from fault+3 s: ${later.toFixed(0)} ms; ${summary(result.ops)}`);
  assert.deepEqual(result.violations, []);
  assert.deepEqual(problems, []);
  // Reads are always safe to re-send, so a fault of one member must never fail one.
  const failedReads = result.ops.filter((op) => op.kind === "get" && !op.ok);
  assert.equal(failedReads.length, 0, `reads failed: ${failedReads.map((op) => op.code).join(", ")}`);
  assert.ok(recovery !== undefined && recovery < s.recoveryBoundMs, `recovery ${recovery} ms exceeds ${s.recoveryBoundMs} ms`);
}

/** Sleeps `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
