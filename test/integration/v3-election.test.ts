/**
 * Elections against a real 3-member cluster: campaign, leader(), proclaim, resign, observe (each
 * leader and proclaimed value in order), re-campaigning on the same session, an abort while
 * campaigning leaving no key, a leadership lost to a revoke, and interop with `etcdctl elect`
 * and `elect -l` (3.4 and 3.5) in both directions.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { EtcdV3Client, type EtcdError, type LeaderInfo } from "../../src/index.js";
import { startCluster, type Cluster } from "../harness/index.js";
import { ETCDCTLS, Etcdctl, aborted, within } from "./concurrency-kit.js";
import { rejectsWith } from "./util.js";

let cluster: Cluster;
let etcd: EtcdV3Client;
let other: EtcdV3Client;
before(async () => {
  cluster = await startCluster({ size: 3, name: "v3elect" });
  etcd = new EtcdV3Client({ endpoints: cluster.endpoints() });
  other = new EtcdV3Client({ endpoints: [...cluster.endpoints()].reverse() });
});
after(async () => {
  await etcd.close();
  await other.close();
  await cluster.stop();
});

async function keysUnder(name: string): Promise<string[]> {
  return (await etcd.get(`${name}/`, { prefix: true, sortTarget: "create", sortOrder: "ascend" })).kvs.map((kv) => kv.key.toString());
}

async function waitForKeys(name: string, count: number): Promise<void> {
  for (let t = 0; (await keysUnder(name)).length < count && t < 200; t++) await new Promise((r) => setTimeout(r, 50));
  assert.equal((await keysUnder(name)).length, count);
}

/** Collects what observe() yields until `count` items or the signal ends it. */
function collect(iterable: AsyncIterable<LeaderInfo>, count: number): { items: LeaderInfo[]; done: Promise<void> } {
  const items: LeaderInfo[] = [];
  const done = (async () => {
    for await (const info of iterable) {
      items.push(info);
      if (items.length >= count) return;
    }
  })();
  return { items, done };
}

describe("election", () => {
  it("campaign, leader(), proclaim and resign, with Go's key and the value as the key's value", async () => {
    const name = cluster.prefix("basic");
    const election = etcd.election(name, { ttl: 10 });
    assert.equal(await election.leader(), undefined);
    const leadership = await election.campaign("host-a");
    assert.match(leadership.key, new RegExp(`^${name}/[0-9a-f]+$`));
    assert.equal(leadership.key, `${name}/${leadership.session.lease.toString(16)}`);
    let leader = await election.leader();
    assert.ok(leader !== undefined);
    assert.equal(leader.key, leadership.key);
    assert.equal(leader.value.toString(), "host-a");
    assert.equal(leader.revision, leadership.revision);
    await leadership.proclaim("host-a:8080");
    leader = await other.election(name).leader();
    assert.equal(leader?.value.toString(), "host-a:8080");
    await leadership.resign();
    await leadership.resign();
    assert.equal((leadership.signal.reason as EtcdError).code, "RELEASED");
    assert.equal(await election.leader(), undefined);
    await rejectsWith(leadership.proclaim("late"), "NOT_LEADER");
  });

  it("a second candidate is elected when the first resigns, and observe() sees each leader and value in order", async () => {
    const name = cluster.prefix("succession");
    const stop = new AbortController();
    const seen = collect(other.election(name).observe({ signal: stop.signal }), 4);
    const a = await etcd.election(name, { ttl: 10 }).campaign("a");
    const bPending = other.election(name, { ttl: 10 }).campaign("b");
    await waitForKeys(name, 2);
    assert.equal(await within(bPending, 500), "pending", "b waits while a leads");
    await a.proclaim("a2");
    await a.resign();
    const b = await bPending;
    await b.proclaim("b2");
    await seen.done;
    assert.deepEqual(seen.items.map((i) => i.value.toString()), ["a", "a2", "b", "b2"]);
    assert.equal(seen.items[2]?.key, b.key);
    stop.abort();
    await b.resign();
  });

  it("observe() starts with the current leader and ends cleanly on abort", async () => {
    const name = cluster.prefix("observe-now");
    const leadership = await etcd.election(name, { ttl: 10 }).campaign("x");
    const stop = new AbortController();
    const seen = collect(other.election(name).observe({ signal: stop.signal }), 10);
    for (let t = 0; seen.items.length < 1 && t < 100; t++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(seen.items[0]?.value.toString(), "x");
    stop.abort();
    await seen.done;
    await leadership.resign();
  });

  it("campaigning again on the same session resumes the candidacy with the new value", async () => {
    const name = cluster.prefix("resume");
    await using session = await etcd.session({ ttl: 10 });
    const first = await etcd.election(name, { session }).campaign("v1");
    const again = await etcd.election(name, { session }).campaign("v2");
    assert.equal(again.key, first.key);
    assert.equal(again.revision, first.revision);
    assert.equal((await etcd.election(name).leader())?.value.toString(), "v2");
    assert.deepEqual(await keysUnder(name), [first.key]);
    await again.resign();
  });

  it("an abort while campaigning leaves no key behind", async () => {
    const name = cluster.prefix("abort");
    const leader = await etcd.election(name, { ttl: 10 }).campaign("l");
    const stop = new AbortController();
    const waiting = other.election(name, { ttl: 10 }).campaign("w", { signal: stop.signal });
    const ended = assert.rejects(waiting, /give up/);
    await waitForKeys(name, 2);
    stop.abort(new Error("give up"));
    await ended;
    assert.deepEqual(await keysUnder(name), [leader.key]);
    await leader.resign();
  });

  it("a leadership whose lease another client revokes is lost: NOT_LEADER on proclaim, and the next candidate leads", async () => {
    const name = cluster.prefix("revoked");
    const leadership = await etcd.election(name, { ttl: 30 }).campaign("old");
    const next = other.election(name, { ttl: 10 }).campaign("new");
    await waitForKeys(name, 2);
    await other.lease.revoke(leadership.session.lease);
    const nextLeader = await next;
    await aborted(leadership.signal);
    assert.ok(["NOT_LEADER", "LEASE_LOST"].includes((leadership.signal.reason as EtcdError).code));
    await rejectsWith(leadership.proclaim("still me?"), "NOT_LEADER");
    assert.equal((await etcd.election(name).leader())?.value.toString(), "new");
    await nextLeader.resign();
  });
});

for (const { label, path } of ETCDCTLS) {
  describe(`etcdctl ${label} elect interop`, () => {
    it("etcdctl leads: our campaign waits and wins after etcdctl exits; our observe sees both", async () => {
      const name = cluster.prefix(`ctl-leads-${label}`);
      const ctl = new Etcdctl(path, cluster.endpoints(), ["elect", name, "from-etcdctl"]);
      const stop = new AbortController();
      try {
        const key = await ctl.line((l) => l.startsWith(`${name}/`));
        assert.equal((await etcd.election(name).leader())?.key, key);
        const seen = collect(etcd.election(name).observe({ signal: stop.signal }), 2);
        const ours = etcd.election(name, { ttl: 5 }).campaign("from-ts");
        assert.equal(await within(ours, 1_000), "pending");
        assert.equal(await ctl.interrupt(), 0);
        const leadership = await ours;
        await seen.done;
        assert.deepEqual(seen.items.map((i) => i.value.toString()), ["from-etcdctl", "from-ts"]);
        await leadership.resign();
      } finally {
        stop.abort();
        ctl.kill();
      }
    });

    it("ours leads: etcdctl elect waits and wins after resign; etcdctl elect -l sees ours, the proclaim and etcdctl's", async () => {
      const name = cluster.prefix(`ours-leads-${label}`);
      const leadership = await etcd.election(name, { ttl: 5 }).campaign("from-ts");
      const listener = new Etcdctl(path, cluster.endpoints(), ["elect", "-l", name]);
      const ctl = new Etcdctl(path, cluster.endpoints(), ["elect", name, "from-etcdctl"]);
      try {
        await listener.line((l) => l === "from-ts");
        await waitForKeys(name, 2);
        await leadership.proclaim("from-ts-2");
        await listener.line((l) => l === "from-ts-2");
        await new Promise((r) => setTimeout(r, 300));
        assert.deepEqual(ctl.lines, [], "etcdctl does not print before it is elected");
        await leadership.resign();
        const key = await ctl.line((l) => l.startsWith(`${name}/`));
        await listener.line((l) => l === "from-etcdctl");
        assert.equal((await etcd.election(name).leader())?.key, key);
        assert.equal(await ctl.interrupt(), 0);
        await listener.interrupt();
        const values = listener.lines.filter((l) => l.startsWith("from-"));
        assert.deepEqual(values, ["from-ts", "from-ts-2", "from-etcdctl"]);
      } finally {
        ctl.kill();
        listener.kill();
      }
    });
  });
}
