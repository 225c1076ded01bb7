/** The v2 watch against a real 3-member cluster: every action, start index, cleared history, ending. */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { EtcdV2Client, EtcdError, type V2WatchEvent, type WatchOptions } from "../../src/index.js";
import { startCluster, type Cluster } from "../harness/index.js";

let cluster: Cluster;
let client: EtcdV2Client;
before(async () => {
  cluster = await startCluster({ size: 3 });
  client = new EtcdV2Client({ endpoints: cluster.endpoints() });
});
after(async () => {
  await client.close();
  await cluster.stop();
});

/** Collects `n` events from a watch on `w`, failing (not hanging) when they don't come within `ms`. */
async function collect(w: EtcdV2Client, key: string, options: WatchOptions, n: number, ms = 10_000): Promise<V2WatchEvent[]> {
  const out: V2WatchEvent[] = [];
  const signal = AbortSignal.any([AbortSignal.timeout(ms), ...(options.signal === undefined ? [] : [options.signal])]);
  for await (const ev of w.watch(key, { ...options, signal })) {
    out.push(ev);
    if (out.length === n) break;
  }
  if (out.length < n && options.signal?.aborted !== true) throw new Error(`only ${out.length} of ${n} events within ${ms} ms`);
  return out;
}

test("every kind of change arrives with its action, in order", async () => {
  const p = cluster.prefix("actions");
  const events = collect(client, p, { recursive: true, waitIndex: (await client.set(`${p}/seed`, "0")).etcdIndex + 1 }, 9);
  await client.set(`${p}/a`, "1");
  await client.update(`${p}/a`, "2");
  await client.compareAndSwap(`${p}/a`, "3", { prevValue: "2" });
  await client.compareAndDelete(`${p}/a`, { prevValue: "3" });
  await client.create(`${p}/b`, "x");
  await client.delete(`${p}/b`);
  await client.createDir(`${p}/d`);
  await client.set(`${p}/d/child`, "c");
  await client.set(`${p}/e`, "short", { ttl: 1 });
  const got = await events;
  const actions = got.map((e) => `${e.action} ${e.node?.key.slice(p.length) ?? ""}`);
  assert.deepEqual(actions, ["set /a", "update /a", "compareAndSwap /a", "compareAndDelete /a", "create /b", "delete /b", "create /d", "set /d/child", "set /e"]);
  assert.equal(got[2]?.action === "compareAndSwap" ? (got[2] as { prevNode?: { value?: string } }).prevNode?.value : undefined, "2");
  const expired = await client.watchOnce(`${p}/e`, { waitIndex: (got[8]?.node?.modifiedIndex ?? 0) + 1 });
  assert.equal(expired.action, "expire");
});

test("a directory's recursive watch sees children but not hidden keys; a direct watch on a hidden key does", async () => {
  const p = cluster.prefix("hidden");
  await client.createDir(p);
  const start = (await client.get(p)).etcdIndex + 1;
  const parent = collect(client, p, { recursive: true, waitIndex: start }, 1);
  const direct = client.watchOnce(`${p}/_hidden`, { waitIndex: start });
  await client.set(`${p}/_hidden`, "h");
  await client.set(`${p}/visible`, "v");
  assert.equal((await parent)[0]?.node?.key, `${p}/visible`);
  assert.equal((await direct).node?.value, "h");
});

test("without waitIndex a watch starts after the current index; with it, at that index", async () => {
  const p = cluster.prefix("start");
  const first = await client.set(`${p}/k`, "old");
  const fromNow = client.watchOnce(`${p}/k`);
  await new Promise((r) => setTimeout(r, 200));
  await client.set(`${p}/k`, "new");
  assert.equal((await fromNow).node?.value, "new");
  const replay = await client.watchOnce(`${p}/k`, { waitIndex: first.node?.modifiedIndex });
  assert.equal(replay.node?.value, "old");
});

test("a watch from an index older than history gets EVENT_INDEX_CLEARED with where to resume", async () => {
  const p = cluster.prefix("cleared");
  const old = (await client.set(`${p}/k`, "v0")).etcdIndex;
  for (let i = 0; i < 1010; i += 50) await Promise.all(Array.from({ length: 50 }, (_, j) => client.set(`${p}/filler`, String(i + j))));
  await assert.rejects(client.watchOnce(`${p}/k`, { waitIndex: old }), (err: EtcdError) => {
    assert.equal(err.code, "EVENT_INDEX_CLEARED");
    assert.equal(err.errorCode, 401);
    assert.ok(err.resumeIndex !== undefined && err.resumeIndex > old, `resumeIndex ${err.resumeIndex}`);
    return true;
  });
});

test("with onCleared: resync, a cleared watch yields the current state, then every later event", async () => {
  const p = cluster.prefix("resync");
  const old = (await client.set(`${p}/k`, "v0")).etcdIndex;
  for (let i = 0; i < 1010; i += 50) await Promise.all(Array.from({ length: 50 }, (_, j) => client.set(`${p}/k`, `f${i + j}`)));
  const latest = (await client.get(`${p}/k`)).node?.value;
  const events = collect(client, p, { recursive: true, waitIndex: old, onCleared: "resync" }, 3);
  await new Promise((r) => setTimeout(r, 300));
  await client.set(`${p}/k`, "after-1");
  await client.set(`${p}/k`, "after-2");
  const got = await events;
  assert.equal(got[0]?.action, "resync");
  const snapshot = got[0];
  assert.equal(snapshot.node?.nodes?.[0]?.value, latest);
  assert.deepEqual(got.slice(1).map((e) => e.node?.value), ["after-1", "after-2"]);
});

test("the signal ends a waiting watch at once, without an error", async () => {
  const controller = new AbortController();
  const started = performance.now();
  setTimeout(() => {
    controller.abort();
  }, 100);
  const got = await collect(client, `${cluster.prefix("signal")}/k`, { signal: controller.signal }, 1);
  assert.equal(got.length, 0);
  assert.ok(performance.now() - started < 2000);
});

test("close() ends every watch of the client, and the iterators finish without throwing", async () => {
  const own = new EtcdV2Client({ endpoints: cluster.endpoints() });
  const p = cluster.prefix("close");
  const watches = Array.from({ length: 5 }, async (_, i) => {
    const events: V2WatchEvent[] = [];
    for await (const ev of own.watch(`${p}/k${i}`)) events.push(ev);
    return events.length;
  });
  await new Promise((r) => setTimeout(r, 300));
  await own.close();
  assert.deepEqual(await Promise.all(watches), [0, 0, 0, 0, 0]);
});

test("break inside for await leaves no socket or timer behind: the process exits by itself", async () => {
  const script = fileURLToPath(new URL("../harness/fixtures/watch-break.ts", import.meta.url));
  const p = cluster.prefix("break");
  const from = (await client.get("/")).etcdIndex + 1;
  const child = spawn(process.execPath, ["--import", "tsx", script, cluster.endpoints().join(","), `${p}/k`, String(from)], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  await new Promise((r) => setTimeout(r, 500));
  await client.set(`${p}/k`, "go");
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve(null);
    }, 15_000);
    child.on("exit", (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  assert.equal(code, 0, `the process did not exit by itself (exit ${code}); output: ${out}`);
  assert.match(out, /got go/);
});

test("1,000 concurrent watches on one client each get their event", async (t) => {
  const own = new EtcdV2Client({ endpoints: cluster.endpoints() });
  const p = cluster.prefix("thousand");
  const start = (await own.set(`${p}/seed`, "s")).etcdIndex + 1;
  const before = process.memoryUsage();
  const watches = Array.from({ length: 1000 }, (_, i) => own.watchOnce(`${p}/k${i}`, { waitIndex: start }));
  await new Promise((r) => setTimeout(r, 2000));
  const during = process.memoryUsage();
  for (let i = 0; i < 1000; i += 100) await Promise.all(Array.from({ length: 100 }, (_, j) => own.set(`${p}/k${i + j}`, `v${i + j}`)));
  const got = await Promise.all(watches);
  got.forEach((ev, i) => {
    assert.equal(ev.node?.value, `v${i}`);
  });
  t.diagnostic(`memory with 1,000 watches waiting: +${((during.rss - before.rss) / 1000 / 1024).toFixed(1)} KiB RSS and +${((during.heapUsed - before.heapUsed) / 1000 / 1024).toFixed(1)} KiB heap per watch`);
  await own.close();
});
