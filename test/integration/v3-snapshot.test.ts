/**
 * maintenance.snapshot() and snapshotToFile() against a real cluster holding 10,000 keys: the
 * saved file restores with etcdctl's own `snapshot restore`, and a member started on the restored
 * data serves the same keys; an aborted save leaves nothing at the path. A scripted HTTP/2 server
 * sends what etcd never does: a digest that does not match, and no digest at all.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import http2 from "node:http2";
import type net from "node:net";
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { EtcdError, EtcdV3Client } from "../../src/index.js";
import { SnapshotResponse } from "../../src/v3/gen/etcdserverpb.js";
import { encodeFrame } from "../../src/transport/grpc-frame.js";
import { Member, etcdBin, startCluster, type Cluster } from "../harness/index.js";
import { freePorts } from "../harness/ports.js";
import { TEMP_PREFIX, trackDir, untrackDir } from "../harness/registry.js";

const KEYS = 10_000;
const BATCH = 250;

/** The etcdctl beside the etcd under test (3.5's in its cache folder), else Debian's 3.4. */
function etcdctlBin(): string {
  const sibling = join(dirname(etcdBin()), "etcdctl");
  return existsSync(sibling) ? sibling : "/usr/bin/etcdctl";
}

function runEtcdctl(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(etcdctlBin(), [...args], { env: { PATH: "/usr/bin:/bin", ETCDCTL_API: "3" }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr });
    });
  });
}

function scratch(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `${TEMP_PREFIX}${name}-`));
  trackDir(dir);
  return dir;
}

/** Starts a single member on a data dir that `etcdctl snapshot restore` made. */
async function startRestored(dir: string, clientPort: number, peerPort: number): Promise<Member> {
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const member = new Member({
    index: 0,
    name: "restored",
    clientPort,
    peerPort,
    scheme: "http",
    dir,
    etcd: etcdBin(),
    gid: undefined,
    tls: undefined,
    args: [
      "--name=restored",
      `--data-dir=${join(dir, "data")}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=restored=${peerUrl}`,
      "--logger=zap",
      "--log-level=warn",
      `--log-outputs=${join(dir, "etcd.log")}`,
    ],
  });
  member.spawn();
  await member.waitHealthy(20_000);
  return member;
}

describe("v3 snapshot of a cluster with 10,000 keys", () => {
  let cluster: Cluster;
  let etcd: EtcdV3Client;
  let dir: string;

  before(async () => {
    cluster = await startCluster({ size: 3, name: "v3snap" });
    etcd = new EtcdV3Client({ endpoints: cluster.endpoints(), requestTimeout: 20_000 });
    dir = scratch("v3snap-files");
    for (let start = 0; start < KEYS; start += BATCH) {
      const puts = Array.from({ length: Math.min(BATCH, KEYS - start) }, (_, i) => etcd.put(`snap/${String(start + i).padStart(5, "0")}`, `value-${start + i}`));
      await Promise.all(puts);
    }
  });
  after(async () => {
    await etcd.close();
    await cluster.stop();
  });

  it("the saved file restores with etcdctl snapshot restore, and the restored member serves the same keys", async () => {
    const path = join(dir, "full.db");
    const seen: number[] = [];
    const saved = await etcd.maintenance.snapshotToFile(path, { onProgress: (p) => seen.push(p.bytes) });
    const bytes = readFileSync(path);
    assert.equal(saved.bytes, bytes.length);
    assert.equal(bytes.length % 512, 32, "the file ends with etcd's 32-byte digest, as etcdctl saves it");
    assert.equal(createHash("sha256").update(bytes.subarray(0, -32)).digest("hex"), saved.sha256);
    assert.equal(bytes.subarray(-32).toString("hex"), saved.sha256);
    assert.ok(cluster.endpoints().includes(saved.endpoint));
    assert.ok(seen.length > 1 && seen.at(-1) === bytes.length, `progress reported ${seen.length} times`);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir), ["full.db"], "no temporary file is left beside it");

    const restoredDir = scratch("v3snap-restored");
    const [clientPort, peerPort] = (await freePorts(2)) as [number, number];
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    const restore = await runEtcdctl(["snapshot", "restore", path, "--data-dir", join(restoredDir, "data"), "--name", "restored", "--initial-cluster", `restored=${peerUrl}`, "--initial-advertise-peer-urls", peerUrl]);
    assert.equal(restore.code, 0, restore.stderr);
    const member = await startRestored(restoredDir, clientPort, peerPort);
    const restored = new EtcdV3Client({ endpoints: [member.clientUrl], requestTimeout: 20_000 });
    try {
      const got = await restored.get("snap/", { prefix: true });
      assert.equal(got.count, BigInt(KEYS));
      const original = await etcd.get("snap/", { prefix: true });
      assert.deepEqual(
        got.kvs.map((kv) => [kv.key.toString(), kv.value.toString()]),
        original.kvs.map((kv) => [kv.key.toString(), kv.value.toString()]),
      );
    } finally {
      await restored.close();
      await member.stop();
      untrackDir(restoredDir);
    }
  });

  it("snapshot() yields the stream's bytes, digest last, from the member named", async () => {
    const endpoint = cluster.clientUrl(1);
    const stream = etcd.maintenance.snapshot({ endpoint });
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const all = Buffer.concat(chunks);
    assert.equal(stream.endpoint, endpoint);
    assert.equal(stream.progress.bytes, all.length);
    assert.equal(stream.progress.total, all.length);
    assert.equal(chunks.at(-1)?.length, 32);
    assert.equal(stream.sha256, createHash("sha256").update(all.subarray(0, -32)).digest("hex"));
  });

  it("an aborted save leaves no file at the path and no temporary file beside it", async () => {
    const abortDir = scratch("v3snap-abort");
    const path = join(abortDir, "aborted.db");
    const stop = new AbortController();
    const reason = new Error("stopped by the test");
    await assert.rejects(
      etcd.maintenance.snapshotToFile(path, {
        signal: stop.signal,
        onProgress: () => {
          stop.abort(reason);
        },
      }),
      (e: unknown) => e === reason,
    );
    assert.deepEqual(readdirSync(abortDir), []);
  });

  it("a save that replaces an older file leaves the old one whole when aborted", async () => {
    const path = join(dir, "kept.db");
    await etcd.maintenance.snapshotToFile(path);
    const before = readFileSync(path);
    const stop = new AbortController();
    await assert.rejects(etcd.maintenance.snapshotToFile(path, { signal: stop.signal, onProgress: () => { stop.abort(); } }));
    assert.ok(readFileSync(path).equals(before));
  });

  it("breaking out of the iteration cancels the download, and a stream is iterated once", async () => {
    const stream = etcd.maintenance.snapshot();
    for await (const chunk of stream) {
      assert.ok(chunk.length > 0);
      break;
    }
    assert.equal(stream.sha256, undefined);
    await assert.rejects(async () => {
      for await (const chunk of stream) assert.fail(`yielded ${chunk.length} bytes`);
    }, (e: unknown) => e instanceof EtcdError && e.code === "INVALID_ARGUMENT");
  });
});

/** A server whose Snapshot reply is `blobs` (one message each) and grpc-status 0. */
async function scriptedSnapshot(blobs: readonly Buffer[]): Promise<{ url: string; server: http2.Http2Server }> {
  const server = http2.createServer();
  server.on("stream", (stream) => {
    stream.on("error", () => undefined);
    stream.resume();
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
    stream.on("wantTrailers", () => {
      stream.sendTrailers({ "grpc-status": "0" });
    });
    let remaining = blobs.slice(0, -1).reduce((n, b) => n + b.length, 0);
    for (const blob of blobs) {
      remaining = Math.max(0, remaining - blob.length);
      stream.write(encodeFrame(SnapshotResponse.encode({ remainingBytes: BigInt(remaining), blob }).finish()));
    }
    stream.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, server };
}

describe("v3 snapshot against a scripted server", () => {
  const data = Buffer.alloc(1024, 7);
  const digest = createHash("sha256").update(data).digest();

  for (const [name, blobs, message] of [
    ["a digest that does not match", [data.subarray(0, 512), data.subarray(512), Buffer.alloc(32)], /does not match/],
    ["no digest at all", [data.subarray(0, 512), data.subarray(512)], /no sha256 digest/],
    ["a digest cut short", [data, digest.subarray(0, 16)], /no sha256 digest/],
  ] as const) {
    it(`${name}: SNAPSHOT_CORRUPT, and no file is left`, async () => {
      const { url, server } = await scriptedSnapshot(blobs);
      const client = new EtcdV3Client({ endpoints: [url] });
      const folder = scratch("v3snap-fake");
      try {
        await assert.rejects(client.maintenance.snapshotToFile(join(folder, "bad.db"), { endpoint: url }), (e: unknown) => e instanceof EtcdError && e.code === "SNAPSHOT_CORRUPT" && message.test(e.message));
        assert.deepEqual(readdirSync(folder), []);
      } finally {
        await client.close();
        server.close();
      }
    });
  }

  it("the same bytes with the right digest are accepted", async () => {
    const { url, server } = await scriptedSnapshot([data.subarray(0, 512), data.subarray(512), digest]);
    const client = new EtcdV3Client({ endpoints: [url] });
    const folder = scratch("v3snap-fake");
    try {
      const saved = await client.maintenance.snapshotToFile(join(folder, "good.db"), { endpoint: url });
      assert.equal(saved.bytes, 1056);
      assert.equal(saved.sha256, digest.toString("hex"));
      assert.ok(readFileSync(join(folder, "good.db")).equals(Buffer.concat([data, digest])));
    } finally {
      await client.close();
      server.close();
    }
  });
});
