/**
 * The session's loss deadline, with a stand-in client whose keep-alive handle the test drives:
 * the signal aborts at the handle's certain deadline less the margin and not before, waits again
 * when an acknowledgement moves the deadline, aborts at once when the handle reports a loss,
 * and close() revokes with SESSION_CLOSED.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { EtcdError, Session } from "../../src/index.js";
import type { KvClient } from "../../src/v3/concurrency/kv.js";
import type { LeaseKeepAlive } from "../../src/v3/lease.js";

interface Fake {
  client: KvClient;
  handle: { expiresAt: number; closed: boolean; lose: (error: EtcdError) => void };
  revoked: bigint[];
}

function fake(ttl: number): Fake {
  let lose!: (error: EtcdError) => void;
  const handle = {
    id: 7n,
    ttl,
    expiresAt: performance.now() + ttl * 1000,
    closed: false,
    lost: new Promise<EtcdError>((resolve) => (lose = resolve)),
    close(): void {
      handle.closed = true;
    },
    [Symbol.dispose](): void {
      handle.closed = true;
    },
  };
  const revoked: bigint[] = [];
  const lease = {
    grant: (seconds: number) => Promise.resolve({ id: 7n, ttl: seconds, header: { clusterId: 0n, memberId: 0n, revision: 1n, raftTerm: 1n } }),
    keepAlive: (): LeaseKeepAlive => handle,
    revoke: (id: bigint) => {
      revoked.push(id);
      return Promise.resolve({ header: { clusterId: 0n, memberId: 0n, revision: 2n, raftTerm: 1n } });
    },
  };
  const client = { lease } as unknown as KvClient;
  return { client, handle: Object.assign(handle, { lose: (e: EtcdError) => { lose(e); } }), revoked };
}

function abortedAt(signal: AbortSignal): Promise<number> {
  return new Promise((resolve) => { signal.addEventListener("abort", () => {
    resolve(performance.now());
  }, { once: true }); });
}

// The session's timer is unref'd (the keep-alive stream keeps a real client's process up); this
// interval stands in for that stream so the process waits for the timers under test.
let keepUp: NodeJS.Timeout;
before(() => {
  keepUp = setInterval(() => undefined, 1_000);
});
after(() => {
  clearInterval(keepUp);
});

describe("session deadline", () => {
  it("aborts with LEASE_LOST at the certain deadline less the margin, not before", async () => {
    const f = fake(1);
    const session = await Session.open(f.client, { ttl: 1, margin: 200 });
    const limit = f.handle.expiresAt - 200;
    const at = await abortedAt(session.signal);
    assert.ok(at >= limit, `aborted ${limit - at} ms early`);
    assert.ok(at - limit < 300, `aborted ${at - limit} ms late`);
    assert.equal((session.signal.reason as EtcdError).code, "LEASE_LOST");
    assert.equal(f.handle.closed, true, "the keep-alive stops");
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(f.revoked, [7n], "the lease is revoked in the background");
  });

  it("waits again when an acknowledgement moves the deadline", async () => {
    const f = fake(1);
    const session = await Session.open(f.client, { ttl: 1, margin: 200 });
    await new Promise((r) => setTimeout(r, 500));
    f.handle.expiresAt = performance.now() + 1000;
    const limit = f.handle.expiresAt - 200;
    const at = await abortedAt(session.signal);
    assert.ok(at >= limit, "not before the moved deadline");
  });

  it("aborts at once when the keep-alive reports the lease lost", async () => {
    const f = fake(30);
    const session = await Session.open(f.client, { ttl: 30 });
    const at = abortedAt(session.signal);
    const lostAt = performance.now();
    f.handle.lose(new EtcdError("LEASE_LOST", "etcd says lease 7 is gone"));
    assert.ok((await at) - lostAt < 50);
    assert.equal((session.signal.reason as EtcdError).code, "LEASE_LOST");
  });

  it("throwIfLost notices a passed deadline before the timer does", async () => {
    const f = fake(30);
    const session = await Session.open(f.client, { ttl: 30 });
    session.throwIfLost();
    f.handle.expiresAt = performance.now() + 500;
    assert.throws(() => {
      session.throwIfLost();
    }, (e: unknown) => e instanceof EtcdError && e.code === "LEASE_LOST");
    assert.equal(session.live, false);
  });

  it("close() aborts with SESSION_CLOSED and revokes once", async () => {
    const f = fake(30);
    const session = await Session.open(f.client, { ttl: 30 });
    await Promise.all([session.close(), session.close()]);
    assert.equal((session.signal.reason as EtcdError).code, "SESSION_CLOSED");
    assert.deepEqual(f.revoked, [7n]);
  });

  it("refuses a bad TTL or margin before granting anything", async () => {
    const f = fake(30);
    await assert.rejects(Session.open(f.client, { ttl: 1.5 }), (e: unknown) => e instanceof EtcdError && e.code === "INVALID_ARGUMENT");
    await assert.rejects(Session.open(f.client, { margin: -1 }), (e: unknown) => e instanceof EtcdError && e.code === "INVALID_ARGUMENT");
  });
});
