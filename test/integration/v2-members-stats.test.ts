/**
 * The v2 members, stats, version and health APIs, and cluster sync, against a real 3-member
 * cluster.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { EtcdV2Client, type EngineEvent } from "../../src/index.js";
import { freePorts } from "../harness/ports.js";
import { startCluster, type Cluster } from "../harness/index.js";
import { rejectsWith, sleep } from "./util.js";

describe("v2 members and stats on a 3-member cluster", () => {
  let cluster: Cluster;
  let client: EtcdV2Client;
  let startedAt = 0;

  before(async () => {
    cluster = await startCluster({ size: 3, name: "v2members" });
    startedAt = Date.now();
    client = new EtcdV2Client({ endpoints: cluster.endpoints() });
  });
  after(async () => {
    await client.close();
    await cluster.stop();
  });

  it("members.list names every member with its peer and client URLs", async () => {
    const members = await client.members.list();
    assert.equal(members.length, 3);
    assert.deepEqual(members.map((m) => m.clientURLs[0]).sort(), cluster.endpoints().sort());
    assert.deepEqual(members.map((m) => m.peerURLs[0]).sort(), [0, 1, 2].map((i) => cluster.peerUrl(i)).sort());
    for (const m of members) {
      assert.match(m.id, /^[0-9a-f]+$/);
      assert.match(m.name, /^v2members-\d$/);
    }
  });

  it("members.leader is the member the cluster elected", async () => {
    const leader = await client.members.leader();
    assert.equal(leader.clientURLs[0], cluster.clientUrl(await cluster.leader()));
  });

  it("members.add, update and remove change the membership; removing twice still succeeds (410)", async () => {
    // etcd 3.4 refuses to add a voting member (500 "unhealthy cluster") until every member has
    // been connected for 5 s (etcdserver.HealthInterval).
    await sleep(Math.max(0, startedAt + 5_500 - Date.now()));
    const [spare, other] = await freePorts(2);
    // Before the add: with a member that never starts, etcd refuses further adds as "unhealthy".
    await rejectsWith(client.members.add([cluster.peerUrl(0)]), "CONFLICT");
    const added = await client.members.add([`http://127.0.0.1:${spare ?? 1}`]);
    assert.match(added.id, /^[0-9a-f]+$/);
    assert.equal(added.name, "");
    assert.deepEqual(added.peerURLs, [`http://127.0.0.1:${spare ?? 1}`]);
    try {
      await client.members.update(added.id, [`http://127.0.0.1:${other ?? 2}`]);
      const listed = (await client.members.list()).find((m) => m.id === added.id);
      assert.deepEqual(listed?.peerURLs, [`http://127.0.0.1:${other ?? 2}`]);
      assert.deepEqual(listed.clientURLs, []);
    } finally {
      await client.members.remove(added.id);
    }
    await client.members.remove(added.id);
    assert.equal((await client.members.list()).length, 3);
  });

  it("members errors: unknown IDs are NOT_FOUND, bad peer URLs BAD_REQUEST, and bad input is refused unsent", async () => {
    const e = await rejectsWith(client.members.remove("abcdef0123"), "NOT_FOUND");
    assert.equal(e.status, 404);
    assert.match(e.serverMessage ?? "", /No such member/);
    await rejectsWith(client.members.update("abcdef0123", ["http://127.0.0.1:9"]), "NOT_FOUND");
    await rejectsWith(client.members.add(["not a url"]), "BAD_REQUEST");
    await rejectsWith(client.members.add([]), "INVALID_ARGUMENT");
    await rejectsWith(client.members.remove(""), "INVALID_ARGUMENT");
  });

  it("stats.self describes the member in use", async () => {
    const self = await client.stats.self();
    assert.match(self.name, /^v2members-\d$/);
    assert.ok(self.state === "StateLeader" || self.state === "StateFollower");
    assert.match(self.leaderInfo.leader, /^[0-9a-f]+$/);
    assert.ok(!Number.isNaN(Date.parse(self.startTime)));
  });

  it("stats.leader answers from any member, following a follower to the leader", async () => {
    const leaderIndex = await cluster.leader();
    const follower = cluster.clientUrl((leaderIndex + 1) % 3);
    const pinned = new EtcdV2Client({ endpoints: [follower] });
    try {
      const stats = await pinned.stats.leader();
      assert.equal(Object.keys(stats.followers).length, 2);
      assert.equal(stats.leader, (await pinned.members.leader()).id);
      for (const f of Object.values(stats.followers)) assert.ok(f.counts.success > 0);
    } finally {
      await pinned.close();
    }
  });

  it("stats.store counts this client's writes", async () => {
    const before = await client.stats.store();
    await client.set(`${cluster.prefix("store")}/k`, "v");
    const after = await client.stats.store();
    assert.ok(after.setsSuccess > before.setsSuccess);
    assert.equal(typeof after.watchers, "number");
  });

  it("version and health describe the member in use", async () => {
    const version = await client.version();
    assert.match(version.etcdserver, /^\d+\.\d+\.\d+/);
    assert.match(version.etcdcluster, /^\d+\.\d+\.\d+|not_decided/);
    const health = await client.health();
    assert.equal(health.health, true);
    assert.ok(cluster.endpoints().includes(health.endpoint));
  });

  it("sync replaces one known endpoint with every member's client URL", async () => {
    const one = new EtcdV2Client({ endpoints: [cluster.clientUrl(2)] });
    try {
      assert.deepEqual([...(await one.sync())].sort(), cluster.endpoints().sort());
      assert.deepEqual([...one.endpoints].sort(), cluster.endpoints().sort());
    } finally {
      await one.close();
    }
  });

  it("autoSync refreshes the member list in the background and reports it as a sync event", async () => {
    const events: EngineEvent[] = [];
    const auto = new EtcdV2Client({ endpoints: [cluster.clientUrl(0)], autoSync: 200, onEvent: (e) => events.push(e) });
    try {
      for (let waited = 0; auto.endpoints.length < 3 && waited < 5_000; waited += 100) await sleep(100);
      assert.deepEqual([...auto.endpoints].sort(), cluster.endpoints().sort());
      assert.ok(events.some((e) => e.type === "sync" && e.added.length === 2));
    } finally {
      await auto.close();
    }
  });
});
