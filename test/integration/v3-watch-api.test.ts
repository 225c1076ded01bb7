/**
 * The v3 watch's ergonomics against real etcd (issue 16): its creation observable, progress
 * requests, many watches on one AbortSignal without a warning, and a typed end reason that
 * tells `close()` of the client from the watch's own abort.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { EtcdError, EtcdV3Client, type V3WatchEvent } from "../../src/index.js";
import { startCluster, type Cluster } from "../harness/index.js";

let cluster: Cluster;
let client: EtcdV3Client;
before(async () => {
  cluster = await startCluster({ size: 1 });
  client = new EtcdV3Client({ endpoints: cluster.endpoints() });
});
after(async () => {
  await client.close();
  await cluster.stop();
});

test("created resolves with the first revision watched, so a write made after it is seen without a start revision", async () => {
  const p = cluster.prefix("created");
  const before = await client.put(`${p}/k`, "before");
  const w = client.watch(`${p}/k`);
  const from = await w.created;
  assert.equal(from, before.header.revision + 1n);
  const written = await client.put(`${p}/k`, "after");
  const first = await w.next();
  assert.equal(first.done, false);
  const event: V3WatchEvent = first.value;
  assert.equal(event.kv.modRevision, written.header.revision);
  assert.equal(event.kv.value.toString(), "after");
  await w.return();

  const replay = client.watch(`${p}/k`, { startRevision: before.header.revision });
  assert.equal(await replay.created, before.header.revision);
  await replay.return();
});

test("created rejects when the watch ends before etcd created it, with the reason of its end", async () => {
  const p = cluster.prefix("created-end");
  const stop = new AbortController();
  const aborted = client.watch(`${p}/k`, { signal: stop.signal });
  stop.abort(new Error("mine"));
  await assert.rejects(aborted.created, /mine/);
  const returned = client.watch(`${p}/k`);
  await returned.return();
  await assert.rejects(returned.created, (e) => e instanceof EtcdError && e.code === "WATCH_CANCELED");
  // Nobody awaits this one: its rejection must not surface as an unhandled rejection.
  const ignored = client.watch(`${p}/k`);
  await ignored.return();
});

test("requestProgress resolves with a revision up to which the watch has received every event", async () => {
  const p = cluster.prefix("progress");
  const w = client.watch(`${p}/k`);
  await w.created;
  const put = await client.put(`${p}/k`, "1");
  const other = await client.put(`${p}/other`, "x");
  const revision = await w.requestProgress({ timeout: 10_000 });
  assert.ok(revision >= other.header.revision, `progress ${revision} below the last write's revision ${other.header.revision}`);
  assert.equal(w.buffered, 1, "the event below the progress revision is already received");
  const ev = await w.next();
  assert.equal((ev.value as V3WatchEvent).kv.modRevision, put.header.revision);
  await w.return();
  await assert.rejects(w.requestProgress(), (e) => e instanceof EtcdError && e.code === "WATCH_CANCELED");
});

test("50 watches on one AbortSignal print no MaxListenersExceededWarning and all end on its abort", async () => {
  const p = cluster.prefix("signal");
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => {
    warnings.push(w);
  };
  process.on("warning", onWarning);
  try {
    const stop = new AbortController();
    const watches = Array.from({ length: 50 }, (_, i) => client.watch(`${p}/k${i}`, { signal: stop.signal }));
    await Promise.all(watches.map((w) => w.created));
    const pending = watches.map((w) => w.next());
    stop.abort();
    assert.deepEqual(await Promise.all(pending), watches.map(() => ({ done: true, value: undefined })));
    const ends = await Promise.all(watches.map((w) => w.ended));
    assert.ok(ends.every((e) => e.kind === "aborted"));
    // Warnings are emitted on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(warnings.map((w) => w.name), []);
  } finally {
    process.off("warning", onWarning);
  }
});

test("a watch loop tells the client's close() from its own abort, from break and from an error", async () => {
  const own = new EtcdV3Client({ endpoints: cluster.endpoints() });
  const p = cluster.prefix("ends");
  const stop = new AbortController();
  const aborted = own.watch(`${p}/a`, { signal: stop.signal });
  const closed = own.watch(`${p}/b`);
  const broken = own.watch(`${p}/c`);
  await Promise.all([aborted.created, closed.created, broken.created]);
  const at = (await own.put(`${p}/c`, "1")).header.revision;
  for await (const ev of broken) {
    assert.equal(ev.kv.modRevision, at);
    break;
  }
  assert.deepEqual(broken.endReason, { kind: "returned" });
  const reason = new Error("stop the watch");
  stop.abort(reason);
  assert.deepEqual(await aborted.ended, { kind: "aborted", reason });
  assert.equal(closed.endReason, undefined);
  const loop = (async () => {
    for await (const ev of closed) assert.fail(`no event expected, got one at ${ev.kv.modRevision}`);
    return closed.endReason;
  })();
  await own.close();
  assert.deepEqual(await loop, { kind: "client-closed" });

  const latest = await client.put(`${p}/d`, "2");
  await client.compact(latest.header.revision);
  const compacted = client.watch(`${p}/d`, { startRevision: latest.header.revision - 1n });
  await assert.rejects(compacted.next(), (e) => e instanceof EtcdError && e.code === "COMPACTED");
  const end = await compacted.ended;
  assert.ok(end.kind === "error", `ended ${end.kind}`);
  assert.ok(end.error instanceof EtcdError && end.error.code === "COMPACTED");
});
