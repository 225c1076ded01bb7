/**
 * Slow watch consumers against real etcd (issue 17): a watch nobody reads is paused past its
 * buffer limit instead of growing without bound, while another watch on the same client keeps
 * up; read afterwards, it yields every event once, in order. Memory is measured in this process
 * after a full garbage collection (gc is exposed at run time if the file was started without
 * --expose-gc).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { EtcdError, EtcdV3Client, type EngineEvent, type V3WatchEvent } from "../../src/index.js";
import { startCluster, type Cluster } from "../harness/index.js";

setFlagsFromString("--expose-gc");
const gc = (globalThis.gc ?? runInNewContext("gc")) as () => void;

let cluster: Cluster;
before(async () => {
  cluster = await startCluster({ size: 1 });
});
after(async () => {
  await cluster.stop();
});

const MiB = 1024 * 1024;

/** Heap plus array buffers after a full collection: what the process holds, not what it may free. */
function retained(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const valueOf = (i: number): string => `${i}:`.padEnd(4096, "v");

test("a watch not read while 20,000 puts of 4 KiB flow stays bounded, another keeps up, and it later yields every event once, in order", async (t) => {
  const events: EngineEvent[] = [];
  const client = new EtcdV3Client({ endpoints: cluster.endpoints(), onEvent: (e) => events.push(e) });
  try {
    const p = cluster.prefix("slow");
    const n = 20_000;
    const slow = client.watch(`${p}/`, { prefix: true });
    const fast = client.watch(`${p}/`, { prefix: true });
    const from = await slow.created;
    await fast.created;
    const baseline = retained();

    // The fast reader notes when each revision reaches it.
    const seenAt = new Map<bigint, number>();
    const reading = (async () => {
      for await (const ev of fast) {
        seenAt.set(ev.kv.modRevision, performance.now());
        if (seenAt.size === n) break;
      }
    })();

    const ackedAt = new Map<bigint, number>();
    const revisions: bigint[] = new Array<bigint>(n);
    const samples: number[] = [];
    let next = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 32 }, async () => {
      for (let i = next++; i < n; i = next++) {
        const r = await client.put(`${p}/k${i % 500}`, valueOf(i));
        revisions[i] = r.header.revision;
        ackedAt.set(r.header.revision, performance.now());
        if (i % 2500 === 2499) samples.push(retained() - baseline);
      }
    }));
    const putMs = performance.now() - t0;
    samples.push(retained() - baseline);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`the fast watch saw ${seenAt.size} of ${n} events 20 s after the last put`));
      }, 20_000);
    });
    await Promise.race([reading, late]).finally(() => {
      clearTimeout(timer);
    });

    const growth = Math.max(...samples);
    assert.ok(growth < 48 * MiB, `heap + array buffers grew by ${(growth / MiB).toFixed(1)} MiB (samples ${samples.map((s) => (s / MiB).toFixed(1)).join(", ")})`);
    assert.ok(slow.overflows > 0, "the unread watch never overflowed its buffer");
    assert.ok(slow.buffered <= 1001, `the unread watch holds ${slow.buffered} events`);
    const notices = events.filter((e) => e.type === "slow-consumer");
    assert.ok(notices.length > 0, "no slow-consumer event through onEvent");

    // The fast watch kept up: every put reached it, each within a bound after its reply.
    const lags = [...ackedAt].map(([rev, at]) => (seenAt.get(rev) ?? Infinity) - at).sort((a, b) => a - b);
    const p99 = lags[Math.floor(lags.length * 0.99)] ?? Infinity;
    const worst = lags.at(-1) ?? Infinity;
    assert.ok(worst < 5000, `a put reached the fast watch ${worst.toFixed(0)} ms after its reply (p99 ${p99.toFixed(0)} ms)`);

    // Read afterwards, the slow watch yields every event exactly once, in revision order.
    const expected = [...revisions].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    assert.ok((expected[0] ?? 0n) >= from);
    // Checked as they come and not kept, so that the figures show what the client holds.
    const byRevision = new Map(revisions.map((rev, i) => [rev, i]));
    const readSamples: number[] = [];
    let j = 0;
    const t1 = performance.now();
    for await (const ev of slow) {
      assert.equal(ev.kv.modRevision, expected[j], `event ${j} has revision ${ev.kv.modRevision}, expected ${expected[j]}`);
      assert.equal(ev.kv.value.toString(), valueOf(byRevision.get(ev.kv.modRevision) ?? -1));
      j++;
      if (j % 5000 === 0) readSamples.push(retained() - baseline);
      if (j === n) break;
    }
    const readMs = performance.now() - t1;
    assert.equal(j, n);
    const readPeak = Math.max(...readSamples);
    assert.ok(readPeak < 48 * MiB, `heap + array buffers grew by ${(readPeak / MiB).toFixed(1)} MiB while the slow watch was read back`);
    t.diagnostic(
      `${n} puts of 4 KiB in ${putMs.toFixed(0)} ms; retained growth while unread: peak ${(growth / MiB).toFixed(1)} MiB ` +
        `(samples ${samples.map((s) => (s / MiB).toFixed(1)).join(", ")}); while reading: ${readSamples.map((s) => (s / MiB).toFixed(1)).join(", ")} MiB; ` +
        `fast watch lag p50 ${(lags[Math.floor(lags.length / 2)] ?? 0).toFixed(0)} ms, p99 ${p99.toFixed(0)} ms, max ${worst.toFixed(0)} ms; ` +
        `slow watch paused ${slow.overflows} times (${notices.length} notices), read back in ${readMs.toFixed(0)} ms`,
    );
  } finally {
    await client.close();
  }
});

test("a watch paused in the middle of one revision resumes inside it: a 100-put transaction with a 7-event buffer yields each event once", async () => {
  const client = new EtcdV3Client({ endpoints: cluster.endpoints() });
  try {
    const p = cluster.prefix("midrev");
    const slow = client.watch(`${p}/`, { prefix: true, maxBufferedEvents: 7 });
    await slow.created;
    const ops = Array.from({ length: 100 }, (_, i) => ({ put: { key: `${p}/k${String(i).padStart(3, "0")}`, value: String(i) } }));
    const txn = await client.txn({ success: ops });
    const after = await client.put(`${p}/last`, "end");
    // Let the whole revision arrive (and overflow) before anything is read.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(slow.overflows > 0, "the watch never overflowed");
    const got: V3WatchEvent[] = [];
    for await (const ev of slow) {
      got.push(ev);
      if (got.length === 101) break;
    }
    assert.deepEqual(got.slice(0, 100).map((e) => e.kv.value.toString()), ops.map((_, i) => String(i)));
    assert.ok(got.slice(0, 100).every((e) => e.kv.modRevision === txn.header.revision));
    assert.equal(got[100]?.kv.modRevision, after.header.revision);
    assert.ok(slow.overflows >= 10, `only ${slow.overflows} overflows for 100 events through a 7-event buffer`);
  } finally {
    await client.close();
  }
});

test("a catch-up reply that etcd sends in fragments is bounded too: paused between fragments, the watch yields each event once", async () => {
  const client = new EtcdV3Client({ endpoints: cluster.endpoints() });
  try {
    const p = cluster.prefix("fragments");
    const big = "f".repeat(400 * 1024);
    const start = (await client.put(`${p}/seed`, "0")).header.revision + 1n;
    for (let i = 0; i < 8; i++) await client.put(`${p}/k${i}`, `${i}${big}`);
    // The catch-up reply (3.2 MB) exceeds etcd's 1.5 MiB request limit, so it comes in fragments.
    const slow = client.watch(`${p}/`, { prefix: true, startRevision: start, maxBufferedBytes: 900 * 1024 });
    await slow.created;
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(slow.overflows > 0, "the watch never overflowed");
    assert.ok(slow.buffered <= 3, `${slow.buffered} events of 400 KiB buffered under a 900 KiB limit`);
    const got: string[] = [];
    for await (const ev of slow) {
      got.push(ev.kv.key.toString().slice(p.length) + ":" + ev.kv.value.subarray(0, 1).toString());
      assert.equal(ev.kv.value.length, big.length + 1);
      if (got.length === 8) break;
    }
    assert.deepEqual(got, Array.from({ length: 8 }, (_, i) => `/k${i}:${i}`));
  } finally {
    await client.close();
  }
});

test("a paused watch whose resume revision was compacted meanwhile yields what it holds, then COMPACTED", async () => {
  const client = new EtcdV3Client({ endpoints: cluster.endpoints() });
  try {
    const p = cluster.prefix("compact");
    const slow = client.watch(`${p}/k`, { maxBufferedEvents: 5 });
    await slow.created;
    let last = 0n;
    for (let i = 0; i < 40; i++) last = (await client.put(`${p}/k`, String(i))).header.revision;
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(slow.overflows > 0);
    await client.compact(last);
    const got: string[] = [];
    const error = await (async () => {
      try {
        for await (const ev of slow) got.push(ev.kv.value.toString());
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(error instanceof EtcdError && error.code === "COMPACTED", `ended with ${String(error)}`);
    assert.equal(error.compactRevision, last);
    assert.ok(got.length >= 6 && got.length < 40, `${got.length} events before COMPACTED`);
    assert.deepEqual(got, got.map((_, i) => String(i)));
    assert.deepEqual(slow.endReason, { kind: "error", error });
  } finally {
    await client.close();
  }
});

test("buffer limits are checked: options of the client and of a watch", () => {
  assert.throws(() => new EtcdV3Client({ endpoints: ["http://127.0.0.1:1"], watchMaxBufferedEvents: 0 }), (e) => e instanceof EtcdError && e.code === "INVALID_ARGUMENT");
  const client = new EtcdV3Client({ endpoints: ["http://127.0.0.1:1"] });
  assert.throws(() => client.watch("k", { maxBufferedBytes: -1 }), (e) => e instanceof EtcdError && e.code === "INVALID_ARGUMENT");
  assert.throws(() => client.watch("k", { maxBufferedEvents: 1.5 }), (e) => e instanceof EtcdError && e.code === "INVALID_ARGUMENT");
  void client.close();
});
