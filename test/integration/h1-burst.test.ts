/**
 * The HTTP/1.1 pool's adaptive size against scripted servers: up to `connections` it opens a
 * connection whenever a request waits; beyond it, up to `maxConnections`, only while the member
 * answers (a reply within the last second), so a burst gets a connection per request in flight
 * while a member that answers nothing gets no more than `connections`; connections above
 * `connections` close after about a second idle.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { H1Pool } from "../../src/transport/h1.js";
import { get, ok, scripted, type Scripted } from "./h1-scripted.js";

// A signal per request: one shared by 16 waiting requests would trip the max-listeners warning.
const never = (): AbortSignal => new AbortController().signal;

describe("HTTP/1.1 pool: bursts past `connections` while the member answers", () => {
  const pools: H1Pool[] = [];
  const servers: Scripted[] = [];
  after(() => {
    for (const p of pools) p.close();
    for (const s of servers) s.close();
  });
  const pool = (url: string, connections: number, maxConnections: number): H1Pool => {
    const p = new H1Pool(url, { dialTimeout: 2_000, keepAlive: 1_000, tls: undefined, connections, maxConnections, maxResponseBytes: 1024 });
    pools.push(p);
    return p;
  };

  it("a member that answers gets up to maxConnections for a burst; the extra ones close once idle", async () => {
    const s = await scripted((_r, socket) => {
      setTimeout(() => socket.write(ok("v")), 100);
    });
    servers.push(s);
    const p = pool(s.url, 2, 8);
    assert.equal((await p.request(get("/first"), never())).body, "v");
    const replies = await Promise.all(Array.from({ length: 16 }, (_, i) => p.request(get(`/burst/${i}`), never())));
    assert.ok(replies.every((r) => r.body === "v"));
    const peak = s.peak();
    assert.ok(peak > 2 && peak <= 8, `at most 8 connections and more than 2, saw ${peak}`);
    // Burst connections idle for over a second close; the first `connections` stay.
    const closed = new Set<number>();
    for (const r of s.requests) void r.closed.then(() => closed.add(r.connection));
    const used = new Set(s.requests.map((r) => r.connection)).size;
    await sleep(3_000);
    assert.equal(used - closed.size, 2, `of ${used} connections, ${closed.size} closed`);
    assert.equal((await p.request(get("/after"), never())).body, "v", "the pool still serves");
  });

  it("a member that has answered nothing gets no more than `connections`", async () => {
    const s = await scripted(() => undefined);
    servers.push(s);
    const p = pool(s.url, 2, 8);
    const waiting = Array.from({ length: 8 }, (_, i) => p.request(get(`/hung/${i}`), never()).catch((e: unknown) => e));
    await s.request(2);
    await sleep(500);
    assert.equal(s.connections(), 2);
    assert.equal(s.requests.length, 2);
    p.close();
    await Promise.all(waiting);
  });

  it("maxConnections equal to connections is a fixed pool, as before", async () => {
    const s = await scripted((_r, socket) => {
      setTimeout(() => socket.write(ok("v")), 50);
    });
    servers.push(s);
    const p = pool(s.url, 2, 2);
    await p.request(get("/first"), never());
    await Promise.all(Array.from({ length: 8 }, (_, i) => p.request(get(`/fixed/${i}`), never())));
    assert.equal(s.peak(), 2);
  });
});
