/**
 * The lock and election torture workloads' short mode (30 s each, fixed seeds; see
 * test/torture/locks.ts): under the nemesis, the cutter and the freezer, believed holdings and
 * leaderships never overlap, the register fenced by lock.revision stays linearizable, and
 * observe() reports leaders in order. Replay with `npm run torture -- --workload lock --seed N`.
 * The deliberately wrong `--unsafe-loss-deadline` variant is not run here: whether its late
 * notice overlaps a successor depends on timing, so its failure is shown by hand, not asserted.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runLockTorture, type LockWorkload } from "../torture/locks.js";

for (const [workload, seed] of [
  ["lock", 7],
  ["election", 11],
] as const satisfies readonly (readonly [LockWorkload, number])[]) {
  test(`${workload} torture: no two believed ${workload === "lock" ? "holdings" : "leaderships"} overlap under faults (seed ${seed})`, async (t) => {
    const lines: string[] = [];
    const result = await runLockTorture({ workload, durationMs: 30_000, seed, workers: 4, members: 3, ttl: 2, unsafeLossDeadline: false, log: (line) => lines.push(line) });
    for (const line of [...lines, ...result.lines]) t.diagnostic(line);
    assert.ok(result.ok, [...lines, ...result.lines].join("\n"));
    const summary = result.lines[0] ?? "";
    const held = Number(/^(\d+) /.exec(summary)?.[1] ?? "0");
    assert.ok(held >= 3, `too little work: ${summary}`);
  });
}
