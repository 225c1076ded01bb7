/**
 * Stream-id rotation under load against real etcd: with `maxStreamId` lowered to 201 (100
 * streams per connection), thousands of concurrent puts and linearizable reads and a watch run
 * through a counting TCP proxy. Every call must succeed, the watch must see every put once and
 * in order, and the proxy must have seen the client move to fresh connections many times.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, test } from "node:test";
import { EtcdV3Client, type V3WatchEvent } from "../../src/index.js";
import { startCluster, type Cluster } from "../harness/index.js";

const STREAMS_PER_CONNECTION = 100;
const OPS = 4000;
const CONCURRENCY = 200;

let cluster: Cluster;
let proxy: net.Server;
let accepted = 0;
const sockets = new Set<net.Socket>();

before(async () => {
  cluster = await startCluster({ size: 1 });
  const target = new URL(cluster.endpoints()[0] ?? "");
  proxy = net.createServer((client) => {
    accepted++;
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
      s.on("close", () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
});

after(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => {
    proxy.close(() => {
      resolve();
    });
  });
  await cluster.stop();
});

test(`${OPS} puts and reads at ${CONCURRENCY} in flight and a watch, rotating every ${STREAMS_PER_CONNECTION} streams: no call fails`, async (t) => {
  const { port } = proxy.address() as net.AddressInfo;
  const client = new EtcdV3Client({ endpoints: [`http://127.0.0.1:${port}`], maxStreamId: 2 * STREAMS_PER_CONNECTION + 1, requestTimeout: 60_000 });
  try {
    const prefix = `rotation/${Date.now()}/`;
    const puts = OPS / 2;
    const seen: V3WatchEvent[] = [];
    const watchDone = (async () => {
      for await (const ev of client.watch(prefix, { prefix: true, signal: AbortSignal.timeout(120_000) })) {
        seen.push(ev);
        if (seen.length === puts) break;
      }
    })();
    // The watch is created before the first put (a get through the same client orders them loosely; a pause is enough here).
    await client.get(prefix);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const before = accepted;
    let next = 0;
    const failures: unknown[] = [];
    const worker = async (): Promise<void> => {
      while (next < OPS) {
        const i = next++;
        try {
          if (i % 2 === 0) await client.put(`${prefix}${String(i / 2).padStart(5, "0")}`, `v${i}`);
          else await client.get(prefix, { prefix: true, countOnly: true });
        } catch (error) {
          failures.push(error);
        }
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const ms = performance.now() - started;
    await watchDone;
    const connections = accepted - before;
    t.diagnostic(`${OPS} calls in ${ms.toFixed(0)} ms; the proxy accepted ${connections} connections during the run (${accepted} in all)`);
    assert.deepEqual(failures, []);
    // The 4,000 calls alone span 40 connections; health probes use their own (rotating) ones too.
    assert.ok(connections >= OPS / STREAMS_PER_CONNECTION / 2, `only ${connections} connections were opened`);
    assert.equal(seen.length, puts);
    const keys = new Set(seen.map((ev) => Buffer.from(ev.kv.key).toString()));
    assert.equal(keys.size, puts, "every put seen once");
    for (let i = 1; i < seen.length; i++) {
      const a = seen[i - 1]?.kv.modRevision ?? 0n;
      const b = seen[i]?.kv.modRevision ?? 0n;
      assert.ok(a < b, `events out of order at ${i}: ${a} then ${b}`);
    }
  } finally {
    await client.close();
  }
});
