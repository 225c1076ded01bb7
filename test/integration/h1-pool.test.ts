/**
 * The HTTP/1.1 connection pool (src/transport/h1.ts) against servers on loopback: mostly raw TCP
 * servers that read the request's bytes and write exact reply bytes, so a test controls framing
 * and timing to the byte, plus node's own HTTP server as a strict parser of what we send.
 *
 * A scripted server is needed because a real etcd can't produce these replies: a chunked reply
 * dribbled a byte at a time with a chunk extension and trailers, interim 1xx replies, a body framed
 * by the end of the connection, malformed heads, a body cut short, bytes nobody asked for, a reply
 * head past 64 KiB, or a server that takes a request and never answers. The pool's bookkeeping
 * (keep-alive reuse, the connection limit, aborts queued or written, close) is checked by counting
 * the connections and requests the server sees.
 */
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { after, describe, it } from "node:test";
import { setImmediate as tick, setTimeout as sleep } from "node:timers/promises";
import { H1Pool, type H1Reply } from "../../src/transport/h1.js";
import { dribble, failure, get, ok, requestLine, scripted, type Script, type Scripted } from "./h1-scripted.js";

const never = new AbortController().signal;

describe("HTTP/1.1 pool against scripted servers", () => {
  const pools: H1Pool[] = [];
  const servers: Scripted[] = [];
  const cleanups: (() => void)[] = [];
  const pool = (url: string, connections = 0, dialTimeout = 1_000): H1Pool => {
    const p = new H1Pool(url, { dialTimeout, keepAlive: 1_000, tls: undefined, connections, maxResponseBytes: 1 << 20 });
    pools.push(p);
    return p;
  };
  const server = async (script: Script): Promise<Scripted> => {
    const s = await scripted(script);
    servers.push(s);
    return s;
  };
  after(() => {
    for (const p of pools) p.close();
    for (const s of servers) s.close();
    for (const c of cleanups) c();
  });

  it("sends one request line, host and the extra headers, and reads a Content-Length reply", async () => {
    const s = await server((_r, socket) => {
      socket.write(ok("hello", "X-Etcd-Index: 7\r\nSet-Cookie: a\r\nSet-Cookie: b\r\n"));
    });
    const reply = await pool(s.url).request(get("/v2/keys/a?recursive=true", "accept: application/json\r\nx-extra: 1\r\n"), never);
    assert.equal(reply.status, 200);
    assert.equal(reply.body, "hello");
    assert.equal(reply.headers["x-etcd-index"], "7");
    assert.equal(reply.headers["content-length"], "5");
    assert.deepEqual(reply.headers["set-cookie"], ["a", "b"]);

    const r = await s.request(1);
    assert.equal(requestLine(r), "GET /v2/keys/a?recursive=true HTTP/1.1");
    assert.equal(r.lines.filter((l) => / HTTP\/1\.[01]$/.test(l)).length, 1, r.head);
    assert.deepEqual(r.lines.slice(1).sort(), [`host: 127.0.0.1:${s.port}`, "accept: application/json", "x-extra: 1"].sort());
    assert.equal(r.body.length, 0);
    assert.equal(r.raw.toString("latin1"), `${r.head}\r\n\r\n`);
    assert.equal(r.events, 1, "a small request arrives in one write");
  });

  it("a PUT carries its UTF-8 body with content-length in bytes, in one write", async () => {
    const s = await server((_r, socket) => {
      socket.write(ok("done"));
    });
    const p = pool(s.url);
    const body = "välue=ü";
    const reply = await p.request({ method: "PUT", path: "/v2/keys/k", headers: "content-type: application/x-www-form-urlencoded\r\n", body }, never);
    assert.equal(reply.body, "done");
    const r = await s.request(1);
    assert.equal(requestLine(r), "PUT /v2/keys/k HTTP/1.1");
    assert.ok(r.lines.includes(`host: 127.0.0.1:${s.port}`), r.head);
    assert.ok(r.lines.includes("content-type: application/x-www-form-urlencoded"), r.head);
    assert.deepEqual(
      r.lines.filter((l) => l.toLowerCase().startsWith("content-length:")),
      [`content-length: ${Buffer.byteLength(body)}`],
    );
    assert.equal(Buffer.byteLength(body), 9);
    assert.ok(r.body.equals(Buffer.from(body, "utf8")), `body bytes ${r.body.toString("hex")}`);
    assert.equal(r.events, 1, "head and body arrive in one write");

    // A PUT without a body still says how long its (empty) body is.
    await p.request({ method: "PUT", path: "/v2/keys/e", headers: "", body: undefined }, never);
    const e = await s.request(2);
    assert.ok(e.lines.includes("content-length: 0"), e.head);
    assert.equal(e.body.length, 0);
  });

  it("a chunked reply written a byte at a time, with a chunk extension and trailers, is reassembled", async () => {
    const reply = Buffer.concat([
      Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n"),
      // A two-byte character split across two chunks.
      Buffer.from("3\r\n!a"),
      Buffer.from([0xc3]),
      Buffer.from("\r\n2\r\n"),
      Buffer.from([0xbc]),
      Buffer.from("z\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: t\r\nX-Other: u\r\n\r\n"),
    ]);
    const s = await server((r, socket) => {
      if (r.connection === 1 && s.requests.length === 1) {
        void dribble(socket, [...reply].map((b) => Buffer.from([b])), () => tick());
      } else socket.write(ok("after"));
    });
    const p = pool(s.url);
    const got = await p.request(get("/chunked"), never);
    assert.equal(got.status, 200);
    assert.equal(got.body, "hello, world!aüzabcdefghijklmnopqrstuvwxyz");
    assert.equal(got.headers["x-a"], "1");
    // The connection was left exactly at the end of the reply: it carries the next one.
    assert.equal((await p.request(get("/next"), never)).body, "after");
    assert.equal(s.connections(), 1);
  });

  it("a chunked reply split inside the size line, the CRLFs and the data is reassembled", async () => {
    const pieces = [
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r",
      "\n\r",
      "\n",
      "1",
      "0;ex",
      "t=1\r",
      "\n0123",
      "456789abcdef",
      "\r",
      "\n3\r\nxyz",
      "\r",
      "\n0\r",
      "\nTrailer-A: 1\r",
      "\n\r",
      "\n",
    ];
    const s = await server((r, socket) => {
      if (s.requests.length === 1) void dribble(socket, pieces, () => sleep(2));
      else socket.write(ok(`again ${requestLine(r)}`));
    });
    const p = pool(s.url);
    const got = await p.request(get("/split"), never);
    assert.equal(got.body, "0123456789abcdefxyz");
    assert.equal((await p.request(get("/next"), never)).body, "again GET /next HTTP/1.1");
    assert.equal(s.connections(), 1);
  });

  it("a reply with neither Content-Length nor chunked ends with the connection, which is not reused", async () => {
    const s = await server((r, socket) => {
      if (r.connection === 1) {
        void (async () => {
          socket.write("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\npart one, ");
          await sleep(5);
          socket.write("part two");
          await sleep(5);
          socket.end();
        })();
      } else socket.write(ok("second"));
    });
    const p = pool(s.url);
    const first = await p.request(get("/until-close"), never);
    assert.equal(first.status, 200);
    assert.equal(first.body, "part one, part two");
    const second = await p.request(get("/next"), never);
    assert.equal(second.body, "second");
    assert.equal(s.connections(), 2);
    assert.equal((await s.request(2)).connection, 2);
  });

  it("keep-alive: sequential requests share one connection; after `connection: close` a new one opens", async () => {
    const s = await server((r, socket) => {
      socket.write(requestLine(r).startsWith("GET /close ") ? ok("bye", "Connection: close\r\n") : ok(`n${s.requests.length}`));
    });
    const p = pool(s.url);
    assert.equal((await p.request(get("/a"), never)).body, "n1");
    assert.equal((await p.request(get("/b"), never)).body, "n2");
    assert.equal(s.connections(), 1);
    assert.equal((await p.request(get("/close"), never)).body, "bye");
    // The server left its side open: the client must have closed it.
    await (await s.request(3)).closed;
    assert.equal((await p.request(get("/c"), never)).body, "n4");
    assert.equal(s.connections(), 2);
    assert.equal((await s.request(4)).connection, 2);
  });

  it("interim 1xx replies before the real one are skipped", async () => {
    const s = await server((r, socket) => {
      if (s.requests.length === 1) {
        void dribble(socket, ["HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 102 Processing\r\nX-Interim: 1\r\n\r\n", ok("real", "X-Real: yes\r\n")], () => sleep(2));
      } else socket.write(`HTTP/1.1 100 Continue\r\n\r\n${ok(`then ${requestLine(r)}`)}`);
    });
    const p = pool(s.url);
    const got = await p.request({ method: "PUT", path: "/k", headers: "", body: "v" }, never);
    assert.equal(got.status, 200);
    assert.equal(got.body, "real");
    assert.equal(got.headers["x-real"], "yes");
    assert.equal(got.headers["x-interim"], undefined);
    // Interim and final reply in one segment.
    assert.equal((await p.request(get("/k2"), never)).body, "then GET /k2 HTTP/1.1");
    assert.equal(s.connections(), 1);
  });

  it("a HEAD reply declaring Content-Length: 10 has no body, and the connection serves the next GET", async () => {
    const s = await server((r, socket) => {
      if (requestLine(r).startsWith("HEAD ")) socket.write("HTTP/1.1 200 OK\r\ncontent-length: 10\r\nx-head: 1\r\n\r\n");
      else socket.write(ok("0123456789"));
    });
    const p = pool(s.url);
    const head = await p.request({ method: "HEAD", path: "/h", headers: "", body: undefined }, never);
    assert.equal(head.status, 200);
    assert.equal(head.body, "");
    assert.equal(head.headers["content-length"], "10");
    assert.equal(requestLine(await s.request(1)), "HEAD /h HTTP/1.1");
    const body = await p.request(get("/g"), never);
    assert.equal(body.body, "0123456789");
    assert.equal(s.connections(), 1);
  });

  it("a 204 has no body, and the connection serves the next request", async () => {
    const s = await server((_r, socket) => {
      socket.write(s.requests.length === 1 ? "HTTP/1.1 204 No Content\r\nx-a: 1\r\n\r\n" : ok("next"));
    });
    const p = pool(s.url);
    const empty = await p.request({ method: "DELETE", path: "/d", headers: "", body: undefined }, never);
    assert.equal(empty.status, 204);
    assert.equal(empty.body, "");
    assert.equal(empty.headers["x-a"], "1");
    assert.equal((await p.request(get("/n"), never)).body, "next");
    assert.equal(s.connections(), 1);
  });

  it("a malformed status line, a bad content-length and two different content-lengths fail as HTTP_PARSE", async () => {
    const replies: Record<string, string> = {
      "/status": "HTTP/1.1 OK\r\ncontent-length: 2\r\n\r\nok",
      "/garbled": "HTTX/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
      "/length": "HTTP/1.1 200 OK\r\ncontent-length: 12abc\r\n\r\n123456789012",
      "/two": "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n123456",
      "/fine": ok("fine"),
    };
    const s = await server((r, socket) => {
      const path = requestLine(r).split(" ")[1] ?? "";
      socket.write(replies[path] ?? "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
    });
    const p = pool(s.url);
    for (const path of ["/status", "/garbled", "/length", "/two"]) {
      const error = await failure(p.request(get(path), never), "HTTP_PARSE");
      assert.equal(error.written, true, path);
    }
    // Each broken connection was dropped; the pool still works.
    assert.equal((await p.request(get("/fine"), never)).body, "fine");
    assert.equal(s.connections(), 5);
  });

  it("a server closing after half the declared body fails the request as SOCKET_CLOSED, written", async () => {
    const s = await server((_r, socket) => {
      socket.end("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n01234");
    });
    const error = await failure(pool(s.url).request(get("/half"), never), "SOCKET_CLOSED");
    assert.equal(error.written, true);
  });

  it("a refused connection fails every waiting request fast as ECONNREFUSED, unsent", async () => {
    const dead = net.createServer();
    await new Promise<void>((resolve) => dead.listen(0, "127.0.0.1", resolve));
    const { port } = dead.address() as net.AddressInfo;
    await new Promise<void>((resolve) => dead.close(() => { resolve(); }));
    const p = pool(`http://127.0.0.1:${port}`, 1);
    const started = performance.now();
    const errors = await Promise.all([1, 2, 3].map((i) => failure(p.request(get(`/${i}`), never), "ECONNREFUSED")));
    const elapsed = performance.now() - started;
    for (const error of errors) assert.equal(error.written, false);
    assert.ok(elapsed < 500, `took ${elapsed.toFixed(0)} ms`);
  });

  it("a TLS handshake that never completes fails as CONNECT_TIMEOUT after dialTimeout, unsent", async () => {
    // A loopback server that accepts and never answers the ClientHello: the dial can't finish.
    const s = await server(() => undefined);
    const accepted = new Promise<net.Socket>((resolve) => s.server.once("connection", resolve));
    const p = pool(`https://127.0.0.1:${s.port}`, 1, 100);
    const started = performance.now();
    const error = await failure(p.request(get("/tls"), never), "CONNECT_TIMEOUT");
    const elapsed = performance.now() - started;
    assert.equal(error.written, false);
    assert.ok(elapsed >= 90 && elapsed < 800, `took ${elapsed.toFixed(0)} ms`);
    // The half-open connection was torn down.
    const socket = await accepted;
    if (!socket.destroyed) await new Promise((resolve) => socket.once("close", resolve));
    assert.equal(s.requests.length, 0);
  });

  it("aborting a queued request fails it unsent with the abort reason; the request ahead completes", async () => {
    const s = await server((r, socket) => {
      const delay = s.requests.length === 1 ? 50 : 0;
      setTimeout(() => socket.write(ok(`for ${requestLine(r)}`)), delay);
    });
    const p = pool(s.url, 1);
    const first = p.request(get("/slow"), never);
    await s.request(1);
    const controller = new AbortController();
    const second = p.request(get("/queued"), controller.signal);
    const reason = new Error("caller gave up");
    controller.abort(reason);
    const error = await failure(second, "ABORTED");
    assert.equal(error.written, false);
    assert.equal(error.cause, reason);
    assert.equal((await first).body, "for GET /slow HTTP/1.1");
    // The aborted request never left: the next one on the connection is the third.
    assert.equal((await p.request(get("/third"), never)).body, "for GET /third HTTP/1.1");
    assert.deepEqual(
      s.requests.map((r) => requestLine(r)),
      ["GET /slow HTTP/1.1", "GET /third HTTP/1.1"],
    );
    assert.equal(s.connections(), 1);
  });

  it("aborting a written request fails it as written and closes its connection", async () => {
    const s = await server(() => undefined);
    const p = pool(s.url);
    const controller = new AbortController();
    const pending = p.request(get("/never"), controller.signal);
    const r = await s.request(1);
    const reason = new Error("deadline");
    controller.abort(reason);
    const error = await failure(pending, "ABORTED");
    assert.equal(error.written, true);
    assert.equal(error.cause, reason);
    await r.closed;
  });

  it("with connections: 2, five concurrent requests never hold more than two connections", async () => {
    const s = await server((r, socket) => {
      setTimeout(() => socket.write(ok(requestLine(r))), 50);
    });
    const p = pool(s.url, 2);
    const replies = await Promise.all([0, 1, 2, 3, 4].map((i) => p.request(get(`/p${i}`), never)));
    assert.deepEqual(
      replies.map((r) => r.body),
      [0, 1, 2, 3, 4].map((i) => `GET /p${i} HTTP/1.1`),
    );
    assert.equal(s.peak(), 2);
    assert.equal(s.connections(), 2);
  });

  it("with connections: 0, five concurrent long requests open five connections", async () => {
    const s = await server((r, socket) => {
      setTimeout(() => socket.write(ok(requestLine(r))), 50);
    });
    const p = pool(s.url, 0);
    const replies = await Promise.all([0, 1, 2, 3, 4].map((i) => p.request(get(`/u${i}`), never)));
    assert.deepEqual(
      replies.map((r) => r.body),
      [0, 1, 2, 3, 4].map((i) => `GET /u${i} HTTP/1.1`),
    );
    assert.equal(s.connections(), 5);
    assert.equal(s.peak(), 5);
  });

  it("an idle connection the server closed is dropped; the next request opens a new one", async () => {
    const s = await server((r, socket) => {
      socket.write(ok(`c${r.connection}`));
      if (r.connection === 1) socket.end();
    });
    const p = pool(s.url);
    assert.equal((await p.request(get("/1"), never)).body, "c1");
    await sleep(50);
    assert.equal((await p.request(get("/2"), never)).body, "c2");
    assert.equal(s.connections(), 2);
  });

  it("close() fails queued requests as CLOSED, unsent, and the one in flight with an H1Error", async () => {
    const s = await server(() => undefined);
    const p = pool(s.url, 1);
    const inFlight = p.request(get("/held"), never);
    const r = await s.request(1);
    const queued = [p.request(get("/q1"), never), p.request(get("/q2"), never)];
    p.close();
    for (const q of queued) assert.equal((await failure(q, "CLOSED")).written, false);
    const error = await failure(inFlight);
    assert.equal(error.written, true);
    assert.equal((await failure(p.request(get("/late"), never), "CLOSED")).written, false);
    await r.closed;
    assert.equal(s.requests.length, 1);
  });

  it("bytes after a complete reply: the reply stands, the connection is not reused", async () => {
    const s = await server((r, socket) => {
      if (r.connection === 1) socket.write(`${ok("ok")}garbage`);
      else if (r.connection === 2) {
        socket.write(ok("clean"));
        setTimeout(() => socket.write("HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\n\r\n"), 10);
      } else socket.write(ok(`fresh ${r.connection}`));
    });
    const p = pool(s.url);
    assert.equal((await p.request(get("/1"), never)).body, "ok");
    assert.equal((await p.request(get("/2"), never)).body, "clean");
    assert.equal(s.connections(), 2);
    // The unsolicited 408 arrives while the connection is idle.
    await sleep(50);
    assert.equal((await p.request(get("/3"), never)).body, "fresh 3");
    assert.equal(s.connections(), 3);
  });

  it("a reply head larger than 64 KiB fails as HTTP_PARSE", async () => {
    const big = (n: number): string => `HTTP/1.1 200 OK\r\nx-big: ${"a".repeat(n)}\r\ncontent-length: 2\r\n\r\nok`;
    const s = await server((r, socket) => {
      const path = requestLine(r).split(" ")[1];
      if (path === "/70k") socket.write(big(70 * 1024));
      else if (path === "/endless") socket.write(`HTTP/1.1 200 OK\r\nx-big: ${"b".repeat(1024 * 1024)}`);
      else socket.write(ok("small"));
    });
    const p = pool(s.url);
    assert.equal((await failure(p.request(get("/endless"), never), "HTTP_PARSE")).written, true);
    assert.equal((await failure(p.request(get("/70k"), never), "HTTP_PARSE")).written, true);
    assert.equal((await p.request(get("/small"), never)).body, "small");
  });
});

describe("HTTP/1.1 pool against node's HTTP server", () => {
  const pools: H1Pool[] = [];
  const servers: http.Server[] = [];
  after(() => {
    for (const p of pools) p.close();
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
  });

  it("node's strict parser accepts our requests, and its chunked replies are read on one connection", async () => {
    let connections = 0;
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        // Two writes and no length: node frames the reply as chunked.
        res.write(JSON.stringify({ method: req.method, url: req.url, headers: req.headers }));
        res.write("\n");
        res.end(Buffer.concat(chunks));
      });
    });
    servers.push(server);
    server.on("connection", () => connections++);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as net.AddressInfo;
    const p = new H1Pool(`http://127.0.0.1:${port}`, { dialTimeout: 1_000, keepAlive: 1_000, tls: undefined, connections: 1, maxResponseBytes: 1 << 20 });
    pools.push(p);

    const replies: H1Reply[] = [];
    replies.push(await p.request({ method: "PUT", path: "/v2/keys/k?prevExist=false", headers: "content-type: application/x-www-form-urlencoded\r\n", body: "value=välue" }, never));
    replies.push(await p.request(get("/v2/keys/k", "accept: application/json\r\n"), never));
    replies.push(await p.request({ method: "DELETE", path: "/v2/keys/k", headers: "", body: undefined }, never));
    for (const r of replies) {
      assert.equal(r.status, 200);
      assert.equal(r.headers["transfer-encoding"], "chunked");
    }
    const seen = (r: H1Reply): { method: string; url: string; headers: Record<string, string>; body: string } => {
      const nl = r.body.indexOf("\n");
      const echoed = JSON.parse(r.body.slice(0, nl)) as { method: string; url: string; headers: Record<string, string> };
      return { ...echoed, body: r.body.slice(nl + 1) };
    };
    const [put, getReply, del] = [seen(replies[0]!), seen(replies[1]!), seen(replies[2]!)];
    assert.equal(put.method, "PUT");
    assert.equal(put.url, "/v2/keys/k?prevExist=false");
    assert.equal(put.headers.host, `127.0.0.1:${port}`);
    assert.equal(put.headers["content-type"], "application/x-www-form-urlencoded");
    assert.equal(put.headers["content-length"], String(Buffer.byteLength("value=välue")));
    assert.equal(put.body, "value=välue");
    assert.equal(getReply.method, "GET");
    assert.equal(getReply.url, "/v2/keys/k");
    assert.equal(getReply.headers.accept, "application/json");
    assert.equal(getReply.headers["content-length"], undefined);
    assert.equal(getReply.body, "");
    assert.equal(del.method, "DELETE");
    assert.equal(connections, 1);
  });
});
