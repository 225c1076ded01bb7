/**
 * Our HTTP/2 connection against node's own HTTP/2 server (nghttp2), for what etcd rarely or
 * never does: a low SETTINGS_MAX_CONCURRENT_STREAMS, padded frames, a header block split into
 * CONTINUATION frames, replies and requests far larger than the flow-control windows, pings
 * answered by the server, and (scripted) a server that breaks the protocol or floods header blocks.
 */
import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import { after, describe, it } from "node:test";
import { EtcdError } from "../../src/errors.js";
import { GrpcTransport } from "../../src/transport/grpc.js";
import { encodeFrame } from "../../src/transport/grpc-frame.js";

const never = new AbortController().signal;
const OK_HEADERS = { ":status": 200, "content-type": "application/grpc" };

/** A node HTTP/2 server that echoes each request body back as one gRPC message. */
async function echoServer(options: http2.ServerOptions, trailers: Record<string, string> = { "grpc-status": "0" }, delayMs = 0): Promise<{ url: string; server: http2.Http2Server; peak: () => number }> {
  const server = http2.createServer(options);
  let open = 0;
  let peak = 0;
  server.on("stream", (stream) => {
    open++;
    peak = Math.max(peak, open);
    stream.on("close", () => open--);
    stream.on("error", () => undefined);
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => {
      // The request is one framed message; reply with its payload, framed again.
      const body = Buffer.concat(chunks).subarray(5);
      setTimeout(() => {
        stream.respond(OK_HEADERS, { waitForTrailers: true });
        stream.on("wantTrailers", () => {
          stream.sendTrailers(trailers);
        });
        stream.end(encodeFrame(body));
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return { url: `http://127.0.0.1:${port}`, server, peak: () => peak };
}

/**
 * A scripted server for what no real server sends: it answers the preface with an empty
 * SETTINGS, hands the socket to `onRequest` once the client's first HEADERS frame arrives, and
 * resolves `goaway` with the error code of the first GOAWAY the client sends.
 */
async function scriptedServer(onRequest: (socket: net.Socket) => void): Promise<{ url: string; server: net.Server; goaway: Promise<number> }> {
  let sawGoaway: (code: number) => void = () => undefined;
  const goaway = new Promise<number>((resolve) => {
    sawGoaway = resolve;
  });
  const server = net.createServer((socket) => {
    let buffer = Buffer.alloc(0);
    let prefaceSeen = false;
    let requested = false;
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!prefaceSeen) {
        if (buffer.length < 24) return;
        buffer = buffer.subarray(24);
        prefaceSeen = true;
        socket.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]));
      }
      while (buffer.length >= 9) {
        const length = buffer.readUIntBE(0, 3);
        if (buffer.length < 9 + length) break;
        const type = buffer[3];
        const payload = buffer.subarray(9, 9 + length);
        buffer = buffer.subarray(9 + length);
        if (type === 0x7) sawGoaway(payload.readUInt32BE(4));
        if (type === 0x1 && !requested) {
          requested = true;
          onRequest(socket);
        }
      }
    });
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return { url: `http://127.0.0.1:${port}`, server, goaway };
}

/** One HTTP/2 frame. */
function h2frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

const ENHANCE_YOUR_CALM = 0xb;

describe("HTTP/2 connection against node's HTTP/2 server", () => {
  const transports: GrpcTransport[] = [];
  const servers: http2.Http2Server[] = [];
  const transport = (): GrpcTransport => {
    const t = new GrpcTransport({ dialTimeout: 2_000, keepAlive: 1_000 });
    transports.push(t);
    return t;
  };
  after(async () => {
    await Promise.all(transports.map((t) => t.close()));
    for (const s of servers) s.close();
  });

  it("calls beyond SETTINGS_MAX_CONCURRENT_STREAMS wait for a slot, and all complete", async () => {
    const s = await echoServer({ settings: { maxConcurrentStreams: 3 } }, undefined, 20);
    servers.push(s.server);
    const t = transport();
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => t.unary(s.url, "/t.S/Echo", Buffer.from(`m${i}`), { signal: new AbortController().signal })));
    assert.deepEqual(
      replies.map((r) => Buffer.from(r).toString()),
      Array.from({ length: 20 }, (_, i) => `m${i}`),
    );
    assert.ok(s.peak() <= 3, `the server saw ${s.peak()} streams at once`);
  });

  it("a 3 MiB request and its 3 MiB reply cross 64 KiB windows in both directions", async () => {
    const s = await echoServer({ settings: { initialWindowSize: 65_535 } });
    servers.push(s.server);
    const big = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    const t = transport();
    const [a, b] = await Promise.all([t.unary(s.url, "/t.S/Echo", big, { signal: never }), t.unary(s.url, "/t.S/Echo", big.subarray(1), { signal: never })]);
    assert.ok(Buffer.from(a).equals(big));
    assert.ok(Buffer.from(b).equals(big.subarray(1)));
  });

  it("padded HEADERS and DATA frames are read", async () => {
    const s = await echoServer({ paddingStrategy: http2.constants.PADDING_STRATEGY_MAX });
    servers.push(s.server);
    const reply = await transport().unary(s.url, "/t.S/Echo", Buffer.from("padded"), { signal: never });
    assert.equal(Buffer.from(reply).toString(), "padded");
  });

  it("trailers larger than one frame arrive in CONTINUATION frames", async () => {
    const long = "x".repeat(40_000);
    const s = await echoServer({ maxSendHeaderBlockLength: 100_000 }, { "grpc-status": "3", "grpc-message": long });
    servers.push(s.server);
    try {
      await transport().unary(s.url, "/t.S/Echo", Buffer.from("a"), { signal: never });
      assert.fail("expected a rejection");
    } catch (error) {
      assert.ok(error instanceof EtcdError);
      assert.equal(error.status, 3);
      assert.equal(error.serverMessage?.length, long.length);
    }
  });

  it("a frame larger than our SETTINGS_MAX_FRAME_SIZE fails the call as a protocol error", async () => {
    const s = await scriptedServer((socket) => {
      // A DATA frame header claiming 20,000 bytes on stream 1.
      socket.write(Buffer.concat([Buffer.from([0, 0x4e, 0x20, 0, 0, 0, 0, 0, 1]), Buffer.alloc(100)]));
    });
    try {
      await transport().unary(s.url, "/t.S/Echo", Buffer.from("a"), { signal: never });
      assert.fail("expected a rejection");
    } catch (error) {
      assert.ok(error instanceof EtcdError, String(error));
      assert.equal(error.code, "UNAVAILABLE");
      assert.match(error.message, /SETTINGS_MAX_FRAME_SIZE|protocol/);
    } finally {
      s.server.close();
    }
  });

  it("a header block grown past 256 KiB in CONTINUATION frames ends the connection with ENHANCE_YOUR_CALM", async () => {
    const s = await scriptedServer((socket) => {
      // HEADERS without END_HEADERS, then 17 CONTINUATION frames of 16 KiB, none ending the block:
      // 272 KiB of a block that never finishes; the 16th frame takes it past the limit.
      const frames = [h2frame(0x1, 0, 1, Buffer.from([0x82]))];
      for (let i = 0; i < 17; i++) frames.push(h2frame(0x9, 0, 1, Buffer.alloc(16_384, 0x82)));
      socket.write(Buffer.concat(frames));
    });
    try {
      await assert.rejects(transport().unary(s.url, "/t.S/Echo", Buffer.from("a"), { signal: never }), (error: unknown) => {
        assert.ok(error instanceof EtcdError, String(error));
        assert.equal(error.code, "UNAVAILABLE");
        assert.match(error.message, /grew past 262144 bytes in CONTINUATION/);
        return true;
      });
      assert.equal(await s.goaway, ENHANCE_YOUR_CALM);
    } finally {
      s.server.close();
    }
  });

  it("a small header block that decodes past 256 KiB ends the connection with ENHANCE_YOUR_CALM", async () => {
    const s = await scriptedServer((socket) => {
      // ":status: 200", a 4,000-octet header added to the table, then 100 one-byte references
      // to it: a 4.2 KB block that decodes to over 400 KB.
      const big = Buffer.alloc(4000, 0x78);
      // Literal with indexing, new name "k", value length 4000 as an HPACK integer: 127 in the
      // 7-bit prefix, then 3,873 = 33 + 30 × 128 in two continuation bytes.
      const literal = Buffer.concat([Buffer.from([0x40, 0x01, 0x6b, 0x7f, 0x80 | 33, 30]), big]);
      const block = Buffer.concat([Buffer.from([0x88]), literal, Buffer.alloc(100, 0xbe)]);
      socket.write(h2frame(0x1, 0x4, 1, block));
    });
    try {
      await assert.rejects(transport().unary(s.url, "/t.S/Echo", Buffer.from("a"), { signal: never }), (error: unknown) => {
        assert.ok(error instanceof EtcdError, String(error));
        assert.equal(error.code, "UNAVAILABLE");
        assert.match(error.message, /SETTINGS_MAX_HEADER_LIST_SIZE/);
        return true;
      });
      assert.equal(await s.goaway, ENHANCE_YOUR_CALM);
    } finally {
      s.server.close();
    }
  });
});
