/**
 * The HTTP/1.1 pool's guards against scripted servers (a real etcd never sends these): requests
 * that would split on the wire are refused before any byte leaves; reply bodies past
 * maxResponseBytes end that request with RESPONSE_TOO_LARGE and close its connection, nothing
 * else; a reply framed both ways is not followed by another request on its connection; a
 * connection whose writes have not drained takes no new request.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, describe, it } from "node:test";
import { Agent } from "undici";
import { EtcdError, EtcdV2Client } from "../../src/index.js";
import { H1Pool } from "../../src/transport/h1.js";
import { failure, get, ok, requestLine, scripted, type Script, type Scripted } from "./h1-scripted.js";

const never = new AbortController().signal;

describe("HTTP/1.1 limits and request checks against scripted servers", () => {
  const servers: Scripted[] = [];
  const pools: H1Pool[] = [];
  const clients: EtcdV2Client[] = [];
  const rawServers: net.Server[] = [];
  const server = async (script: Script): Promise<Scripted> => {
    const s = await scripted(script);
    servers.push(s);
    return s;
  };
  const pool = (url: string, maxResponseBytes: number, connections = 0): H1Pool => {
    const p = new H1Pool(url, { dialTimeout: 1_000, keepAlive: 1_000, tls: undefined, connections, maxResponseBytes });
    pools.push(p);
    return p;
  };
  after(async () => {
    for (const p of pools) p.close();
    await Promise.all(clients.map((c) => c.close()));
    for (const s of servers) s.close();
    for (const s of rawServers) s.close();
  });

  it("a raw path with CR/LF is refused INVALID_ARGUMENT and nothing reaches the server", async () => {
    const s = await server((_r, socket) => {
      socket.write(ok('{"health":"true"}'));
    });
    const client = new EtcdV2Client({ endpoints: [s.url], healthInterval: 60_000 });
    clients.push(client);
    const splitting = "/v2/keys/a HTTP/1.1\r\nx-injected: yes\r\n\r\nDELETE /v2/keys/victim";
    await assert.rejects(client.raw("GET", splitting), (e: unknown) => e instanceof EtcdError && e.code === "INVALID_ARGUMENT" && /CR, LF/.test(e.message));
    await assert.rejects(client.raw("GET", "/v2/keys/a\0b"), (e: unknown) => e instanceof EtcdError && e.code === "INVALID_ARGUMENT");
    // The same refusal through a replacement undici dispatcher (the transport option).
    const agent = new Agent();
    const viaUndici = new EtcdV2Client({ endpoints: [s.url], healthInterval: 60_000, transport: agent });
    clients.push(viaUndici);
    await assert.rejects(viaUndici.raw("GET", splitting), (e: unknown) => e instanceof EtcdError && e.code === "INVALID_ARGUMENT");
    await agent.close();
    const direct = await failure(pool(s.url, 1024).request({ method: "GET", path: "/a\r\nb", headers: "", body: undefined }, never), "INVALID_REQUEST");
    assert.equal(direct.written, false);
    await failure(pool(s.url, 1024).request({ method: "GET", path: "/a", headers: "x: 1\r\ny: 2\nz: 3\r\n", body: undefined }, never), "INVALID_REQUEST");
    assert.equal(s.connections(), 0, "no connection was even opened");
    assert.equal(s.requests.length, 0);
  });

  it("a body past maxResponseBytes fails that request RESPONSE_TOO_LARGE, closes its connection, and the next request works", async () => {
    const big = "x".repeat(2048);
    const s = await server((r, socket) => {
      const line = requestLine(r);
      if (line.startsWith("GET /big ")) socket.write(ok(big));
      else if (line.startsWith("GET /stream ")) {
        // Chunked, and never ending: only the limit stops it.
        socket.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n");
        const timer = setInterval(() => {
          if (socket.destroyed) clearInterval(timer);
          else socket.write(`100\r\n${"y".repeat(256)}\r\n`);
        }, 1);
      } else socket.write(ok("small"));
    });
    const p = pool(s.url, 1024, 1);
    const tooBig = await failure(p.request(get("/big"), never), "RESPONSE_TOO_LARGE");
    assert.equal(tooBig.written, true);
    await (await s.request(1)).closed;
    assert.equal((await p.request(get("/next"), never)).body, "small");
    await failure(p.request(get("/stream"), never), "RESPONSE_TOO_LARGE");
    await (await s.request(3)).closed;
    assert.equal((await p.request(get("/after"), never)).body, "small");
    assert.equal(s.connections(), 3);
  });

  it("through the v2 client, a reply past maxResponseBytes is RESPONSE_TOO_LARGE at once, not retried", async () => {
    const node = JSON.stringify({ action: "get", node: { key: "/k", value: "v".repeat(5000), modifiedIndex: 5, createdIndex: 5 } });
    const s = await server((r, socket) => {
      if (requestLine(r).startsWith("GET /v2/keys/")) socket.write(ok(node, "content-type: application/json\r\nx-etcd-index: 5\r\n"));
      else socket.write(ok('{"health":"true"}'));
    });
    const client = new EtcdV2Client({ endpoints: [s.url], maxResponseBytes: 4096, healthInterval: 60_000 });
    clients.push(client);
    await assert.rejects(client.get("/k"), (e: unknown) => e instanceof EtcdError && e.code === "RESPONSE_TOO_LARGE" && e.delivery === undefined);
    assert.equal(s.requests.filter((r) => requestLine(r).startsWith("GET /v2/keys/")).length, 1);
    const roomy = new EtcdV2Client({ endpoints: [s.url], healthInterval: 60_000 });
    clients.push(roomy);
    assert.equal((await roomy.get("/k")).node?.value?.length, 5000);
  });

  it("a reply with both Transfer-Encoding and Content-Length is read by its chunks and its connection is not reused", async () => {
    const s = await server((r, socket) => {
      if (requestLine(r).startsWith("GET /both ")) socket.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
      else socket.write(ok("plain"));
    });
    const p = pool(s.url, 1024, 1);
    assert.equal((await p.request(get("/both"), never)).body, "hello");
    assert.equal((await p.request(get("/then"), never)).body, "plain");
    assert.equal((await s.request(2)).connection, 2);
    assert.equal(s.connections(), 2);
  });

  it("a connection whose request has not drained from the socket takes no other request (write back-pressure)", async () => {
    let connections = 0;
    const sockets: net.Socket[] = [];
    const raw = net.createServer((socket) => {
      const n = ++connections;
      sockets.push(socket);
      socket.on("error", () => undefined);
      socket.once("data", () => {
        // Answer at once, then stop reading: the client's 8 MiB body stays in its write buffer.
        socket.write(ok(`from ${n}`));
        if (n === 1) socket.pause();
      });
    });
    rawServers.push(raw);
    await new Promise<void>((resolve) => raw.listen(0, "127.0.0.1", resolve));
    const { port } = raw.address() as net.AddressInfo;
    const p = pool(`http://127.0.0.1:${port}`, 1024);
    const first = await p.request({ method: "PUT", path: "/big", headers: "", body: "v".repeat(8 * 1024 * 1024) }, never);
    assert.equal(first.body, "from 1");
    const second = await Promise.race([p.request(get("/small"), never), new Promise<never>((_, reject) => {
        setTimeout(() => {
          reject(new Error("the second request waited behind the undrained one"));
        }, 5_000).unref();
      })]);
    assert.equal(second.body, "from 2", "the second request went to a new connection");
    for (const socket of sockets) socket.destroy();
  });
});
