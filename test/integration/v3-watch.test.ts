/**
 * The v3 watch against a real 3-member cluster: every option, start revisions, transactions,
 * compaction, fragmented replies, ending by break / signal / close, and many watches sharing one
 * stream (counted with etcd's own watch-stream gauge).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { EtcdError, EtcdV3Client, type V3WatchEvent, type V3WatchOptions } from "../../src/index.js";
import { request, sleep, startCluster, type Cluster } from "../harness/index.js";

// A small request limit makes a catch-up of a few 200 KB values exceed it, so etcd fragments the reply.
const MAX_REQUEST_BYTES = 256 * 1024;
let cluster: Cluster;
let client: EtcdV3Client;
before(async () => {
  cluster = await startCluster({
    size: 3,
    extraArgs: [`--max-request-bytes=${MAX_REQUEST_BYTES}`, "--experimental-watch-progress-notify-interval=300ms"],
  });
  client = new EtcdV3Client({ endpoints: cluster.endpoints() });
});
after(async () => {
  await client.close();
  await cluster.stop();
});

/** Collects `n` events, failing (not hanging) when they don't come within `ms`. */
async function collect(c: EtcdV3Client, key: string, options: V3WatchOptions, n: number, ms = 10_000): Promise<V3WatchEvent[]> {
  const out: V3WatchEvent[] = [];
  const timeout = AbortSignal.timeout(ms);
  const signal = options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal]);
  for await (const ev of c.watch(key, { ...options, signal })) {
    out.push(ev);
    if (out.length === n) break;
  }
  if (out.length < n && options.signal?.aborted !== true) throw new Error(`only ${out.length} of ${n} events within ${ms} ms`);
  return out;
}

const describe = (evs: readonly V3WatchEvent[], p: string): string[] =>
  evs.map((e) => `${e.type} ${e.kv.key.toString().slice(p.length)}${e.type === "put" ? `=${e.kv.value.toString()}` : ""}`);

/** The sum over members of one of etcd's gauges (e.g. how many watch streams are open). */
async function gauge(name: string): Promise<number> {
  let total = 0;
  for (const url of cluster.endpoints()) {
    const body = (await request(`${url}/metrics`, { timeoutMs: 5_000 })).body;
    const line = body.split("\n").find((l) => l.startsWith(`${name} `));
    assert.ok(line !== undefined, `${url}/metrics has no ${name}`);
    total += Number(line.slice(name.length + 1));
  }
  return total;
}

async function waitFor(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

test("puts and deletes arrive in revision order with kv, header and the right type", async () => {
  const p = cluster.prefix("basic");
  const start = (await client.put(`${p}/seed`, "0")).header.revision + 1n;
  const events = collect(client, `${p}/a`, { startRevision: start }, 3);
  const r1 = await client.put(`${p}/a`, "1");
  await client.put(`${p}/other`, "x");
  const r2 = await client.put(`${p}/a`, "2");
  const r3 = await client.delete(`${p}/a`);
  const got = await events;
  assert.deepEqual(describe(got, p), ["put /a=1", "put /a=2", "delete /a"]);
  assert.deepEqual(got.map((e) => e.kv.modRevision), [r1.header.revision, r2.header.revision, r3.header.revision]);
  assert.equal(got[1]?.kv.version, 2n);
  // A delete's kv carries only the key and the deletion's revision.
  assert.deepEqual(got.map((e) => e.kv.createRevision), [r1.header.revision, r1.header.revision, 0n]);
  assert.equal(got[0]?.prevKv, undefined);
  assert.ok(got.every((e) => e.header.revision >= e.kv.modRevision && e.header.clusterId !== 0n && e.header.memberId !== 0n));
});

test("prefix and rangeEnd select the keys watched", async () => {
  const p = cluster.prefix("range");
  const start = (await client.put(`${p}/seed`, "0")).header.revision + 1n;
  const byPrefix = collect(client, `${p}/dir/`, { prefix: true, startRevision: start }, 2);
  const byRange = collect(client, `${p}/b`, { rangeEnd: `${p}/d`, startRevision: start }, 2);
  for (const k of ["a", "b", "dir/x", "c", "dir/y", "d"]) await client.put(`${p}/${k}`, k);
  assert.deepEqual(describe(await byPrefix, p), ["put /dir/x=dir/x", "put /dir/y=dir/y"]);
  assert.deepEqual(describe(await byRange, p), ["put /b=b", "put /c=c"]);
  assert.throws(() => client.watch(`${p}/x`, { prefix: true, rangeEnd: `${p}/y` }), (e) => e instanceof EtcdError && e.code === "INVALID_ARGUMENT");
  assert.throws(() => client.watch(""), (e) => e instanceof EtcdError && e.code === "INVALID_ARGUMENT");
  assert.throws(() => client.watch(`${p}/x`, { startRevision: -1 }), (e) => e instanceof EtcdError && e.code === "INVALID_ARGUMENT");
});

test("startRevision replays the history from that revision on", async () => {
  const p = cluster.prefix("history");
  const first = await client.put(`${p}/k`, "1");
  await client.put(`${p}/k`, "2");
  await client.put(`${p}/k`, "3");
  const got = await collect(client, `${p}/k`, { startRevision: first.header.revision + 1n }, 2);
  assert.deepEqual(describe(got, p), ["put /k=2", "put /k=3"]);
});

test("a watch created now reports later changes only", async () => {
  const p = cluster.prefix("now");
  const before = await client.put(`${p}/k`, "before");
  const stop = new AbortController();
  const events: V3WatchEvent[] = [];
  const watching = (async () => {
    for await (const ev of client.watch(`${p}/k`, { signal: stop.signal })) {
      events.push(ev);
      stop.abort();
    }
  })();
  // Without waiting for `created` (v3-watch-api tests that), writes repeat until one is seen; none may be the earlier one.
  for (let i = 0; i < 100 && events.length === 0; i++) {
    await client.put(`${p}/k`, `after${i}`);
    await sleep(50);
  }
  await watching;
  assert.equal(events.length, 1);
  assert.match(events[0]?.kv.value.toString() ?? "", /^after\d+$/);
  assert.ok((events[0]?.kv.modRevision ?? 0n) > before.header.revision);
});

test("prevKv attaches the previous state to puts and deletes", async () => {
  const p = cluster.prefix("prevkv");
  const start = (await client.put(`${p}/k`, "old")).header.revision + 1n;
  const events = collect(client, `${p}/k`, { startRevision: start, prevKv: true }, 2);
  await client.put(`${p}/k`, "new");
  await client.delete(`${p}/k`);
  const got = await events;
  assert.equal(got[0]?.prevKv?.value.toString(), "old");
  assert.equal(got[1]?.type, "delete");
  assert.deepEqual(got.map((e) => e.prevKv?.value.toString()), ["old", "new"]);
});

test("noPut and noDelete filter events out", async () => {
  const p = cluster.prefix("filters");
  const start = (await client.put(`${p}/seed`, "0")).header.revision + 1n;
  const deletesOnly = collect(client, `${p}/k`, { startRevision: start, noPut: true }, 2);
  const putsOnly = collect(client, `${p}/k`, { startRevision: start, noDelete: true }, 2);
  await client.put(`${p}/k`, "1");
  await client.delete(`${p}/k`);
  await client.put(`${p}/k`, "2");
  await client.delete(`${p}/k`);
  assert.deepEqual(describe(await deletesOnly, p), ["delete /k", "delete /k"]);
  assert.deepEqual(describe(await putsOnly, p), ["put /k=1", "put /k=2"]);
});

test("every event of a transaction arrives, all at its one revision", async () => {
  const p = cluster.prefix("txn");
  const start = (await client.put(`${p}/seed`, "0")).header.revision + 1n;
  const events = collect(client, `${p}/`, { prefix: true, startRevision: start }, 4);
  const txn = await client.txn({ success: [{ put: { key: `${p}/a`, value: "1" } }, { put: { key: `${p}/b`, value: "2" } }, { put: { key: `${p}/c`, value: "3" } }] });
  await client.put(`${p}/d`, "4");
  const got = await events;
  assert.deepEqual(describe(got, p), ["put /a=1", "put /b=2", "put /c=3", "put /d=4"]);
  assert.deepEqual(got.slice(0, 3).map((e) => e.kv.modRevision), [txn.header.revision, txn.header.revision, txn.header.revision]);
});

test("progressNotify reports progress through onProgress while no event flows", async () => {
  const p = cluster.prefix("progress");
  const at = (await client.put(`${p}/k`, "1")).header.revision;
  const progress: bigint[] = [];
  const stop = new AbortController();
  const events: V3WatchEvent[] = [];
  const watching = (async () => {
    for await (const ev of client.watch(`${p}/k`, {
      startRevision: at,
      progressNotify: true,
      signal: stop.signal,
      onProgress: (rev) => {
        progress.push(rev);
        if (progress.length >= 2) stop.abort();
      },
    })) {
      events.push(ev);
    }
  })();
  const timer = setTimeout(() => {
    stop.abort();
  }, 10_000);
  await watching;
  clearTimeout(timer);
  assert.equal(events.length, 1, "the one event is yielded before any progress");
  assert.ok(progress.length >= 2, `only ${progress.length} progress notifications within 10 s (server interval 300 ms)`);
  assert.ok(progress.every((rev) => rev >= at), `progress ${progress.join(",")} below the event's revision ${at}`);
});

test("a compacted start revision ends the iterator with COMPACTED and the compact revision", async () => {
  const p = cluster.prefix("compacted");
  const old = await client.put(`${p}/k`, "1");
  const latest = await client.put(`${p}/k`, "2");
  await client.compact(latest.header.revision);
  await assert.rejects(collect(client, `${p}/k`, { startRevision: old.header.revision }, 1), (e: unknown) => {
    assert.ok(e instanceof EtcdError, String(e));
    assert.equal(e.code, "COMPACTED");
    assert.equal(e.compactRevision, latest.header.revision);
    assert.equal(e.resumeIndex, Number(latest.header.revision));
    return true;
  });
  // Watching from the compact revision on works.
  const got = await collect(client, `${p}/k`, { startRevision: latest.header.revision }, 1);
  assert.equal(got[0]?.kv.value.toString(), "2");
});

test("a reply larger than the message limit arrives in fragments and is put back together", async () => {
  // etcd's fragments stay under its request limit plus 512 KiB of gRPC overhead.
  const small = new EtcdV3Client({ endpoints: cluster.endpoints(), maxMessageBytes: MAX_REQUEST_BYTES + 768 * 1024 });
  try {
    const p = cluster.prefix("fragments");
    const value = "x".repeat(200 * 1024);
    const start = (await small.put(`${p}/seed`, "0")).header.revision + 1n;
    for (let i = 0; i < 8; i++) await small.put(`${p}/k${i}`, `${i}${value}`);
    // The catch-up reply holds all 8 events (1.6 MB): more than the client accepts in one message (1 MiB).
    const got = await collect(small, `${p}/`, { prefix: true, startRevision: start }, 8);
    assert.deepEqual(got.map((e) => e.kv.key.toString().slice(p.length)), ["/k0", "/k1", "/k2", "/k3", "/k4", "/k5", "/k6", "/k7"]);
    assert.ok(got.every((e, i) => e.kv.value.length === value.length + 1 && e.kv.value[0] === 48 + i));
  } finally {
    await small.close();
  }
});

test("break, return() and the signal end a watch at once without throwing", async () => {
  const p = cluster.prefix("ending");
  const start = (await client.put(`${p}/k`, "0")).header.revision;
  for await (const ev of client.watch(`${p}/k`, { startRevision: start })) {
    assert.equal(ev.kv.value.toString(), "0");
    break;
  }
  const it = client.watch(`${p}/k`, { startRevision: start });
  assert.equal((await it.next()).done, false);
  assert.deepEqual(await it.return(), { done: true, value: undefined });
  assert.deepEqual(await it.next(), { done: true, value: undefined });

  const stop = new AbortController();
  const waiting = client.watch(`${p}/k`, { startRevision: start + 1n, signal: stop.signal });
  const pending = waiting.next();
  setTimeout(() => {
    stop.abort();
  }, 100);
  assert.deepEqual(await pending, { done: true, value: undefined });
  const aborted = client.watch(`${p}/k`, { signal: AbortSignal.abort() });
  assert.deepEqual(await aborted.next(), { done: true, value: undefined });
});

test("1,000 watches share one stream, each gets its own events, and the stream ends with the last watch", async (t) => {
  const own = new EtcdV3Client({ endpoints: cluster.endpoints() });
  const p = cluster.prefix("many");
  const streamsBefore = await gauge("etcd_debugging_mvcc_watch_stream_total");
  const watchersBefore = await gauge("etcd_debugging_mvcc_watcher_total");
  const start = (await own.put(`${p}/seed`, "0")).header.revision + 1n;
  const n = 1000;
  const t0 = performance.now();
  const iterators = Array.from({ length: n }, (_, i) => own.watch(`${p}/k${i}`, { startRevision: start }));
  await waitFor("1,000 watchers on the server", async () => (await gauge("etcd_debugging_mvcc_watcher_total")) >= watchersBefore + n);
  const createdMs = performance.now() - t0;
  assert.equal(await gauge("etcd_debugging_mvcc_watch_stream_total"), streamsBefore + 1, "more than one stream for one client's watches");
  await Promise.all(Array.from({ length: 50 }, (_, w) => (async () => {
    for (let i = w; i < n; i += 50) await own.put(`${p}/k${i}`, String(i));
  })()));
  const firsts = await Promise.all(iterators.map((it) => it.next()));
  assert.ok(firsts.every((r, i) => !r.done && r.value.kv.key.toString() === `${p}/k${i}` && r.value.kv.value.toString() === String(i)));
  for (const it of iterators) await it.return();
  await waitFor("the stream to end", async () => (await gauge("etcd_debugging_mvcc_watch_stream_total")) === streamsBefore);
  await own.close();
  t.diagnostic(`1,000 watches created on one stream in ${createdMs.toFixed(0)} ms`);
});

test("close() ends every watch; their iterators finish without throwing", async () => {
  const own = new EtcdV3Client({ endpoints: cluster.endpoints() });
  const p = cluster.prefix("close");
  const start = (await own.put(`${p}/k`, "0")).header.revision;
  const first = own.watch(`${p}/k`, { startRevision: start });
  assert.equal((await first.next()).done, false);
  const second = own.watch(`${p}/other`);
  const pending = [first.next(), second.next()];
  await own.close();
  assert.deepEqual(await Promise.all(pending), [{ done: true, value: undefined }, { done: true, value: undefined }]);
  assert.throws(() => own.watch(`${p}/k`), (e) => e instanceof EtcdError && e.code === "CLIENT_CLOSED");
});
