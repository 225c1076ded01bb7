/**
 * SIGKILL, restart and rolling restart of the member in use, under load: operations keep
 * succeeding or fail with a typed error, nothing is written twice, no strong read goes back.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startCluster, type Cluster } from "../harness/index.js";
import { EtcdError } from "../../src/errors.js";
import { runScenario, sleep } from "./scenario.js";
import { clientOn } from "./workload.js";

let cluster: Cluster;
before(async () => {
  cluster = await startCluster({ size: 3 });
});
after(async () => {
  await cluster.stop();
});

test("a SIGKILLed follower in use is left at once", async (t) => {
  await runScenario(t, cluster, {
    name: "kill follower",
    target: "follower",
    fault: (i) => cluster.member(i).kill(),
    repair: (i) => cluster.member(i).restart(),
    recoveryBoundMs: 1500,
  });
});

test("a SIGKILLed leader in use costs one election, and no read fails", async (t) => {
  await runScenario(t, cluster, {
    name: "kill leader",
    target: "leader",
    fault: (i) => cluster.member(i).kill(),
    repair: (i) => cluster.member(i).restart(),
    recoveryBoundMs: 6000,
    loadAfterMs: 5000,
  });
});

test("a restarted member in use is left and the load carries on", async (t) => {
  await runScenario(t, cluster, {
    name: "restart",
    target: "follower",
    fault: (i) => cluster.member(i).restart(),
    repair: () => Promise.resolve(),
    recoveryBoundMs: 3000,
  });
});

test("a rolling restart of all three members under load loses and duplicates nothing", async (t) => {
  await runScenario(t, cluster, {
    name: "rolling restart",
    target: "follower",
    fault: async () => {
      for (let m = 0; m < cluster.size; m++) {
        await cluster.member(m).restart();
        await cluster.waitHealthy();
      }
    },
    repair: () => Promise.resolve(),
    recoveryBoundMs: 6000,
    loadAfterMs: 1000,
  });
});

test("1,000 concurrent operations while the member in use is killed all settle, typed and accounted for", async (t) => {
  await cluster.waitHealthy();
  const leader = await cluster.leader();
  const target = (leader + 1) % cluster.size;
  const client = clientOn(cluster, target);
  const prefix = cluster.prefix("thousand");
  const ops = Array.from({ length: 1000 }, (_, n) =>
    n % 2 === 0 ? client.set(`${prefix}/k${n}`, `v${n}`).then(() => `k${n}`) : client.createInOrder(`${prefix}/q`, `c${n}`).then(() => `c${n}`),
  );
  // Attach to every promise now: a rejection before then would count as unhandled.
  const all = Promise.allSettled(ops);
  await sleep(5);
  await cluster.member(target).kill();
  const settled = await Promise.race([all, sleep(30_000).then(() => undefined)]);
  assert.ok(settled !== undefined, "not every operation settled within 30 s");
  const acked = new Set<string>();
  const unknown = new Set<string>();
  for (const [n, r] of settled.entries()) {
    if (r.status === "fulfilled") acked.add(r.value);
    else {
      assert.ok(r.reason instanceof EtcdError, `operation ${n} failed with an untyped error: ${String(r.reason)}`);
      if (r.reason.code === "OUTCOME_UNKNOWN") unknown.add(n % 2 === 0 ? `k${n}` : `c${n}`);
    }
  }
  await cluster.member(target).restart();
  const queue = await client.get(`${prefix}/q`).then(
    (r) => r.node?.nodes ?? [],
    (error: unknown) => {
      // No in-order create took effect at all: the directory was never made.
      if (error instanceof EtcdError && error.code === "KEY_NOT_FOUND") return [];
      throw error;
    },
  );
  const values = queue.map((node) => node.value ?? "");
  assert.equal(new Set(values).size, values.length, "an in-order create was written twice");
  for (const v of values) assert.ok(acked.has(v) || unknown.has(v), `${v} is present but was reported as failed`);
  for (const key of acked) {
    if (key.startsWith("c")) assert.ok(values.includes(key), `${key} acknowledged but missing`);
    else assert.equal((await client.get(`${prefix}/${key}`)).node?.value, `v${key.slice(1)}`);
  }
  t.diagnostic(`acknowledged ${acked.size}, unknown ${unknown.size}, failed ${1000 - acked.size - unknown.size}`);
  await client.close();
});
