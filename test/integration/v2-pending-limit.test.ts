/**
 * The bound on requests waiting for an HTTP/1.1 connection (maxPendingRequests): past it a request
 * is refused PENDING_LIMIT, provably unsent, so the engine may send it to another member.
 *
 * A scripted peer that takes requests and never answers shows the pool's own bookkeeping (nothing
 * past the bound reaches the wire, an abandoned waiter frees its place); real etcd shows the same
 * through the v2 client, with long polls (`?wait=true`) holding the ordinary connections.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { EtcdError, EtcdV2Client, type EngineEvent } from "../../src/index.js";
import { H1Pool } from "../../src/transport/h1.js";
import { startCluster, type Cluster } from "../harness/index.js";
import { failure, get, scripted, type Scripted } from "./h1-scripted.js";

const never = new AbortController().signal;

describe("maxPendingRequests against a peer that never answers", () => {
  const pools: H1Pool[] = [];
  const servers: Scripted[] = [];
  after(() => {
    for (const p of pools) p.close();
    for (const s of servers) s.close();
  });

  it("holds at most connections + maxPending requests; the next is refused unsent and nothing more is written", async () => {
    const s = await scripted(() => undefined);
    servers.push(s);
    const pool = new H1Pool(s.url, { dialTimeout: 1_000, keepAlive: 1_000, tls: undefined, connections: 2, maxResponseBytes: 1024, maxPending: 3 });
    pools.push(pool);
    const aborts = Array.from({ length: 5 }, () => new AbortController());
    const send = (i: number): Promise<unknown> => pool.request(get(`/held/${i}`), (aborts[i] as AbortController).signal).catch((e: unknown) => e);
    // Two take the connections once they open; until then every request waits, so three more follow after.
    const held = [send(0), send(1)];
    await s.request(2);
    held.push(send(2), send(3), send(4));
    const refused = await failure(pool.request(get("/refused"), never), "PENDING_LIMIT");
    assert.equal(refused.written, false);
    assert.match(refused.message, /maxPendingRequests/);
    // A waiter that gives up frees its place: the next request waits again instead of failing.
    (aborts[4] as AbortController).abort(new Error("gave up"));
    const abandoned = await held[4];
    assert.ok(abandoned instanceof Error && "code" in abandoned && abandoned.code === "ABORTED");
    const waiting = pool.request(get("/waits"), never).catch((e: unknown) => e);
    await sleep(100);
    assert.equal(s.requests.length, 2, "only the two connections' requests were written");
    assert.equal(s.connections(), 2);
    pool.close();
    const closed = await waiting;
    assert.ok(closed instanceof Error && "code" in closed && closed.code === "CLOSED", String(closed));
  });
});

describe("maxPendingRequests against real etcd", () => {
  let cluster: Cluster;
  const clients: EtcdV2Client[] = [];
  const polls = new AbortController();
  before(async () => {
    cluster = await startCluster({ size: 3, name: "v2pend" });
  });
  after(async () => {
    polls.abort(new Error("test over"));
    await Promise.all(clients.map((c) => c.destroy()));
    await cluster.stop();
  });

  /** Long polls through `raw` (ordinary connections, unlike `watch`) that etcd holds until the key changes. */
  const park = (client: EtcdV2Client, key: string, count: number): Promise<unknown>[] =>
    Array.from({ length: count }, () => client.raw("GET", `/v2/keys${key}`, { query: { wait: "true" }, signal: polls.signal, timeout: 0 }).catch((e: unknown) => e));

  it("a full member refuses PENDING_LIMIT, unsent: the write goes to another member and is applied once", async () => {
    const [first, ...others] = cluster.endpoints();
    const events: EngineEvent[] = [];
    // Only the first member at first, so every long poll parks there.
    const client = new EtcdV2Client({ endpoints: [first as string], connections: 1, maxConnections: 1, maxPendingRequests: 2, suspectAfter: 60_000, healthInterval: 60_000 });
    clients.push(client);
    const dir = cluster.prefix("pending");
    await client.set(`${dir}/k`, "before");
    const parked = park(client, `${dir}/parked`, 3);
    await sleep(300);
    await assert.rejects(client.set(`${dir}/k`, "refused"), (e: unknown) => {
      assert.ok(e instanceof EtcdError, String(e));
      assert.equal(e.code, "PENDING_LIMIT", e.message);
      assert.equal(e.delivery, "unsent");
      assert.equal(e.retryable, true);
      return true;
    });
    // Nothing reached etcd: the key still holds its old value (read on a client of its own).
    const reader = new EtcdV2Client({ endpoints: cluster.endpoints() });
    clients.push(reader);
    assert.equal((await reader.get(`${dir}/k`, { quorum: true })).node?.value, "before");

    // With the other members known, the refused call fails over and lands once.
    const failover = new EtcdV2Client({ endpoints: [first as string, ...others], connections: 1, maxConnections: 1, maxPendingRequests: 2, suspectAfter: 60_000, healthInterval: 60_000, onEvent: (e) => events.push(e) });
    clients.push(failover);
    await failover.get(`${dir}/k`);
    const chosen = events.find((e) => e.type === "member-chosen");
    assert.ok(chosen !== undefined);
    const pinned = chosen.endpoint;
    const parkedToo = park(failover, `${dir}/parked`, 3);
    await sleep(300);
    const set = await failover.set(`${dir}/k`, "after");
    assert.equal(set.node?.value, "after");
    assert.equal((await reader.get(`${dir}/k`, { quorum: true })).node?.value, "after");
    const aside = events.find((e) => e.type === "member-set-aside");
    assert.ok(aside?.type === "member-set-aside", JSON.stringify(events));
    assert.equal(aside.endpoint, pinned);
    assert.equal(aside.error?.code, "PENDING_LIMIT");
    polls.abort(new Error("test over"));
    await Promise.all([...parked, ...parkedToo]);
  });
});
