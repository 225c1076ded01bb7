/**
 * The torture suite's short mode (`npm test` runs it as its own step, once per etcd version): a
 * run of random v2 operations from 8 clients on a 3-member cluster under a seeded nemesis (kill,
 * SIGSTOP, isolation, leader kill, rolling restart), each history checked for linearizability key
 * by key and the recursive watch checked for completeness; and a run of random v3 operations
 * (strong get, put, compare-and-set txn, delete) under the same nemesis, checked the same way with
 * a v3 prefix watch, plus the revisions across keys. 30 s each keeps both APIs within about a
 * minute per version. The v2 seed is random and printed, so that a failure can be replayed with
 * `npm run torture -- --api v2 --seed N`; the v3 seed is fixed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomSeed } from "../torture/prng.js";
import { formatReport } from "../torture/report.js";
import { runTorture, saveRecord, type TortureApi } from "../torture/run.js";

const V3_SEED = 20_250_301;

for (const [name, api, seed, seconds] of [
  ["v2, a random seed", "v2", randomSeed(), 30],
  ["v3, a fixed seed", "v3", V3_SEED, 30],
] as const satisfies readonly (readonly [string, TortureApi, number, number])[]) {
  const checks = api === "v3" ? "the watch is complete and revisions follow real time" : "the watch is complete";
  test(`every key's history is linearizable and ${checks} under faults (${name}: ${seed})`, async (t) => {
    console.log(`torture short mode: ${api}, seed ${seed} (replay with npm run torture -- --api ${api} --seconds ${seconds} --seed ${seed})`);
    const result = await runTorture({ durationMs: seconds * 1000, seed, api, workers: 8, members: 3, unsafeRetry: false });
    const report = formatReport(result);
    for (const line of report) t.diagnostic(line);
    const saved = result.ok ? "" : `\nrun record: ${saveRecord(result)}`;
    assert.ok(result.ok, `${report.join("\n")}${saved}`);
    assert.ok(result.faults.length > 0, "the nemesis injected no fault");
    assert.ok(result.verdicts.length > 0 && result.ops.length > 1000, `too little work: ${result.ops.length} operations`);
    if (api === "v3") assert.ok(result.watch.acknowledged > 300, `the watch checked only ${result.watch.acknowledged} acknowledged writes`);
  });
}
