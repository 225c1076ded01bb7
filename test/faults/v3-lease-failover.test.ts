/**
 * Lease keep-alive under faults, on a real 3-member cluster (issue 8: "keepalive loss reported
 * within 1×TTL and never for a live lease"). With a 5 s TTL, the member serving the client's
 * keep-alive stream is SIGKILLed, SIGSTOPped (as the leader, so the cluster also loses its leader),
 * or cut off from its peers, or the leader dies under a follower serving the stream: the lease is
 * never reported lost, and a fresh client sees it alive. When every member is paused for longer
 * than the TTL, the loss is reported within 1×TTL of the last acknowledged renewal, and not before.
 */
import { after, before, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { EtcdError, EtcdV3Client, type EngineEvent } from "../../src/index.js";
import { partitionSupport, sleep, startCluster, type Cluster } from "../harness/index.js";

/** The lease's TTL, in seconds. */
const TTL = 5;
/** How long each fault lasts: longer than the TTL, so a keep-alive that stalled would be caught. */
const FAULT_MS = 6_000;
/** Timer and scheduling slack allowed on top of 1×TTL when the loss is real (a loaded 2-core machine). */
const SLACK_MS = 500;
/** How often the test samples the keep-alive's deadline to see acknowledgements. */
const SAMPLE_MS = 20;

let cluster: Cluster;
before(async () => {
  cluster = await startCluster({ size: 3, name: "v3leasefault" });
});
after(async () => {
  await cluster.stop();
});

/** A client whose engine starts on member `i` (and keeps it while it works), knowing every member. */
async function clientOn(i: number, onEvent?: (event: EngineEvent) => void): Promise<EtcdV3Client> {
  const client = new EtcdV3Client({ endpoints: [cluster.clientUrl(i)], requestTimeout: 3000, onEvent });
  await client.sync();
  assert.equal(client.currentEndpoint, cluster.clientUrl(i));
  return client;
}

/** Samples `expiresAt` until stopped; each change is an acknowledged renewal, seen at most SAMPLE_MS late. */
function watchAcks(ka: { readonly expiresAt: number }): { acks: number[]; stop: () => Promise<void> } {
  const acks: number[] = [];
  let running = true;
  const sampling = (async () => {
    let last = ka.expiresAt;
    while (running) {
      if (ka.expiresAt !== last) {
        last = ka.expiresAt;
        acks.push(performance.now());
      }
      await sleep(SAMPLE_MS);
    }
  })();
  return {
    acks,
    stop: async () => {
      running = false;
      await sampling;
    },
  };
}

function maxGap(times: readonly number[], from: number, to: number): number {
  let worst = 0;
  let previous = from;
  for (const t of times) {
    if (t < from) continue;
    worst = Math.max(worst, t - previous);
    previous = t;
  }
  return Math.max(worst, to - previous);
}

interface Fault {
  /** Which member serves the keep-alive stream. */
  readonly serve: "leader" | "follower";
  /** Breaks something; `served` is the stream's member, `leader` the leader's index. Returns the members to leave out of the check. */
  readonly inject: (served: number, leader: number) => Promise<readonly number[]>;
  readonly repair: (served: number, leader: number) => Promise<void>;
  /** Whether the stream must leave its member. */
  readonly moves: boolean;
}

async function scenario(t: TestContext, name: string, fault: Fault): Promise<void> {
  await cluster.waitHealthy();
  const leader = await cluster.leader();
  const served = fault.serve === "leader" ? leader : (leader + 1) % cluster.size;
  const servedUrl = cluster.clientUrl(served);
  const moves: { at: number; previous: string | undefined }[] = [];
  const client = await clientOn(served, (ev) => {
    if (ev.type === "member-chosen") moves.push({ at: performance.now(), previous: ev.previous });
  });
  const granted = await client.lease.grant(TTL);
  assert.equal(granted.ttl, TTL);
  const ka = client.lease.keepAlive(granted.id);
  let lostAt: number | undefined;
  let lostWhy = "";
  void ka.lost.then((e) => {
    lostAt = performance.now();
    lostWhy = e.message;
  });
  const sampler = watchAcks(ka);
  try {
    await sleep(2_000);
    assert.ok(sampler.acks.length >= 1, "no renewal acknowledged before the fault");
    const faultAt = performance.now();
    const excluded = await fault.inject(served, leader);
    await sleep(FAULT_MS);
    const checkAt = performance.now();
    assert.equal(lostAt, undefined, `the lease was reported lost ${((lostAt ?? 0) - faultAt).toFixed(0)} ms after the fault: ${lostWhy}`);
    const healthy = [0, 1, 2].filter((i) => !excluded.includes(i)).map((i) => cluster.clientUrl(i));
    const fresh = new EtcdV3Client({ endpoints: healthy });
    try {
      const ttl = await fresh.lease.timeToLive(granted.id);
      assert.ok(ttl.ttl > 0, `a fresh client sees the lease with TTL ${ttl.ttl}`);
    } finally {
      await fresh.close();
    }
    const gap = maxGap(sampler.acks, faultAt, checkAt);
    const left = moves.find((m) => m.at >= faultAt && m.previous === servedUrl);
    t.diagnostic(`${name}: longest time without an acknowledged renewal during the fault ${gap.toFixed(0)} ms (TTL ${TTL * 1000} ms)` +
      (left === undefined ? "; the stream stayed on its member" : `; the stream left its member after ${(left.at - faultAt).toFixed(0)} ms`));
    assert.ok(gap < TTL * 1000, `no renewal acknowledged for ${gap.toFixed(0)} ms`);
    if (fault.moves) assert.ok(left !== undefined, `the keep-alive stream never left ${servedUrl}`);
    await fault.repair(served, leader);
    await cluster.waitHealthy();
    const acksBefore = sampler.acks.length;
    // Renewals come every TTL/3 (1.67 s), but right after a repair the stream may still be moving
    // and the cluster electing: a fixed 2 s, then 3.5 s, window failed on loaded machines (2 in 9
    // runs; once in CI beside three torture runs). What must hold is that renewals resume while the
    // lease lives: wait for one up to 2 x TTL.
    const repairedAt = performance.now();
    while (sampler.acks.length === acksBefore && performance.now() - repairedAt < 2 * TTL * 1000) await sleep(100);
    assert.equal(lostAt, undefined, `the lease was reported lost after the repair: ${lostWhy}`);
    assert.ok(sampler.acks.length > acksBefore, `renewals stopped after the repair: none acknowledged in ${(performance.now() - repairedAt).toFixed(0)} ms`);
  } finally {
    await sampler.stop();
    ka.close();
    await client.lease.revoke(granted.id).catch(() => undefined);
    await client.close();
  }
}

test("SIGKILL of the keep-alive stream's member: the stream moves and the lease is never reported lost", async (t) => {
  await scenario(t, "kill", {
    serve: "follower",
    moves: true,
    inject: async (i) => {
      await cluster.member(i).kill();
      return [i];
    },
    repair: (i) => cluster.member(i).restart(),
  });
});

test("SIGSTOP of the keep-alive stream's member, the leader: the stream moves and the lease is never reported lost", async (t) => {
  await scenario(t, "stop-leader", {
    serve: "leader",
    moves: true,
    inject: async (i) => {
      await cluster.member(i).pause();
      return [i];
    },
    // Not SIGCONT: a leader resumed after a stall longer than the TTL revokes the lease that the
    // new leader kept alive (etcd's fault, on 3.4.23 and 3.5.16 alike; test/torture/nemesis.ts).
    repair: async (i) => {
      await cluster.member(i).kill();
      await cluster.member(i).start();
    },
  });
});

test("the keep-alive stream's member cut off from its peers: the stream moves and the lease is never reported lost", async (t) => {
  const support = partitionSupport();
  if (!support.ok) {
    t.skip(`iptables partitions are unavailable here: ${support.why ?? "unknown reason"}`);
    return;
  }
  await scenario(t, "isolate", {
    serve: "follower",
    moves: true,
    inject: async (i) => {
      await cluster.isolate(i);
      return [i];
    },
    repair: (i) => {
      cluster.heal(i);
      return Promise.resolve();
    },
  });
});

test("leader loss under the keep-alive stream's member (the leader is SIGKILLed): the lease is never reported lost", async (t) => {
  await scenario(t, "leader-loss", {
    serve: "follower",
    moves: false,
    inject: async (_served, leader) => {
      await cluster.member(leader).kill();
      return [leader];
    },
    repair: (_served, leader) => cluster.member(leader).restart(),
  });
});

test("every member paused for longer than the TTL: the loss is reported within 1×TTL of the last acknowledgement, not before", async (t) => {
  await cluster.waitHealthy();
  const client = await clientOn(await cluster.leader());
  const granted = await client.lease.grant(TTL);
  const ka = client.lease.keepAlive(granted.id);
  let lostAt: number | undefined;
  void ka.lost.then(() => (lostAt = performance.now()));
  const sampler = watchAcks(ka);
  try {
    await sleep(1_000);
    // Pause right after an acknowledgement, so that the last one is known to within a sample.
    const seen = sampler.acks.length;
    for (let waited = 0; waited < 3_000 && sampler.acks.length === seen; waited += 5) await sleep(5);
    assert.ok(sampler.acks.length > seen, "no renewal acknowledged");
    await Promise.all(cluster.members.map((m) => m.pause()));
    const pausedAt = performance.now();
    const lost = await Promise.race([ka.lost, sleep(TTL * 1000 + 3_000).then(() => undefined)]);
    assert.ok(lost instanceof EtcdError, "the loss was never reported");
    assert.ok(lostAt !== undefined);
    const lastAck = sampler.acks.at(-1) ?? 0;
    assert.ok(lastAck <= pausedAt, "a renewal was acknowledged while every member was paused");
    // The acknowledgement came at most SAMPLE_MS before it was seen.
    const sinceAck = lostAt - lastAck + SAMPLE_MS;
    t.diagnostic(`loss reported ${(lostAt - lastAck).toFixed(0)} ms after the last acknowledgement was seen (TTL ${TTL * 1000} ms): ${lost.message}`);
    assert.equal(lost.code, "LEASE_LOST");
    assert.ok(lost.cause instanceof EtcdError, "the loss does not say why the renewals failed");
    assert.ok(sinceAck <= TTL * 1000 + SLACK_MS, `loss reported ${sinceAck.toFixed(0)} ms after the last acknowledgement (TTL ${TTL * 1000} ms)`);
    // Reported early would mean claiming a live lease lost: etcd keeps it TTL after renewing it.
    // The deadline counts from the renewal's send, which precedes the acknowledgement seen here by
    // a round trip plus a sample: 1 s allows for a loaded machine and still catches a deadline of
    // 4/5 TTL or less.
    assert.ok(lostAt - lastAck >= TTL * 1000 - 1_000, `loss reported only ${(lostAt - lastAck).toFixed(0)} ms after the last acknowledgement`);
    assert.ok(ka.expiresAt <= lostAt);
  } finally {
    await Promise.all(cluster.members.map((m) => m.resume()));
    await sampler.stop();
    ka.close();
    await client.close();
  }
  await cluster.waitHealthy();
});
