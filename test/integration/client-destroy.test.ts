/**
 * `destroy(reason?)` beside the graceful `close()`, on both clients against real etcd: calls
 * stuck on a SIGSTOPped member (which would otherwise wait out their deadline) and a v2 watch end
 * at once with the reason, or CLIENT_DESTROYED without one; later calls fail CLIENT_CLOSED. A
 * v3 watch loop throws the same reason (so it can tell destroy from close(), which ends it quietly).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { EtcdError, EtcdV2Client, EtcdV3Client, type V3Watch } from "../../src/index.js";
import { startCluster, type Cluster } from "../harness/index.js";

const isCode = (code: string) => (e: unknown) => e instanceof EtcdError && e.code === code;

describe("destroy() ends every call and stream at once", () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ size: 1, name: "destroy" });
  });
  after(async () => {
    if (cluster.member(0).paused) await cluster.member(0).resume();
    await cluster.stop();
  });

  it("v2: calls on a hung member and a watch reject with CLIENT_DESTROYED within a second, not at their deadline", async () => {
    const client = new EtcdV2Client({ endpoints: cluster.endpoints(), requestTimeout: 20_000 });
    const prefix = cluster.prefix("v2");
    await client.set(`${prefix}/k`, "v");
    // The rejections are awaited from the start: they come as soon as destroy() runs.
    const watch = assert.rejects(client.watchOnce(`${prefix}/w`), isCode("CLIENT_DESTROYED"));
    await new Promise((resolve) => setTimeout(resolve, 200));
    await cluster.member(0).pause();
    try {
      const calls = [client.get(`${prefix}/k`), client.set(`${prefix}/k`, "w"), client.get(`${prefix}/k`, { quorum: false })].map((p) => assert.rejects(p, isCode("CLIENT_DESTROYED")));
      await new Promise((resolve) => setTimeout(resolve, 300));
      const started = performance.now();
      await client.destroy();
      await Promise.all([...calls, watch]);
      const ms = performance.now() - started;
      assert.ok(ms < 1_000, `ended in ${ms.toFixed(0)} ms, not at the 20 s deadline`);
      await assert.rejects(client.get(`${prefix}/k`), isCode("CLIENT_CLOSED"));
    } finally {
      await cluster.member(0).resume();
    }
  });

  it("v2: destroy(reason) rejects with the caller's reason unchanged", async () => {
    const client = new EtcdV2Client({ endpoints: cluster.endpoints() });
    const reason = new Error("shutting down");
    const watch = assert.rejects(client.watchOnce(`${cluster.prefix("v2r")}/w`), (e: unknown) => e === reason);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await client.destroy(reason);
    await watch;
  });

  it("v3: calls on a hung member reject with the reason at once; later calls fail CLIENT_CLOSED", async () => {
    const client = new EtcdV3Client({ endpoints: cluster.endpoints(), requestTimeout: 20_000 });
    const prefix = cluster.prefix("v3");
    await client.put(`${prefix}/k`, "v");
    await cluster.member(0).pause();
    try {
      const reason = new EtcdError("CLIENT_DESTROYED", "test over");
      const calls = [client.get(`${prefix}/k`), client.put(`${prefix}/k`, "w"), client.get(`${prefix}/k`, { serializable: true })].map((p) => assert.rejects(p, (e: unknown) => e === reason));
      await new Promise((resolve) => setTimeout(resolve, 300));
      const started = performance.now();
      await client.destroy(reason);
      await Promise.all(calls);
      const ms = performance.now() - started;
      assert.ok(ms < 1_000, `ended in ${ms.toFixed(0)} ms, not at the 20 s deadline`);
      await assert.rejects(client.get(`${prefix}/k`), isCode("CLIENT_CLOSED"));
    } finally {
      await cluster.member(0).resume();
    }
  });
  /** Reads `watch` in a `for await` loop until it ends: how the loop ended, and how many events it saw. */
  const loop = async (watch: V3Watch): Promise<{ events: number; threw?: unknown }> => {
    let events = 0;
    try {
      for await (const event of watch) if (event.kv.key.length > 0) events++;
      return { events };
    } catch (error) {
      return { events, threw: error };
    }
  };

  it("v3: a watch loop throws CLIENT_DESTROYED on destroy(), even with events buffered; close() still ends one quietly", async () => {
    const client = new EtcdV3Client({ endpoints: cluster.endpoints() });
    const prefix = cluster.prefix("v3w");
    const reading = client.watch(`${prefix}/a`);
    const buffered = client.watch(`${prefix}/b`);
    await Promise.all([reading.created, buffered.created]);
    const ended = loop(reading);
    await client.put(`${prefix}/a`, "1");
    await client.put(`${prefix}/b`, "1");
    await client.put(`${prefix}/b`, "2");
    const started = performance.now();
    while (buffered.buffered < 2 && performance.now() - started < 10_000) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(buffered.buffered, 2);
    await client.destroy();
    const outcome = await ended;
    assert.ok(isCode("CLIENT_DESTROYED")(outcome.threw), `the loop ended with ${String(outcome.threw)}`);
    assert.equal(outcome.events, 1);
    // The unread watch drops what it held: destroy ends everything at once.
    await assert.rejects(buffered.next(), isCode("CLIENT_DESTROYED"));
    assert.deepEqual((await buffered.next()).done, true, "then it is done");
    assert.equal(reading.endReason?.kind, "destroyed");
    assert.equal((await buffered.ended).kind, "destroyed");

    const graceful = new EtcdV3Client({ endpoints: cluster.endpoints() });
    const quiet = graceful.watch(`${prefix}/c`);
    await quiet.created;
    const quietly = loop(quiet);
    await graceful.close();
    assert.deepEqual(await quietly, { events: 0 });
    assert.equal(quiet.endReason?.kind, "client-closed");
    await graceful.destroy(new Error("after close"));
    assert.equal(quiet.endReason.kind, "client-closed", "a later destroy() changes nothing");
  });

  it("v3: destroy(reason) makes a watch loop throw the reason unchanged, a watch not yet created too", async () => {
    const client = new EtcdV3Client({ endpoints: cluster.endpoints() });
    const prefix = cluster.prefix("v3wr");
    const watch = client.watch(`${prefix}/k`);
    await watch.created;
    const ended = loop(watch);
    const early = client.watch(`${prefix}/early`);
    const reason = { why: "not an Error, still rethrown as given" };
    await client.destroy(reason);
    assert.equal((await ended).threw, reason);
    await assert.rejects(early.created, (e: unknown) => e === reason);
    await assert.rejects(early.next(), (e: unknown) => e === reason);
  });

  it("v3: destroy() resolves every keep-alive's lost with CLIENT_DESTROYED and aborts sessions and their locks at once; close() leaves lost pending", async () => {
    const client = new EtcdV3Client({ endpoints: cluster.endpoints() });
    const { id } = await client.lease.grant(30);
    const ka = client.lease.keepAlive(id);
    const session = await client.session({ ttl: 30 });
    const lock = await client.mutex(cluster.prefix("v3dl")).lock();
    const reason = new Error("shutting down");
    const destroyedAt = performance.now();
    await client.destroy(reason);
    const lost = await Promise.race([ka.lost, new Promise<undefined>((r) => setTimeout(() => { r(undefined); }, 5_000))]);
    assert.ok(lost !== undefined, "lost still pending 5 s after destroy()");
    assert.equal(lost.code, "CLIENT_DESTROYED");
    assert.equal(lost.cause, reason);
    for (const signal of [session.signal, lock.signal]) {
      assert.ok(signal.aborted, "aborted by destroy(), not 30 s later by the lease deadline");
      assert.equal((signal.reason as EtcdError).code, "CLIENT_DESTROYED");
    }
    assert.ok(performance.now() - destroyedAt < 5_000);

    const graceful = new EtcdV3Client({ endpoints: cluster.endpoints() });
    const kept = graceful.lease.keepAlive((await graceful.lease.grant(30)).id);
    await graceful.close();
    const settled = await Promise.race([kept.lost.then(() => "resolved"), new Promise((r) => setTimeout(() => { r("pending"); }, 300))]);
    assert.equal(settled, "pending", "close() is stopping on purpose, not a loss");
  });
});
