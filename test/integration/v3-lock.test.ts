/**
 * Sessions and locks against a real 3-member cluster: Go's key layout and value, fair order by
 * create revision, tryLock, withLock, fencing revisions, abort while waiting leaving no key,
 * unlock after a loss, and interop with `etcdctl lock` (3.4 and 3.5) in both directions.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { EtcdError, EtcdV3Client } from "../../src/index.js";
import { startCluster, type Cluster } from "../harness/index.js";
import { ETCDCTLS, Etcdctl, aborted, within } from "./concurrency-kit.js";
import { rejectsWith } from "./util.js";

let cluster: Cluster;
let etcd: EtcdV3Client;
let other: EtcdV3Client;
before(async () => {
  cluster = await startCluster({ size: 3, name: "v3lock" });
  etcd = new EtcdV3Client({ endpoints: cluster.endpoints() });
  other = new EtcdV3Client({ endpoints: [...cluster.endpoints()].reverse() });
});
after(async () => {
  await etcd.close();
  await other.close();
  await cluster.stop();
});

/** The keys under a lock's prefix, oldest first (create-revision order, the queue's order). */
async function keysUnder(name: string): Promise<string[]> {
  const reply = await etcd.get(`${name}/`, { prefix: true, sortTarget: "create", sortOrder: "ascend" });
  return reply.kvs.map((kv) => kv.key.toString());
}

describe("session", () => {
  it("keeps its lease alive, and close() revokes it and aborts the signal with SESSION_CLOSED", async () => {
    const session = await etcd.session({ ttl: 2 });
    assert.equal(typeof session.lease, "bigint");
    assert.equal(session.ttl, 2);
    await new Promise((r) => setTimeout(r, 3_000));
    assert.equal(session.signal.aborted, false, "a kept-alive lease outlives its TTL");
    assert.ok((await etcd.lease.timeToLive(session.lease)).ttl > 0);
    await session.close();
    assert.equal(session.signal.aborted, true);
    assert.equal((session.signal.reason as EtcdError).code, "SESSION_CLOSED");
    assert.equal((await etcd.lease.timeToLive(session.lease)).ttl, -1, "close() revokes");
    await session.close();
  });

  it("is disposed by await using", async () => {
    let lease: bigint;
    {
      await using session = await etcd.session({ ttl: 5 });
      lease = session.lease;
    }
    assert.equal((await etcd.lease.timeToLive(lease)).ttl, -1);
  });

  it("aborts with LEASE_LOST at once when another client revokes the lease", async () => {
    const session = await etcd.session({ ttl: 30 });
    const revokedAt = performance.now();
    await other.lease.revoke(session.lease);
    await aborted(session.signal);
    assert.equal((session.signal.reason as EtcdError).code, "LEASE_LOST");
    // Renewals go out every TTL/3 = 10 s; the loss is known at the next one at the latest.
    assert.ok(performance.now() - revokedAt < 12_000);
  });

  it("refuses a bad TTL", async () => {
    await rejectsWith(etcd.session({ ttl: 0 }), "INVALID_ARGUMENT");
  });
});

describe("mutex", () => {
  it("uses Go's key (<name>/<lease hex>), value \"\" and the create revision as fencing token", async () => {
    const name = cluster.prefix("layout");
    await using session = await etcd.session({ ttl: 10 });
    const lock = await etcd.mutex(name, { session }).lock();
    assert.equal(lock.key, `${name}/${session.lease.toString(16)}`);
    const kv = (await etcd.get(lock.key)).kvs[0];
    assert.ok(kv !== undefined);
    assert.equal(kv.value.length, 0);
    assert.equal(kv.lease, session.lease);
    assert.equal(lock.revision, kv.createRevision);
    assert.equal(lock.signal.aborted, false);
    await lock.unlock();
    assert.deepEqual(await keysUnder(name), []);
    assert.equal((lock.signal.reason as EtcdError).code, "RELEASED");
    assert.equal(session.live, true, "a given session outlives the lock");
  });

  it("hands the lock over in create-revision order, one holder at a time", async () => {
    const name = cluster.prefix("fair");
    const first = await etcd.mutex(name, { ttl: 10 }).lock();
    const order: number[] = [];
    const waiters: Promise<void>[] = [];
    for (let i = 0; i < 3; i++) {
      const client = i % 2 === 0 ? etcd : other;
      waiters.push(
        client
          .mutex(name, { ttl: 10 })
          .lock()
          .then(async (lock) => {
            order.push(i);
            const holders = await keysUnder(name);
            assert.equal(holders[0], lock.key, "the holder's key is the first created");
            await new Promise((r) => setTimeout(r, 100));
            await lock.unlock();
          }),
      );
      // Each waiter's key exists before the next one starts, so the order is 0, 1, 2.
      for (let t = 0; (await keysUnder(name)).length < i + 2 && t < 100; t++) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(await within(Promise.race(waiters), 500), "pending", "nobody gets a held lock");
    await first.unlock();
    await Promise.all(waiters);
    assert.deepEqual(order, [0, 1, 2]);
    assert.deepEqual(await keysUnder(name), []);
  });

  it("gives growing revisions to successive holders (fencing tokens)", async () => {
    const name = cluster.prefix("fence");
    const a = await etcd.mutex(name).lock();
    await a.unlock();
    await etcd.put(`${name}-other`, "x");
    const b = await etcd.mutex(name).lock();
    assert.ok(b.revision > a.revision);
    await b.unlock();
  });

  it("tryLock takes a free lock and returns undefined (leaving no key) when held", async () => {
    const name = cluster.prefix("try");
    const held = await etcd.mutex(name, { ttl: 10 }).tryLock();
    assert.ok(held !== undefined);
    await using session = await other.session({ ttl: 10 });
    assert.equal(await other.mutex(name, { session }).tryLock(), undefined);
    assert.deepEqual(await keysUnder(name), [held.key]);
    await held.unlock();
    const now = await other.mutex(name, { session }).tryLock();
    assert.ok(now !== undefined);
    await now.unlock();
  });

  it("withLock runs the function holding the lock and unlocks after it, also when it throws", async () => {
    const name = cluster.prefix("with");
    const seen = await etcd.withLock(name, async (lock) => {
      assert.deepEqual(await keysUnder(name), [lock.key]);
      return lock.key;
    }, { ttl: 5 });
    assert.ok(seen.startsWith(`${name}/`));
    assert.deepEqual(await keysUnder(name), []);
    await assert.rejects(etcd.withLock(name, () => Promise.reject(new Error("boom"))), /boom/);
    assert.deepEqual(await keysUnder(name), []);
  });

  it("an abort while waiting leaves no key behind (own session and given session)", async () => {
    const name = cluster.prefix("abort");
    const holder = await etcd.mutex(name, { ttl: 10 }).lock();
    const own = new AbortController();
    const waiting = other.mutex(name, { ttl: 10 }).lock({ signal: own.signal });
    await using session = await other.session({ ttl: 10 });
    const given = new AbortController();
    const waitingGiven = other.mutex(name, { session }).lock({ signal: given.signal });
    for (let t = 0; (await keysUnder(name)).length < 3 && t < 100; t++) await new Promise((r) => setTimeout(r, 50));
    assert.equal((await keysUnder(name)).length, 3);
    const ended = Promise.all([assert.rejects(waiting, /stop 1/), assert.rejects(waitingGiven, /stop 2/)]);
    own.abort(new Error("stop 1"));
    given.abort(new Error("stop 2"));
    await ended;
    assert.deepEqual(await keysUnder(name), [holder.key]);
    assert.equal(session.live, true);
    await holder.unlock();
  });

  it("a lock whose session is revoked by another client is lost: signal LOCK_LOST/LEASE_LOST, unlock rejects and deletes nothing of the next holder", async () => {
    const name = cluster.prefix("lost");
    await using session = await etcd.session({ ttl: 30 });
    const lock = await etcd.mutex(name, { session }).lock();
    const next = other.mutex(name, { ttl: 10 }).lock();
    for (let t = 0; (await keysUnder(name)).length < 2 && t < 100; t++) await new Promise((r) => setTimeout(r, 50));
    await other.lease.revoke(session.lease);
    const taken = await next;
    await aborted(lock.signal);
    assert.ok(["LOCK_LOST", "LEASE_LOST"].includes((lock.signal.reason as EtcdError).code));
    const fenced = await etcd.txn({
      compare: [{ key: lock.key, target: "create", result: "==", value: lock.revision }],
      success: [{ put: { key: `${name}-data`, value: "late write" } }],
    });
    assert.equal(fenced.succeeded, false, "a write fenced by the lost lock's revision is refused");
    await rejectsWith(lock.unlock(), "LOCK_LOST");
    assert.deepEqual(await keysUnder(name), [taken.key], "the next holder's key stays");
    await taken.unlock();
  });

  it("5 clients x 4 acquisitions: held intervals never overlap and a fenced counter counts every increment", async () => {
    const name = cluster.prefix("contend");
    const counter = `${name}-counter`;
    await etcd.put(counter, "0");
    const clients = [etcd, other, etcd, other, etcd];
    const intervals: { start: number; end: number }[] = [];
    await Promise.all(
      clients.map(async (client, w) => {
        for (let round = 0; round < 4; round++) {
          const lock = await client.mutex(name, { ttl: 5 }).lock();
          const start = performance.now();
          const value = Number((await client.get(counter)).kvs[0]?.value.toString());
          await new Promise((r) => setTimeout(r, (w * 7 + round * 3) % 20));
          const write = await client.txn({
            compare: [{ key: lock.key, target: "create", result: "==", value: lock.revision }],
            success: [{ put: { key: counter, value: String(value + 1) } }],
          });
          assert.equal(write.succeeded, true);
          intervals.push({ start, end: performance.now() });
          await lock.unlock();
        }
      }),
    );
    intervals.sort((a, b) => a.start - b.start);
    for (let i = 1; i < intervals.length; i++) {
      const [prev, cur] = [intervals[i - 1], intervals[i]];
      assert.ok(prev !== undefined && cur !== undefined && cur.start >= prev.end, `interval ${i} starts before ${i - 1} ends`);
    }
    assert.equal((await etcd.get(counter)).kvs[0]?.value.toString(), "20");
    assert.deepEqual(await keysUnder(name), []);
  });

  it("txn's idempotent option must be a boolean", async () => {
    await rejectsWith(etcd.txn({}, { idempotent: "yes" as unknown as boolean }), "INVALID_ARGUMENT");
    const r = await etcd.txn({ success: [{ put: { key: cluster.prefix("idem"), value: "x" } }] }, { idempotent: true });
    assert.equal(r.succeeded, true);
  });

  it("a given session that is already lost is refused", async () => {
    const session = await etcd.session({ ttl: 5 });
    await session.close();
    await rejectsWith(etcd.mutex(cluster.prefix("closed"), { session }).lock(), "SESSION_CLOSED");
  });
});

for (const { label, path } of ETCDCTLS) {
  describe(`etcdctl ${label} lock interop`, () => {
    it("etcdctl holds: ours waits and gets the lock after etcdctl exits", async () => {
      const name = cluster.prefix(`ctl-holds-${label}`);
      const ctl = new Etcdctl(path, cluster.endpoints(), ["lock", name]);
      try {
        const key = await ctl.line((l) => l.startsWith(`${name}/`));
        assert.match(key, /^.+\/[0-9a-f]+$/, "etcdctl's key is <name>/<lease hex>");
        const ours = etcd.mutex(name, { ttl: 5 }).lock();
        assert.equal(await within(ours, 1_000), "pending");
        assert.equal(await ctl.interrupt(), 0);
        const lock = await ours;
        assert.deepEqual(await keysUnder(name), [lock.key]);
        await lock.unlock();
      } finally {
        ctl.kill();
      }
    });

    it("ours holds: etcdctl lock waits and gets it after unlock", async () => {
      const name = cluster.prefix(`ours-holds-${label}`);
      const lock = await etcd.mutex(name, { ttl: 5 }).lock();
      const ctl = new Etcdctl(path, cluster.endpoints(), ["lock", name]);
      try {
        for (let t = 0; (await keysUnder(name)).length < 2 && t < 200; t++) await new Promise((r) => setTimeout(r, 50));
        const keys = await keysUnder(name);
        assert.equal(keys.length, 2, "etcdctl queued behind us");
        await new Promise((r) => setTimeout(r, 500));
        assert.deepEqual(ctl.lines, [], "etcdctl does not print before it holds the lock");
        await lock.unlock();
        const key = await ctl.line((l) => l.startsWith(`${name}/`));
        assert.equal(key, keys[1]);
        assert.equal(await ctl.interrupt(), 0);
        assert.deepEqual(await keysUnder(name), []);
      } finally {
        ctl.kill();
      }
    });
  });
}
