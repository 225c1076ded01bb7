/**
 * The v3 cluster and maintenance APIs against a real 3-member cluster: membership changes with
 * a real learner (added, its peer URL updated, started, promoted, removed), per-member status,
 * hashes and defragmentation, alarms, and a leader transfer.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { EtcdError, EtcdV3Client } from "../../src/index.js";
import { Member, etcdBin, request, sleep, startCluster, type Cluster } from "../harness/index.js";
import { freePorts } from "../harness/ports.js";
import { TEMP_PREFIX, trackDir, untrackDir } from "../harness/registry.js";
import { rejectsWith } from "./util.js";

/**
 * Runs a membership change, waiting (bounded) while etcd refuses it as UNHEALTHY_CLUSTER: its
 * strict reconfiguration check wants the leader connected to every member for 5 s, which a
 * cluster that just started, or just lost a member, is not yet. Nothing was applied meanwhile.
 */
async function whenHealthy<T>(change: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 12_000;
  for (;;) {
    try {
      return await change();
    } catch (error) {
      if (!(error instanceof EtcdError) || error.code !== "UNHEALTHY_CLUSTER" || Date.now() > deadline) throw error;
      await sleep(250);
    }
  }
}

describe("v3 cluster and maintenance on a 3-member cluster", () => {
  let cluster: Cluster;
  let etcd: EtcdV3Client;

  before(async () => {
    cluster = await startCluster({ size: 3, name: "v3admin" });
    etcd = new EtcdV3Client({ endpoints: cluster.endpoints(), requestTimeout: 8_000 });
  });
  after(async () => {
    await etcd.close();
    await cluster.stop();
  });

  it("list: every member with a bigint ID, its name and URLs", async () => {
    const { members, header } = await etcd.cluster.list();
    assert.equal(members.length, 3);
    assert.ok(header.clusterId !== 0n);
    for (const [i, m] of cluster.members.entries()) {
      const found = members.find((x) => x.name === m.name);
      assert.ok(found !== undefined, `member ${m.name} missing`);
      assert.equal(typeof found.id, "bigint");
      assert.deepEqual(found.peerUrls, [cluster.peerUrl(i)]);
      assert.deepEqual(found.clientUrls, [cluster.clientUrl(i)]);
      assert.equal(found.isLearner, false);
    }
    // IDs are random 64-bit numbers: at least one of three is almost surely beyond 2^53.
    assert.ok(members.some((m) => m.id > BigInt(Number.MAX_SAFE_INTEGER)));
  });

  it("update: a member's peer URLs are set (here to the same URLs: a no-op that changes nothing)", async () => {
    const { members } = await etcd.cluster.list();
    const first = members.find((m) => m.name === cluster.member(0).name);
    assert.ok(first !== undefined);
    const updated = await whenHealthy(() => etcd.cluster.update(first.id, [cluster.peerUrl(0)]));
    assert.deepEqual(updated.members.find((m) => m.id === first.id)?.peerUrls, [cluster.peerUrl(0)]);
    assert.equal(updated.members.length, 3);
  });

  it("a learner: add, start it, promote it, remove it", async () => {
    const [clientPort, peerPort] = (await freePorts(2)) as [number, number];
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    // (Not updated while a learner: etcd 3.4.23 then lists it as a voting member.)
    const added = await whenHealthy(() => etcd.cluster.add([peerUrl], { isLearner: true }));
    assert.equal(added.member.isLearner, true);
    assert.equal(added.member.name, "");
    assert.deepEqual(added.member.peerUrls, [peerUrl]);
    assert.equal(added.members.length, 4);

    const learner = spawnLearner(cluster, clientPort, peerPort, (await etcd.cluster.list()).members);
    try {
      await learner.waitHealthy(15_000);
      // (etcd 3.4.23's own status of a freshly joined learner says isLearner: false; the member list is right.)
      const status = await etcd.maintenance.status(learner.clientUrl);
      assert.equal(status.header.memberId, added.member.id);
      const joined = (await etcd.cluster.list()).members.find((m) => m.id === added.member.id);
      assert.equal(joined?.isLearner, true);
      assert.equal(joined.name, "v3admin-learner");
      assert.deepEqual(joined.clientUrls, [learner.clientUrl]);
      // etcd refuses to promote a learner still catching up; wait (bounded) until it accepts.
      let promoted: Awaited<ReturnType<typeof etcd.cluster.promote>> | undefined;
      for (let i = 0; promoted === undefined; i++) {
        try {
          promoted = await etcd.cluster.promote(added.member.id);
        } catch (error) {
          if (i >= 40 || !(error instanceof EtcdError) || !/in sync/.test(error.serverMessage ?? "")) throw error;
          await sleep(250);
        }
      }
      assert.equal(promoted.members.find((m) => m.id === added.member.id)?.isLearner, false);
      // Promoting a voting member again is an answer, not a retry.
      await assert.rejects(
        etcd.cluster.promote(added.member.id),
        (e: unknown) => e instanceof EtcdError && e.delivery === undefined && /can only promote a learner/.test(e.serverMessage ?? ""),
      );
      const removed = await etcd.cluster.remove(added.member.id);
      assert.equal(removed.members.length, 3);
      assert.ok(!removed.members.some((m) => m.id === added.member.id));
    } finally {
      // Left behind, an unstarted member would make every later membership change UNHEALTHY_CLUSTER.
      if ((await etcd.cluster.list()).members.some((m) => m.id === added.member.id)) await etcd.cluster.remove(added.member.id);
      await learner.kill();
      rmSync(learner.dir, { recursive: true, force: true });
      untrackDir(learner.dir);
    }
  });

  it("membership errors: unknown member, taken peer URL, bad arguments", async () => {
    await rejectsWith(etcd.cluster.remove(0x1234n), "MEMBER_NOT_FOUND");
    await rejectsWith(etcd.cluster.update(0x1234n, ["http://127.0.0.1:1"]), "MEMBER_NOT_FOUND");
    await rejectsWith(whenHealthy(() => etcd.cluster.add([cluster.peerUrl(0)])), "PEER_URL_EXISTS");
    await rejectsWith(etcd.cluster.add([]), "INVALID_ARGUMENT");
    await rejectsWith(etcd.cluster.add(["not a url"]), "INVALID_ARGUMENT");
    await rejectsWith(etcd.cluster.remove(0n), "INVALID_ARGUMENT");
    await rejectsWith(etcd.cluster.remove(1.5 as unknown as bigint), "INVALID_ARGUMENT");
    assert.equal((await etcd.cluster.list()).members.length, 3);
  });

  it("status of each member, and of the member in use", async () => {
    const statuses = await Promise.all(cluster.endpoints().map((u) => etcd.maintenance.status(u)));
    const ids = new Set(statuses.map((s) => s.header.memberId));
    assert.equal(ids.size, 3);
    const leaders = new Set(statuses.map((s) => s.leader));
    assert.equal(leaders.size, 1);
    assert.ok(ids.has([...leaders][0]!));
    for (const s of statuses) {
      assert.match(s.version, /^3\.\d+\.\d+/);
      assert.ok(s.dbSize > 0n && s.dbSizeInUse > 0n && s.dbSizeInUse <= s.dbSize);
      assert.ok(s.raftIndex > 0n && s.raftTerm > 0n);
      assert.equal(s.isLearner, false);
    }
    const any = await etcd.maintenance.status();
    assert.ok(ids.has(any.header.memberId));
    await rejectsWith(etcd.maintenance.status("127.0.0.1:2379"), "INVALID_ARGUMENT");
  });

  it("hashKV agrees across members at one revision; defragment works on each member", async () => {
    const prefix = cluster.prefix("hash");
    for (let i = 0; i < 20; i++) await etcd.put(`${prefix}/${i}`, "x".repeat(1000));
    const { header } = await etcd.put(`${prefix}/last`, "y");
    await etcd.compact(header.revision - 5n);
    const hashes = await Promise.all(cluster.endpoints().map((u) => etcd.maintenance.hashKV(u, header.revision)));
    assert.equal(new Set(hashes.map((h) => h.hash)).size, 1, JSON.stringify(hashes.map((h) => h.hash)));
    assert.ok(hashes.every((h) => h.compactRevision === header.revision - 5n));
    assert.ok(hashes[0]!.hash !== 0);
    for (const url of cluster.endpoints()) {
      const r = await etcd.maintenance.defragment(url);
      const afterStatus = await etcd.maintenance.status(url);
      // etcd 3.4 answers a defragment without a header.
      assert.ok(r.header.revision >= 0n);
      // Defragmenting rewrites the file: what is left is (nearly) all in use.
      assert.ok(afterStatus.dbSize > 0n && afterStatus.dbSizeInUse <= afterStatus.dbSize);
    }
  });

  it("alarms: a raised NOSPACE alarm is listed, stops writes, and disarm clears it", async () => {
    assert.deepEqual((await etcd.maintenance.alarms()).alarms, []);
    const status = await etcd.maintenance.status(cluster.clientUrl(0));
    const memberId = status.header.memberId;
    // Raised through the JSON gateway, so nothing of the client under test is involved.
    const res = await request(`${cluster.clientUrl(0)}/v3/maintenance/alarm`, {
      method: "POST",
      timeoutMs: 5_000,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ action: "ACTIVATE", memberID: memberId.toString(), alarm: "NOSPACE" }),
    });
    assert.equal(res.status, 200, res.body);
    try {
      assert.deepEqual((await etcd.maintenance.alarms()).alarms, [{ memberId, alarm: "nospace" }]);
      const e = await rejectsWith(etcd.put(cluster.prefix("alarm"), "v"), "NO_SPACE");
      assert.equal(e.delivery, undefined);
      assert.ok((await etcd.maintenance.status(cluster.clientUrl(0))).errors.some((m) => /NOSPACE/i.test(m)));
    } finally {
      const cleared = await etcd.maintenance.disarm();
      assert.deepEqual(cleared.alarms, [{ memberId, alarm: "nospace" }]);
    }
    assert.deepEqual((await etcd.maintenance.alarms()).alarms, []);
    await etcd.put(cluster.prefix("alarm"), "v");
    // Disarming an alarm that is not raised is a success that clears nothing.
    assert.deepEqual((await etcd.maintenance.disarm([{ memberId, alarm: "nospace" }])).alarms, []);
    await rejectsWith(etcd.maintenance.disarm([{ memberId, alarm: "full" as "nospace" }]), "INVALID_ARGUMENT");
  });

  it("moveLeader hands leadership to the member named, asking the leader wherever the client is", async () => {
    const before = await etcd.maintenance.status();
    const { members } = await etcd.cluster.list();
    const target = members.find((m) => m.id !== before.leader && !m.isLearner && m.name !== "");
    assert.ok(target !== undefined);
    await etcd.maintenance.moveLeader(target.id);
    const after = await etcd.maintenance.status(target.clientUrls[0]);
    assert.equal(after.leader, target.id);
    // Moving it to the leader itself is a no-op success.
    await etcd.maintenance.moveLeader(target.id);
    await rejectsWith(etcd.maintenance.moveLeader(0n), "INVALID_ARGUMENT");
    await assert.rejects(etcd.maintenance.moveLeader(0x1234n), (e: unknown) => e instanceof EtcdError && /bad leader transferee/.test(e.serverMessage ?? ""));
  });
});

/** Starts a learner that joins `cluster` with `--initial-cluster-state=existing`; tracked by the harness registry. */
function spawnLearner(cluster: Cluster, clientPort: number, peerPort: number, members: readonly { name: string; peerUrls: readonly string[] }[]): Member {
  const name = "v3admin-learner";
  const dir = mkdtempSync(join(tmpdir(), `${TEMP_PREFIX}${name}-`));
  trackDir(dir);
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const initial = members.map((m) => `${m.name === "" ? name : m.name}=${m.peerUrls[0] ?? ""}`).join(",");
  const learner = new Member({
    index: cluster.size,
    name,
    clientPort,
    peerPort,
    scheme: "http",
    dir,
    etcd: etcdBin(),
    gid: undefined,
    tls: undefined,
    args: [
      `--name=${name}`,
      `--data-dir=${join(dir, "data")}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=${initial}`,
      "--initial-cluster-state=existing",
      "--heartbeat-interval=50",
      "--election-timeout=500",
      "--logger=zap",
      "--log-level=warn",
      `--log-outputs=${join(dir, "etcd.log")}`,
    ],
  });
  learner.spawn();
  return learner;
}
