/**
 * The torture suite's short mode: two runs of random v2 operations from 8 clients on a 3-member
 * cluster under a seeded nemesis (kill, SIGSTOP, isolation, leader kill, rolling restart), each
 * history checked for linearizability key by key and the recursive watch checked for
 * completeness. One run has a fixed seed, the other a random one, printed so that a failure can
 * be replayed with `npm run torture -- --seed N`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomSeed } from "../torture/prng.js";
import { formatReport } from "../torture/report.js";
import { runTorture, saveRecord } from "../torture/run.js";

const FIXED_SEED = 20_240_611;
const SECONDS = 45;

for (const [name, seed] of [
  ["a fixed seed", FIXED_SEED],
  ["a random seed", randomSeed()],
] as const) {
  test(`every key's history is linearizable and the watch is complete under faults (${name}: ${seed})`, async (t) => {
    console.log(`torture short mode: seed ${seed} (replay with npm run torture -- --seconds ${SECONDS} --seed ${seed})`);
    const result = await runTorture({ durationMs: SECONDS * 1000, seed, workers: 8, members: 3, unsafeRetry: false });
    const report = formatReport(result);
    for (const line of report) t.diagnostic(line);
    const saved = result.ok ? "" : `\nrun record: ${saveRecord(result)}`;
    assert.ok(result.ok, `${report.join("\n")}${saved}`);
    assert.ok(result.faults.length > 0, "the nemesis injected no fault");
    assert.ok(result.verdicts.length > 0 && result.ops.length > 1000, `too little work: ${result.ops.length} operations`);
  });
}
