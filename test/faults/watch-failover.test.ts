/**
 * A recursive v2 watch while a writer performs 2,000 sets and the member serving the watch is
 * killed, SIGSTOPped and cut off: the watch delivers exactly the acknowledged writes, in index
 * order, with no gap and no duplicate.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { partitionSupport, startCluster, type Cluster } from "../harness/index.js";
import { EtcdError, type V2WatchEvent } from "../../src/index.js";
import { clientOn } from "./workload.js";
import { sleep } from "./scenario.js";

const WRITES = 2000;
let cluster: Cluster;
before(async () => {
  cluster = await startCluster({ size: 3 });
});
after(async () => {
  await cluster.stop();
});

test("a recursive watch loses and repeats nothing while its member is killed, stopped and isolated", async (t) => {
  const leader = await cluster.leader();
  const watchOn = (leader + 1) % cluster.size;
  const writeOn = leader;
  let serving = cluster.clientUrl(watchOn);
  const moves: { at: number; to: string }[] = [];
  const watcher = clientOn(cluster, watchOn, {
    onEvent: (ev) => {
      if (ev.type === "member-chosen") {
        serving = ev.endpoint;
        moves.push({ at: performance.now(), to: ev.endpoint });
      }
    },
  });
  const writer = clientOn(cluster, writeOn);
  const p = cluster.prefix("watch-failover");
  const start = (await writer.set(`${p}/seed`, "seed")).etcdIndex + 1;

  const delivered: V2WatchEvent[] = [];
  const deliveredAt = new Map<string, number>();
  const done = new AbortController();
  const watching = (async () => {
    for await (const ev of watcher.watch(p, { recursive: true, waitIndex: start, signal: done.signal })) {
      delivered.push(ev);
      deliveredAt.set(ev.node?.value ?? "", performance.now());
    }
  })();

  const acked = new Map<string, number>();
  const unknown = new Set<string>();
  const ackedAt = new Map<string, number>();
  const faults: { at: number; what: string }[] = [];
  const memberIndex = (url: string) => cluster.endpoints().indexOf(url);
  const schedule: Record<number, () => Promise<void>> = {
    400: async () => {
      const i = memberIndex(serving);
      faults.push({ at: performance.now(), what: `kill member ${i}` });
      await cluster.member(i).kill();
    },
    800: async () => {
      for (const m of cluster.members) if (!m.running) await m.restart();
      const i = memberIndex(serving);
      faults.push({ at: performance.now(), what: `SIGSTOP member ${i}` });
      await cluster.member(i).pause();
    },
    1200: async () => {
      for (const m of cluster.members) if (m.paused) await m.resume();
      if (!partitionSupport().ok) return;
      const i = memberIndex(serving);
      faults.push({ at: performance.now(), what: `isolate member ${i}` });
      await cluster.isolate(i);
    },
    1600: () => {
      for (let i = 0; i < cluster.size; i++) if (cluster.member(i).isolated) cluster.heal(i);
      return Promise.resolve();
    },
  };
  for (let n = 0; n < WRITES; n++) {
    await schedule[n]?.();
    const value = `v${n}`;
    try {
      const r = await writer.set(`${p}/k${n % 50}`, value);
      acked.set(value, r.node?.modifiedIndex ?? 0);
      ackedAt.set(value, performance.now());
    } catch (error) {
      assert.ok(error instanceof EtcdError, `untyped failure: ${String(error)}`);
      if (error.code === "OUTCOME_UNKNOWN") unknown.add(value);
    }
    // About 250 writes/s: etcd keeps only the last 1,000 events, and a failover takes about a second.
    await sleep(3);
  }
  const last = Math.max(...acked.values());
  for (let waited = 0; waited < 15_000; waited += 100) {
    if ((delivered.at(-1)?.node?.modifiedIndex ?? 0) >= last) break;
    await sleep(100);
  }
  done.abort();
  await watching;
  await watcher.close();
  await writer.close();

  const indexes = delivered.map((ev) => ev.node?.modifiedIndex ?? 0);
  for (let i = 1; i < indexes.length; i++) assert.ok(indexes[i]! > indexes[i - 1]!, `index ${indexes[i]} after ${indexes[i - 1]}: out of order or repeated`);
  const seen = new Set(delivered.map((ev) => ev.node?.value ?? ""));
  assert.equal(seen.size, delivered.length, "an event was delivered twice");
  for (const [value, index] of acked) assert.ok(seen.has(value), `acknowledged write ${value} (index ${index}) was never delivered`);
  for (const value of seen) assert.ok(acked.has(value) || unknown.has(value), `${value} delivered but its write was reported as failed`);
  const delays = faults.map((f) => {
    let worst = 0;
    for (const [value, at] of ackedAt) if (at >= f.at && at < f.at + 4000) worst = Math.max(worst, (deliveredAt.get(value) ?? at) - at);
    return `${f.what}: worst delivery delay ${worst.toFixed(0)} ms`;
  });
  t.diagnostic(`${delivered.length} events for ${acked.size} acknowledged + ${unknown.size} unknown writes; watch moved ${moves.length - 1} times; ${delays.join("; ")}`);
});
