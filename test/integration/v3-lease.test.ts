/**
 * v3 leases against a real 3-member cluster: grant (with and without an ID), revoke, time-to-live
 * (with keys), list, keep-alive once, and keep-alive on the client's one shared stream: a short
 * lease kept alive for several TTLs, loss reported promptly on revoke and within 1×TTL when
 * another client revokes it, close() neither revoking nor reporting loss, and an auth cluster
 * whose tokens expire while a lease is kept alive.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { EtcdError, EtcdV3Client } from "../../src/index.js";
import { GrpcTransport } from "../../src/transport/grpc.js";
import { METHODS } from "../../src/v3/methods.js";
import { request, sleep, startCluster, type Cluster } from "../harness/index.js";
import { rejectsWith } from "./util.js";

let cluster: Cluster;
let client: EtcdV3Client;
before(async () => {
  cluster = await startCluster({ size: 3, name: "v3lease" });
  client = new EtcdV3Client({ endpoints: cluster.endpoints() });
});
after(async () => {
  await client.close();
  await cluster.stop();
});

/** Resolves with what `p` resolved to, or "pending" if it had not within `ms`. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | "pending"> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"pending">((resolve) => {
    timer = setTimeout(() => {
      resolve("pending");
    }, ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** How many LeaseKeepAlive streams the members have open (started minus finished, from etcd's gRPC metrics). */
async function openKeepAliveStreams(): Promise<number> {
  let total = 0;
  for (const url of cluster.endpoints()) {
    const body = (await request(`${url}/metrics`, { timeoutMs: 5_000 })).body;
    const count = (metric: string): number => {
      // One line per gRPC status code for the handled counter: sum them.
      const lines = body.split("\n").filter((l) => l.startsWith(`${metric}{`) && l.includes('grpc_method="LeaseKeepAlive"'));
      return lines.reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
    };
    total += count("grpc_server_started_total") - count("grpc_server_handled_total");
  }
  return total;
}

describe("lease calls", () => {
  it("grant, timeToLive with keys, list and revoke (which deletes the lease's keys)", async () => {
    const p = cluster.prefix("lease-basic");
    const granted = await client.lease.grant(30);
    assert.ok(granted.id > 0n);
    assert.equal(granted.ttl, 30);
    assert.ok(granted.header.revision > 0n && granted.header.memberId !== 0n);
    await client.put(`${p}/a`, "1", { lease: granted.id });
    await client.put(`${p}/b`, "2", { lease: granted.id });

    const ttl = await client.lease.timeToLive(granted.id, { keys: true });
    assert.equal(ttl.id, granted.id);
    assert.equal(ttl.grantedTtl, 30);
    assert.ok(ttl.ttl > 25 && ttl.ttl <= 30, `ttl ${ttl.ttl}`);
    assert.deepEqual(ttl.keys.map((k) => k.toString()).sort(), [`${p}/a`, `${p}/b`]);
    assert.deepEqual((await client.lease.timeToLive(granted.id)).keys, [], "keys only when asked for");

    assert.ok((await client.lease.list()).leases.includes(granted.id));

    const revoked = await client.lease.revoke(granted.id);
    assert.ok(revoked.header.revision > ttl.header.revision, "a revoke that deletes keys makes a revision");
    const after = await client.lease.timeToLive(granted.id, { keys: true });
    assert.equal(after.ttl, -1);
    assert.deepEqual(after.keys, []);
    assert.equal((await client.get(p, { prefix: true })).kvs.length, 0, "the lease's keys are gone");
    assert.ok(!(await client.lease.list()).leases.includes(granted.id));
  });

  it("grant with a chosen ID; the same ID again is LEASE_EXISTS", async () => {
    const id = 0x7000_0000_0000_0000n + BigInt(Math.floor(Math.random() * 1e9));
    const granted = await client.lease.grant(10, { id });
    assert.equal(granted.id, id);
    await rejectsWith(client.lease.grant(10, { id }), "LEASE_EXISTS");
    assert.equal((await client.lease.timeToLive(id)).grantedTtl, 10);
    await client.lease.revoke(id);
  });

  it("revoke and keepAliveOnce of an unknown lease are LEASE_NOT_FOUND; timeToLive says -1", async () => {
    const id = 0x6000_0000_0000_0000n + BigInt(Math.floor(Math.random() * 1e9));
    await rejectsWith(client.lease.revoke(id), "LEASE_NOT_FOUND");
    await rejectsWith(client.lease.keepAliveOnce(id), "LEASE_NOT_FOUND");
    const ttl = await client.lease.timeToLive(id);
    assert.equal(ttl.ttl, -1);
    assert.equal(ttl.id, id);
  });

  it("keepAliveOnce renews the lease to its full TTL", async () => {
    const granted = await client.lease.grant(10);
    await sleep(2100);
    assert.ok((await client.lease.timeToLive(granted.id)).ttl <= 8);
    const renewed = await client.lease.keepAliveOnce(granted.id);
    assert.equal(renewed.id, granted.id);
    assert.equal(renewed.ttl, 10);
    assert.ok(renewed.header.revision > 0n);
    assert.ok((await client.lease.timeToLive(granted.id)).ttl >= 9);
    await client.lease.revoke(granted.id);
  });

  it("bad arguments are INVALID_ARGUMENT before anything is sent", async () => {
    for (const ttl of [0, -1, 1.5, Number.NaN, "5" as unknown as number]) await rejectsWith(client.lease.grant(ttl), "INVALID_ARGUMENT");
    await rejectsWith(client.lease.grant(5, { id: -1n }), "INVALID_ARGUMENT");
    await rejectsWith(client.lease.revoke(0n), "INVALID_ARGUMENT");
    await rejectsWith(client.lease.timeToLive(-5n), "INVALID_ARGUMENT");
    await rejectsWith(client.lease.timeToLive(1n, { keys: "yes" as unknown as boolean }), "INVALID_ARGUMENT");
    await rejectsWith(client.lease.list({ timeout: -1 }), "INVALID_ARGUMENT");
    assert.throws(() => client.lease.keepAlive(0n), (e: unknown) => e instanceof EtcdError && e.code === "INVALID_ARGUMENT");
    assert.throws(() => client.lease.keepAlive(2n ** 64n), (e: unknown) => e instanceof EtcdError && e.code === "INVALID_ARGUMENT");
  });

  it("a call's signal and timeout apply", async () => {
    const controller = new AbortController();
    const reason = new Error("mine");
    controller.abort(reason);
    await assert.rejects(client.lease.grant(5, { signal: controller.signal }), (e: unknown) => e === reason);
    await assert.rejects(client.lease.list({ signal: controller.signal }), (e: unknown) => e === reason);
  });
});

describe("keepAlive", () => {
  it("keeps a TTL-2 lease alive for more than 3×TTL, renewing every third of the TTL", async () => {
    const granted = await client.lease.grant(2);
    const ka = client.lease.keepAlive(granted.id);
    assert.equal(ka.id, granted.id);
    assert.equal(ka.ttl, 2, "the grant's TTL is known before the first renewal");
    const expiries = new Set<number>();
    const start = performance.now();
    while (performance.now() - start < 7_000) {
      expiries.add(ka.expiresAt);
      assert.ok(ka.expiresAt > performance.now(), "the deadline is always in the future while the lease is kept alive");
      await sleep(50);
    }
    assert.equal(await within(ka.lost, 0), "pending", "the lease was reported lost");
    const ttl = await client.lease.timeToLive(granted.id);
    assert.ok(ttl.ttl >= 1, `the lease has ${ttl.ttl} s left after 3.5×TTL`);
    // 7 s at one renewal per 667 ms is about 10; fewer than 7 would mean renewals are late.
    assert.ok(expiries.size >= 7, `only ${expiries.size} renewals in 7 s`);
    assert.equal(ka.ttl, 2);
    ka.close();
    await client.lease.revoke(granted.id);
  });

  it("revoke by this client resolves lost at once with LEASE_LOST", async () => {
    const granted = await client.lease.grant(30);
    const ka = client.lease.keepAlive(granted.id);
    await sleep(200);
    const t0 = performance.now();
    await client.lease.revoke(granted.id);
    const lost = await within(ka.lost, 200);
    assert.ok(lost instanceof EtcdError, "lost did not resolve within 200 ms of the revoke");
    assert.equal(lost.code, "LEASE_LOST");
    assert.match(lost.message, /revoked/);
    assert.ok(performance.now() - t0 < 1000);
  });

  it("a lease revoked by another client is reported lost within 1×TTL, with LEASE_NOT_FOUND as the cause", async () => {
    const other = new EtcdV3Client({ endpoints: cluster.endpoints() });
    try {
      const granted = await client.lease.grant(3);
      const ka = client.lease.keepAlive(granted.id);
      await sleep(1200);
      await other.lease.revoke(granted.id);
      const revokedAt = performance.now();
      const lost = await within(ka.lost, 6000);
      const ms = performance.now() - revokedAt;
      assert.ok(lost instanceof EtcdError, "never reported lost");
      assert.equal(lost.code, "LEASE_LOST");
      assert.ok(lost.cause instanceof EtcdError && lost.cause.code === "LEASE_NOT_FOUND", `cause: ${String(lost.cause)}`);
      assert.ok(ms <= 3000, `reported ${ms.toFixed(0)} ms after the revoke (TTL 3 s)`);
    } finally {
      await other.close();
    }
  });

  it("keepAlive of a lease that has already expired reports it lost at once", async () => {
    const granted = await client.lease.grant(1);
    await sleep(2600);
    const t0 = performance.now();
    const ka = client.lease.keepAlive(granted.id);
    const lost = await within(ka.lost, 2000);
    assert.ok(lost instanceof EtcdError && lost.code === "LEASE_LOST", "not reported lost");
    assert.ok(performance.now() - t0 < 1000);
  });

  it("close() stops renewing without revoking, and lost then never resolves; handles of one lease are independent", async () => {
    const granted = await client.lease.grant(2);
    const a = client.lease.keepAlive(granted.id);
    const b = client.lease.keepAlive(granted.id);
    await sleep(2500);
    a.close();
    a.close();
    await sleep(2500);
    assert.ok((await client.lease.timeToLive(granted.id)).ttl >= 1, "closing one handle stopped the other");
    b.close();
    assert.ok((await client.lease.timeToLive(granted.id)).ttl >= 0, "close() revoked the lease");
    await sleep(3500);
    assert.equal((await client.lease.timeToLive(granted.id)).ttl, -1, "the lease outlived its TTL after close()");
    assert.equal(await within(a.lost, 0), "pending");
    assert.equal(await within(b.lost, 0), "pending");
  });

  it("aborting the signal is close()", async () => {
    const granted = await client.lease.grant(2);
    const controller = new AbortController();
    const ka = client.lease.keepAlive(granted.id, { signal: controller.signal });
    await sleep(300);
    controller.abort();
    await sleep(3500);
    assert.equal((await client.lease.timeToLive(granted.id)).ttl, -1);
    assert.equal(await within(ka.lost, 0), "pending");
  });

  it("every lease of a client shares one stream, opened lazily and closed when no lease is kept alive", async () => {
    const c = new EtcdV3Client({ endpoints: cluster.endpoints() });
    try {
      const base = await openKeepAliveStreams();
      const leases = await Promise.all(Array.from({ length: 20 }, () => c.lease.grant(3)));
      assert.equal(await openKeepAliveStreams(), base, "a stream was opened before any keepAlive");
      const handles = leases.map((l) => c.lease.keepAlive(l.id));
      await sleep(4000);
      assert.equal(await openKeepAliveStreams(), base + 1, "20 kept leases should share one stream");
      for (const l of leases) assert.ok((await c.lease.timeToLive(l.id)).ttl >= 1);
      for (const h of handles) h.close();
      await sleep(300);
      assert.equal(await openKeepAliveStreams(), base, "the stream stayed open with no lease kept alive");
      // A lease kept alive again opens a new stream.
      const again = c.lease.keepAlive(leases[0]!.id);
      await sleep(500);
      assert.equal(await openKeepAliveStreams(), base + 1);
      again.close();
      for (const l of leases) await c.lease.revoke(l.id);
    } finally {
      await c.close();
    }
  });

  it("client close ends every keep-alive without reporting loss, and later keepAlive calls are CLIENT_CLOSED", async () => {
    const c = new EtcdV3Client({ endpoints: cluster.endpoints() });
    const granted = await c.lease.grant(5);
    const ka = c.lease.keepAlive(granted.id);
    await sleep(200);
    await c.close();
    assert.equal(await within(ka.lost, 100), "pending");
    assert.throws(() => c.lease.keepAlive(granted.id), (e: unknown) => e instanceof EtcdError && e.code === "CLIENT_CLOSED");
    assert.ok((await client.lease.timeToLive(granted.id)).ttl >= 3, "closing the client revoked the lease");
    await client.lease.revoke(granted.id);
  });
});

describe("keepAlive with auth", () => {
  const ROOT_PW = "l3ase:pw";
  let authCluster: Cluster;
  before(async () => {
    authCluster = await startCluster({ size: 3, v3Auth: true, rootPassword: ROOT_PW, extraArgs: ["--auth-token-ttl=1"], name: "v3leaseauth" });
  });
  after(async () => {
    await authCluster.stop();
  });

  it("a lease stays alive across token expiry; the stream carries the token", async () => {
    const streams: (string | undefined)[] = [];
    const original = Object.getOwnPropertyDescriptor(GrpcTransport.prototype, "stream")?.value as GrpcTransport["stream"];
    const c = new EtcdV3Client({ endpoints: authCluster.endpoints(), auth: { username: "root", password: ROOT_PW } });
    // Records the token of every keep-alive stream this client opens.
    GrpcTransport.prototype.stream = function (this: GrpcTransport, ...args: Parameters<GrpcTransport["stream"]>) {
      if (args[1] === METHODS.leaseKeepAlive) streams.push(args[2].metadata?.["token"]);
      return original.apply(this, args);
    };
    try {
      const granted = await c.lease.grant(2);
      const ka = c.lease.keepAlive(granted.id);
      // Nothing else is sent for 6 s: a 1 s simple token expires several times over meanwhile.
      await sleep(6000);
      assert.equal(await within(ka.lost, 0), "pending", "the lease was reported lost");
      assert.ok(streams.length >= 1 && streams.every((t) => typeof t === "string" && t.length > 0), "a keep-alive stream without a token");
      assert.ok((await c.lease.timeToLive(granted.id)).ttl >= 1);
      ka.close();
      await c.lease.revoke(granted.id);
    } finally {
      GrpcTransport.prototype.stream = original;
      await c.close();
    }
  });
});
