/**
 * A v3 watch created "now" (no start revision) that has received no event yet when its member
 * fails: it must resume from its created reply's revision + 1 on the next member, not be created
 * "now" again there, which would skip every put made while the watch was moving. etcd's progress
 * notifications (every 300 ms here) tell the test when the watch exists and at which revision.
 * The SIGSTOP case is the sharp one: the watch takes a second or more to leave a hung member,
 * and with the created revision dropped it lost 211 of 263 puts; after a SIGKILL it moves within
 * milliseconds, before most puts are made.
 */
import { after, before, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { EtcdError, EtcdV3Client, type EngineEvent, type V3WatchEvent } from "../../src/index.js";
import { sleep, startCluster, type Cluster } from "../harness/index.js";

let cluster: Cluster;
before(async () => {
  cluster = await startCluster({ size: 3, extraArgs: ["--experimental-watch-progress-notify-interval=300ms"] });
});
after(async () => {
  await cluster.stop();
});

interface Fault {
  readonly inject: (i: number) => Promise<void>;
  readonly repair: (i: number) => Promise<void>;
}

async function scenario(t: TestContext, name: string, fault: Fault): Promise<void> {
  await cluster.waitHealthy();
  const leader = await cluster.leader();
  const watchOn = (leader + 1) % cluster.size;
  const served = cluster.clientUrl(watchOn);
  let movedAt: number | undefined;
  const watcher = new EtcdV3Client({
    endpoints: [served],
    onEvent: (ev: EngineEvent) => {
      if (ev.type === "member-chosen" && ev.previous === served) movedAt ??= performance.now();
    },
  });
  await watcher.sync();
  assert.equal(watcher.currentEndpoint, served);
  const writer = new EtcdV3Client({ endpoints: [cluster.clientUrl(leader)], requestTimeout: 3000 });
  const p = cluster.prefix(name);

  let created: (revision: bigint) => void = () => undefined;
  const createdAt = new Promise<bigint>((resolve) => {
    created = resolve;
  });
  const delivered: V3WatchEvent[] = [];
  const done = new AbortController();
  const watching = (async () => {
    const onProgress = (revision: bigint): void => {
      created(revision);
    };
    const options = { prefix: true, progressNotify: true, onProgress, signal: done.signal };
    for await (const ev of watcher.watch(`${p}/`, options)) delivered.push(ev);
  })();
  const since = await createdAt;
  assert.equal(delivered.length, 0);

  // The watch has seen nothing but its creation; break its member, then write while it moves.
  const faultAt = performance.now();
  await fault.inject(watchOn);
  const acked = new Map<string, bigint>();
  const unknown = new Set<string>();
  // Writes go on until the watch has moved and 300 ms more (at most 10 s): those made while it
  // moved are the ones a watch created "now" again would skip.
  const moved = (): boolean => movedAt !== undefined && performance.now() - movedAt > 300;
  for (let n = 0; performance.now() - faultAt < 10_000 && !(moved() && n >= 50); n++) {
    const value = `v${n}`;
    try {
      acked.set(value, (await writer.put(`${p}/k${n % 10}`, value)).header.revision);
    } catch (error) {
      assert.ok(error instanceof EtcdError, `untyped failure: ${String(error)}`);
      unknown.add(value);
    }
    await sleep(5);
  }
  assert.ok(movedAt !== undefined, `the watch never left ${served}`);
  const last = [...acked.values()].reduce((a, b) => (a > b ? a : b), 0n);
  for (let waited = 0; waited < 10_000 && (delivered.at(-1)?.kv.modRevision ?? 0n) < last; waited += 50) await sleep(50);
  await fault.repair(watchOn);
  done.abort();
  await watching;
  await watcher.close();
  await writer.close();

  const firstAcked = [...acked.values()].reduce((a, b) => (a < b ? a : b));
  const revisions = delivered.map((ev) => ev.kv.modRevision);
  for (let i = 1; i < revisions.length; i++) assert.ok(revisions[i]! > revisions[i - 1]!, `revision ${revisions[i]} after ${revisions[i - 1]}: out of order or repeated`);
  assert.ok(firstAcked > since, `the first put (revision ${firstAcked}) is not after the watch's creation (${since})`);
  const seen = new Map(delivered.map((ev) => [ev.kv.value.toString(), ev.kv.modRevision]));
  const missing = [...acked].filter(([value, revision]) => seen.get(value) !== revision);
  assert.deepEqual(missing.slice(0, 5), [], `${missing.length} acknowledged puts were not delivered at their revisions`);
  for (const value of seen.keys()) assert.ok(acked.has(value) || unknown.has(value), `${value} delivered but never written`);
  t.diagnostic(`${name}: created at revision ${since}; left the member ${(movedAt - faultAt).toFixed(0)} ms after the fault; ${delivered.length} events for ${acked.size} acknowledged + ${unknown.size} unknown puts`);
}

test("a watch from now with no event yet survives SIGKILL of its member: every later put is delivered", async (t) => {
  await scenario(t, "now-kill", { inject: (i) => cluster.member(i).kill(), repair: (i) => cluster.member(i).restart() });
});

test("a watch from now with no event yet survives SIGSTOP of its member: the puts made while it moved are delivered", async (t) => {
  await scenario(t, "now-stop", { inject: (i) => cluster.member(i).pause(), repair: (i) => cluster.member(i).resume() });
});
