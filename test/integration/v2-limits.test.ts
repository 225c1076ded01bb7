/**
 * Against real etcd: a member started without `--enable-v2` (etcd 3.4 and 3.5 answer every v2
 * path with Go's plain "404 page not found") gives V2_UNAVAILABLE with advice, in the library
 * and in the v2 CLI; the reply limit (maxResponseBytes) bounds an ordinary read and a long poll,
 * and the client carries on after either.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { EtcdError, EtcdV2Client } from "../../src/index.js";
import { startCluster, type Cluster } from "../harness/index.js";
import { runOurs } from "./cli-kit.js";

const isCode = (code: string) => (e: unknown) => e instanceof EtcdError && e.code === code;

describe("v2 against a member without --enable-v2", () => {
  let cluster: Cluster;
  const clients: EtcdV2Client[] = [];
  before(async () => {
    cluster = await startCluster({ size: 1, name: "v2off", extraArgs: ["--enable-v2=false"] });
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await cluster.stop();
  });

  it("every v2 call fails V2_UNAVAILABLE at once, saying to start etcd with --enable-v2=true or use the v3 client", async () => {
    const client = new EtcdV2Client({ endpoints: cluster.endpoints() });
    clients.push(client);
    const started = performance.now();
    for (const call of [() => client.get("/k"), () => client.set("/k", "v"), () => client.sync(), () => client.members.list()]) {
      await assert.rejects(call(), (e: unknown) => {
        assert.ok(e instanceof EtcdError, String(e));
        assert.equal(e.code, "V2_UNAVAILABLE", e.message);
        assert.match(e.message, /--enable-v2=true/);
        assert.match(e.message, /EtcdV3Client/);
        assert.equal(e.delivery, undefined, "not a member failure: another member would answer the same");
        return true;
      });
    }
    assert.ok(performance.now() - started < 5_000, "no retries or waits");
  });

  it("the v2 CLI prints the same advice and fails", async () => {
    const out = await runOurs(["--endpoints", cluster.endpoints().join(","), "--no-sync", "get", "/k"]);
    assert.notEqual(out.code, 0);
    assert.match(out.stderr, /does not serve the v2 API.*--enable-v2=true/);
  });
});

describe("v2 reply limit against real etcd", () => {
  let cluster: Cluster;
  let client: EtcdV2Client;
  before(async () => {
    cluster = await startCluster({ size: 1, name: "v2limit" });
    client = new EtcdV2Client({ endpoints: cluster.endpoints(), maxResponseBytes: 8 * 1024 });
  });
  after(async () => {
    await client.close();
    await cluster.stop();
  });

  it("a read and a watch whose reply passes maxResponseBytes fail RESPONSE_TOO_LARGE; the client carries on", async () => {
    const dir = cluster.prefix("limit");
    await client.set(`${dir}/small`, "v");
    await client.set(`${dir}/big`, "x".repeat(16 * 1024), { noValueOnSuccess: true });
    await assert.rejects(client.get(`${dir}/big`), isCode("RESPONSE_TOO_LARGE"));
    assert.equal((await client.get(`${dir}/small`)).node?.value, "v");
    // The rejection is awaited from the start: it may come before the set's own reply.
    const watchFailed = assert.rejects(client.watchOnce(`${dir}/watched`), isCode("RESPONSE_TOO_LARGE"));
    await new Promise((resolve) => setTimeout(resolve, 200));
    await client.set(`${dir}/watched`, "y".repeat(16 * 1024), { noValueOnSuccess: true });
    await watchFailed;
    // A new watch of another key (a watch's first read of this one would pass the limit too).
    const next = client.watchOnce(`${dir}/other`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await client.set(`${dir}/other`, "short");
    assert.equal((await next).node?.value, "short");
  });
});
