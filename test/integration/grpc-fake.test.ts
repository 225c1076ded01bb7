/**
 * The gRPC transport against scripted HTTP/2 servers on 127.0.0.1, for replies real etcd never
 * sends: trailers-only errors, missing grpc-status, compressed or oversize messages, bodies cut
 * off by RST_STREAM, refused streams, GOAWAY, wrong status or content type, silent sockets.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import http2 from "node:http2";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { EtcdError } from "../../src/errors.js";
import { GrpcTransport, type GrpcTransportOptions } from "../../src/transport/grpc.js";
import { encodeFrame } from "../../src/transport/grpc-frame.js";
import { rejection } from "./util.js";

type Script = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, session: http2.ServerHttp2Session) => void;

const OK_HEADERS = { ":status": 200, "content-type": "application/grpc" };
const never = new AbortController().signal;

/** A server whose reply to each path is scripted; records the request headers it saw. */
class FakeServer {
  readonly server = http2.createServer();
  readonly scripts = new Map<string, Script>();
  readonly seen: http2.IncomingHttpHeaders[] = [];
  readonly resets: number[] = [];
  sessions = 0;
  url = "";

  async start(): Promise<void> {
    this.server.on("session", () => this.sessions++);
    this.server.on("stream", (stream, headers) => {
      this.seen.push(headers);
      stream.on("error", () => undefined);
      stream.on("close", () => this.resets.push(stream.rstCode));
      const script = this.scripts.get(String(headers[":path"]));
      if (script === undefined) stream.respond({ ...OK_HEADERS, "grpc-status": "12" }, { endStream: true });
      else script(stream, headers, stream.session as http2.ServerHttp2Session);
    });
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const address = this.server.address() as net.AddressInfo;
    this.url = `http://127.0.0.1:${address.port}`;
  }
}

/** Replies with `message` in the body and grpc-status 0 in the trailers, after reading the request. */
function echo(message: Uint8Array): Script {
  return (stream) => {
    stream.resume();
    stream.respond(OK_HEADERS, { waitForTrailers: true });
    stream.on("wantTrailers", () => {
      stream.sendTrailers({ "grpc-status": "0" });
    });
    stream.end(encodeFrame(message));
  };
}

describe("gRPC transport against a scripted HTTP/2 server", () => {
  const fake = new FakeServer();
  const transports: GrpcTransport[] = [];
  const transport = (extra: Partial<GrpcTransportOptions> = {}): GrpcTransport => {
    const t = new GrpcTransport({ dialTimeout: 2_000, keepAlive: 1_000, ...extra });
    transports.push(t);
    return t;
  };
  const call = (t: GrpcTransport, path: string, signal = never): Promise<Uint8Array> => t.unary(fake.url, path, Buffer.from("req"), { signal });

  before(async () => {
    await fake.start();
  });
  after(async () => {
    await Promise.all(transports.map((t) => t.close()));
    fake.server.close();
  });

  it("sends the gRPC request headers, the metadata and grpc-timeout, and one framed message", async () => {
    let body = Buffer.alloc(0);
    fake.scripts.set("/t.S/Headers", (stream) => {
      stream.on("data", (c: Buffer) => (body = Buffer.concat([body, c])));
      stream.on("end", () => {
        echo(Buffer.from("ok"))(stream, {}, stream.session as http2.ServerHttp2Session);
      });
    });
    const reply = await transport().unary(fake.url, "/t.S/Headers", Buffer.from("hello"), { signal: never, metadata: { token: "tok", hasleader: "true" }, timeout: 1500 });
    assert.equal(Buffer.from(reply).toString(), "ok");
    const h = fake.seen.at(-1)!;
    assert.equal(h[":method"], "POST");
    assert.equal(h["content-type"], "application/grpc");
    assert.equal(h.te, "trailers");
    assert.equal(h["user-agent"], "etcd-ts");
    assert.equal(h["grpc-timeout"], "1500m");
    assert.equal(h.token, "tok");
    assert.equal(h.hasleader, "true");
    assert.deepEqual(body, encodeFrame(Buffer.from("hello")));
  });

  it("a trailers-only error is read from the headers, with grpc-message percent-decoded", async () => {
    fake.scripts.set("/t.S/TrailersOnly", (stream) => {
      stream.respond({ ...OK_HEADERS, "grpc-status": "5", "grpc-message": "etcdserver: requested%20lease not found" }, { endStream: true });
    });
    const e = await rejection(call(transport(), "/t.S/TrailersOnly"));
    assert.equal(e.code, "LEASE_NOT_FOUND");
    assert.equal(e.status, 5);
    assert.equal(e.serverMessage, "etcdserver: requested lease not found");
    assert.equal(e.delivery, undefined);
  });

  it("a reply that ends without grpc-status is UNAVAILABLE of unknown delivery", async () => {
    fake.scripts.set("/t.S/NoStatus", (stream) => {
      stream.respond(OK_HEADERS);
      stream.end(encodeFrame(Buffer.from("x")));
    });
    const e = await rejection(call(transport(), "/t.S/NoStatus"));
    assert.equal(e.code, "UNAVAILABLE");
    assert.equal(e.delivery, "unknown");
    assert.match(e.message, /without a grpc-status/);
  });

  it("a compressed message is MALFORMED_RESPONSE, and the stream is reset", async () => {
    fake.scripts.set("/t.S/Compressed", (stream) => {
      const frame = encodeFrame(Buffer.from("x"));
      frame[0] = 1;
      stream.respond(OK_HEADERS);
      stream.write(frame);
    });
    const e = await rejection(call(transport(), "/t.S/Compressed"));
    assert.equal(e.code, "MALFORMED_RESPONSE");
    assert.equal(e.delivery, "unknown");
    await waitFor(() => fake.resets.includes(http2.constants.NGHTTP2_CANCEL));
  });

  it("a message over maxMessageBytes is MESSAGE_TOO_LARGE (no member failure) as soon as its prefix arrives", async () => {
    fake.scripts.set("/t.S/Oversize", (stream) => {
      stream.respond(OK_HEADERS);
      stream.write(Buffer.from([0, 0, 0, 4, 0]));
    });
    const e = await rejection(call(transport({ maxMessageBytes: 1000 }), "/t.S/Oversize"));
    assert.equal(e.code, "MESSAGE_TOO_LARGE");
    assert.equal(e.delivery, undefined);
    assert.match(e.message, /1024 bytes exceeds the 1000-byte limit/);
  });

  it("a body cut off by RST_STREAM is UNAVAILABLE of unknown delivery", async () => {
    fake.scripts.set("/t.S/Cut", (stream) => {
      stream.respond(OK_HEADERS);
      stream.write(Buffer.concat([Buffer.from([0, 0, 0, 0, 100]), Buffer.alloc(10)]), () => {
        stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      });
    });
    const e = await rejection(call(transport(), "/t.S/Cut"));
    assert.equal(e.code, "UNAVAILABLE");
    assert.equal(e.delivery, "unknown");
    // node's server reports a stream whose request side ended as closed with NO_ERROR, whatever code
    // it was given; what the client knows for sure is where the body stopped.
    assert.match(e.message, /cut off inside a message|reset/);
  });

  it("a stream reset by the server reports the HTTP/2 error code, as UNAVAILABLE of unknown delivery", async () => {
    fake.scripts.set("/t.S/Reset", (stream) => {
      stream.respond(OK_HEADERS);
      stream.write(encodeFrame(Buffer.from("first")), () => {
        stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      });
    });
    const got: string[] = [];
    const error = await new Promise<EtcdError | undefined>((resolve) => {
      transport().stream(fake.url, "/t.S/Reset", {}, { onMessage: (m) => got.push(Buffer.from(m).toString()), onClose: resolve });
    });
    assert.deepEqual(got, ["first"]);
    assert.equal(error?.code, "UNAVAILABLE");
    assert.equal(error.delivery, "unknown");
    assert.match(error.message, /reset \(HTTP\/2 error code 2\)/);
  });

  it("a reply that ends inside a message, even with grpc-status 0, is MALFORMED_RESPONSE", async () => {
    fake.scripts.set("/t.S/Short", (stream) => {
      stream.respond(OK_HEADERS, { waitForTrailers: true });
      stream.on("wantTrailers", () => {
        stream.sendTrailers({ "grpc-status": "0" });
      });
      stream.end(Buffer.from([0, 0, 0, 0, 9, 1, 2]));
    });
    const e = await rejection(call(transport(), "/t.S/Short"));
    assert.equal(e.code, "MALFORMED_RESPONSE");
    assert.equal(e.delivery, "unknown");
  });

  it("RST_STREAM(REFUSED_STREAM) means the server never ran it: unsent", async () => {
    fake.scripts.set("/t.S/Refused", (stream) => {
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    });
    const e = await rejection(call(transport(), "/t.S/Refused"));
    assert.equal(e.code, "UNAVAILABLE");
    assert.equal(e.delivery, "unsent");
  });

  it("an HTTP status other than 200 is UNEXPECTED_STATUS; another content type is MALFORMED_RESPONSE", async () => {
    fake.scripts.set("/t.S/503", (stream) => {
      stream.respond({ ":status": 503, "content-type": "text/plain" });
      stream.end("busy");
    });
    fake.scripts.set("/t.S/Html", (stream) => {
      stream.respond({ ":status": 200, "content-type": "text/html" });
      stream.end("<html>");
    });
    const t = transport();
    const a = await rejection(call(t, "/t.S/503"));
    assert.equal(a.code, "UNEXPECTED_STATUS");
    assert.equal(a.delivery, "unknown");
    const b = await rejection(call(t, "/t.S/Html"));
    assert.equal(b.code, "MALFORMED_RESPONSE");
    assert.equal(b.delivery, "unknown");
  });

  it("GOAWAY: calls the server accepted finish, later ones beyond lastStreamID are unsent, new calls use a new session", async () => {
    const t = transport();
    fake.scripts.set("/t.S/Echo", echo(Buffer.from("e")));
    await call(t, "/t.S/Echo");
    const sessionsBefore = fake.sessions;
    const held: http2.ServerHttp2Stream[] = [];
    fake.scripts.set("/t.S/Hold", (stream) => {
      stream.resume();
      held.push(stream);
      if (held.length === 2) {
        // Accept the first held stream only; the second is beyond lastStreamID.
        stream.session?.goaway(http2.constants.NGHTTP2_NO_ERROR, held[0]!.id ?? 0);
        echo(Buffer.from("first"))(held[0]!, {}, stream.session as http2.ServerHttp2Session);
      }
    });
    const first = call(t, "/t.S/Hold");
    await waitFor(() => held.length === 1);
    const second = rejection(call(t, "/t.S/Hold"));
    assert.equal(Buffer.from(await first).toString(), "first");
    const e = await second;
    assert.equal(e.delivery, "unsent");
    await call(t, "/t.S/Echo");
    assert.equal(fake.sessions, sessionsBefore + 1);
  });

  it("a bidi stream delivers each message and closes once with no error on status 0", async () => {
    fake.scripts.set("/t.S/Bidi", (stream) => {
      stream.respond(OK_HEADERS, { waitForTrailers: true });
      stream.on("wantTrailers", () => {
        stream.sendTrailers({ "grpc-status": "0" });
      });
      stream.on("data", (chunk: Buffer) => {
        // Echo every byte back in 3-byte pieces, so messages cross DATA frames.
        for (let i = 0; i < chunk.length; i += 3) stream.write(chunk.subarray(i, i + 3));
      });
      stream.on("end", () => stream.end());
    });
    const got: string[] = [];
    const closed = new Promise<EtcdError | undefined>((resolve) => {
      const s = transport().stream(fake.url, "/t.S/Bidi", {}, { onMessage: (m) => got.push(Buffer.from(m).toString()), onClose: resolve });
      s.write(Buffer.from("one"));
      s.write(Buffer.from("second message"));
      s.end();
    });
    assert.equal(await closed, undefined);
    assert.deepEqual(got, ["one", "second message"]);
  });

  it("a cancelled stream is reset with CANCEL and onClose is not called", async () => {
    let serverStream: http2.ServerHttp2Stream | undefined;
    fake.scripts.set("/t.S/Idle", (stream) => {
      serverStream = stream;
      stream.respond(OK_HEADERS);
    });
    let closes = 0;
    const s = transport().stream(fake.url, "/t.S/Idle", {}, { onMessage: () => undefined, onClose: () => closes++ });
    await waitFor(() => serverStream !== undefined);
    s.cancel();
    await waitFor(() => serverStream?.closed === true);
    assert.equal(serverStream?.rstCode, http2.constants.NGHTTP2_CANCEL);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(closes, 0);
  });

  it("abort after send rejects with the signal's reason unchanged and resets the stream", async () => {
    let serverStream: http2.ServerHttp2Stream | undefined;
    fake.scripts.set("/t.S/Never", (stream) => {
      serverStream = stream;
      stream.resume();
    });
    const ac = new AbortController();
    const pending = call(transport(), "/t.S/Never", ac.signal);
    await waitFor(() => serverStream !== undefined);
    const reason = new Error("caller gave up");
    ac.abort(reason);
    await assert.rejects(pending, (e) => e === reason);
    await waitFor(() => serverStream?.closed === true);
    assert.equal(serverStream?.rstCode, http2.constants.NGHTTP2_CANCEL);
  });

  it("close() fails calls in flight with CLIENT_CLOSED and rejects later ones", async () => {
    fake.scripts.set("/t.S/Never", (stream) => stream.resume());
    const t = transport();
    const pending = rejection(call(t, "/t.S/Never"));
    await new Promise((r) => setTimeout(r, 100));
    await t.close();
    assert.equal((await pending).code, "CLIENT_CLOSED");
    assert.equal((await rejection(call(t, "/t.S/Never"))).code, "CLIENT_CLOSED");
  });

  describe("a port that accepts TCP but never speaks HTTP/2", () => {
    const silent = net.createServer((socket) => socket.on("error", () => undefined));
    let url = "";
    before(async () => {
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
      url = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    });
    after(() => {
      silent.close();
    });

    it("fails calls as unsent after dialTimeout", async () => {
      const t = transport({ dialTimeout: 300 });
      const started = performance.now();
      const e = await rejection(t.unary(url, "/t.S/X", Buffer.from("x"), { signal: never }));
      const took = performance.now() - started;
      assert.equal(e.code, "UNAVAILABLE");
      assert.equal(e.delivery, "unsent");
      assert.ok(took >= 250 && took < 3_000, `took ${took} ms`);
    });

    it("an abort while waiting for the session is unsent, not the caller's reason", async () => {
      const t = transport({ dialTimeout: 5_000 });
      const ac = new AbortController();
      const pending = rejection(t.unary(url, "/t.S/X", Buffer.from("x"), { signal: ac.signal }));
      setTimeout(() => {
        ac.abort(new Error("stop"));
      }, 100);
      const e = await pending;
      assert.equal(e.code, "UNAVAILABLE");
      assert.equal(e.delivery, "unsent");
    });
  });

  it("a pending call keeps the process alive; an idle client does not", async () => {
    fake.scripts.set("/t.S/Slow", (stream) => {
      setTimeout(() => {
        echo(Buffer.from("late"))(stream, {}, stream.session as http2.ServerHttp2Session);
      }, 700);
    });
    // The child neither closes the transport nor holds a timer: only our session refs can keep it up.
    const program = `
      import { GrpcTransport } from ${JSON.stringify(new URL("../../src/transport/grpc.ts", import.meta.url).pathname)};
      const t = new GrpcTransport({ dialTimeout: 2000, keepAlive: 1000 });
      t.unary(${JSON.stringify(fake.url)}, "/t.S/Slow", new Uint8Array(0), { signal: new AbortController().signal })
        .then((r) => console.log("reply", Buffer.from(r).toString()), (e) => console.log("error", e.message));
    `;
    const started = performance.now();
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", program], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    const took = performance.now() - started;
    assert.equal(code, 0);
    assert.match(out, /reply late/);
    // It exits on its own once idle, although the server keeps the connection open.
    assert.ok(took < 15_000, `child took ${took} ms`);
  });
});

async function waitFor(condition: () => boolean, ms = 5_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) assert.fail("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
