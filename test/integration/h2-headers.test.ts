/**
 * RFC 9113 §8 header-block rules on responses, against a scripted HTTP/2 peer (node:http2 and
 * etcd never send such blocks): each malformed block is a stream error of type PROTOCOL_ERROR
 * (RST_STREAM to the peer, ERR_H2_MALFORMED to the handler) and nothing else breaks: the
 * connection stays open and its next stream is answered. Through the gRPC transport the call
 * ends MALFORMED_RESPONSE (an EtcdError, with the H2Error only as its cause).
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { EtcdError } from "../../src/errors.js";
import { GrpcTransport } from "../../src/transport/grpc.js";
import { encodeFrame } from "../../src/transport/grpc-frame.js";
import { H2Error, type H2StreamHandler, type HeaderField } from "../../src/transport/h2/connection.js";
import { F, T, connect, h2frame, requestBlock, responseHeaders, scriptedPeer, type PeerConnection } from "./h2-peer.js";
import { rejection } from "./util.js";

const PROTOCOL_ERROR = 0x1;
const GRPC: HeaderField[] = [
  [":status", "200"],
  ["content-type", "application/grpc"],
];

/** Malformed blocks, each as [what, head block, trailers block or undefined (the head is the culprit)]. */
const MALFORMED: readonly (readonly [string, HeaderField[], HeaderField[] | undefined])[] = [
  ["an upper-case field name", [...GRPC, ["Grpc-Status", "0"]], undefined],
  ["a pseudo-header after a regular header", [["content-type", "application/grpc"], [":status", "200"]], undefined],
  ["a request pseudo-header (:path)", [...GRPC.slice(0, 1), [":path", "/x"], ...GRPC.slice(1)], undefined],
  ["an unknown pseudo-header", [[":status", "200"], [":weird", "1"]], undefined],
  ["no :status", [["content-type", "application/grpc"]], undefined],
  ["two :status", [[":status", "200"], [":status", "200"]], undefined],
  ["connection", [...GRPC, ["connection", "keep-alive"]], undefined],
  ["keep-alive", [...GRPC, ["keep-alive", "timeout=5"]], undefined],
  ["transfer-encoding", [...GRPC, ["transfer-encoding", "chunked"]], undefined],
  ["upgrade", [...GRPC, ["upgrade", "h2c"]], undefined],
  ["proxy-connection", [...GRPC, ["proxy-connection", "close"]], undefined],
  ["te other than trailers", [...GRPC, ["te", "gzip"]], undefined],
  ["a pseudo-header in trailers", GRPC, [[":status", "200"], ["grpc-status", "0"]]],
  ["a connection header in trailers", GRPC, [["grpc-status", "0"], ["connection", "close"]]],
];

/**
 * A header block of literal fields without indexing (RFC 7541 §6.2.2), built by hand: our encoder
 * refuses upper-case names, and these tests need to send them. Names and values under 127 bytes.
 */
function encodeHeaders(fields: readonly HeaderField[]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    const n = Buffer.from(name, "latin1");
    const v = Buffer.from(value, "latin1");
    parts.push(Buffer.from([0x00, n.length]), n, Buffer.from([v.length]), v);
  }
  return Buffer.concat(parts);
}

function recorder(): { handler: H2StreamHandler; heads: number; closed: Promise<{ code: number | undefined; error: unknown }> } {
  let done!: (v: { code: number | undefined; error: unknown }) => void;
  const r = {
    heads: 0,
    closed: new Promise<{ code: number | undefined; error: unknown }>((resolve) => (done = resolve)),
    handler: {
      headers: () => {
        r.heads++;
      },
      data: () => undefined,
      close: (code: number | undefined, error: unknown) => {
        done({ code, error });
      },
    } satisfies H2StreamHandler,
  };
  return r;
}

describe("RFC 9113 header-block rules on responses, against a scripted peer", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const c of cleanups) await c();
  });

  it("each malformed block resets only its stream with PROTOCOL_ERROR; the next stream on the connection is answered", async () => {
    const peer = await scriptedPeer(() => undefined);
    cleanups.push(peer.close);
    const c = connect(peer.port);
    cleanups.push(() => {
      c.h2.destroy();
    });
    await c.ready;
    const conn = peer.connections[0] as PeerConnection;
    let id = 1;
    for (const [what, head, trailers] of MALFORMED) {
      const bad = recorder();
      c.h2.request(requestBlock(), bad.handler);
      await conn.waitFor((f) => f.type === T.HEADERS && f.id === id);
      if (trailers === undefined) conn.send(h2frame(T.HEADERS, F.END_HEADERS, id, encodeHeaders(head)));
      else conn.send(h2frame(T.HEADERS, F.END_HEADERS, id, encodeHeaders(head)), h2frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, id, encodeHeaders(trailers)));
      const closed = await bad.closed;
      assert.equal(closed.code, PROTOCOL_ERROR, what);
      assert.ok(closed.error instanceof H2Error && closed.error.code === "ERR_H2_MALFORMED", `${what}: ${String(closed.error)}`);
      assert.equal(bad.heads, trailers === undefined ? 0 : 1, `${what}: the malformed block never reaches the handler`);
      const rst = await conn.waitFor((f) => f.type === T.RST && f.id === id);
      assert.equal(rst.payload.readUInt32BE(0), PROTOCOL_ERROR, what);
      assert.equal(c.h2.state, "open", what);
      id += 2;
      // The connection still serves: a well-formed reply on the next stream ends normally.
      const good = recorder();
      c.h2.request(requestBlock(), good.handler);
      await conn.waitFor((f) => f.type === T.HEADERS && f.id === id);
      conn.send(h2frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, id, responseHeaders()));
      assert.deepEqual(await good.closed, { code: undefined, error: undefined }, what);
      id += 2;
    }
    assert.equal(conn.frames.filter((f) => f.type === T.GOAWAY).length, 0, "no connection error");
  });

  it("through the gRPC transport a malformed reply is MALFORMED_RESPONSE of unknown delivery; the next call on the connection succeeds", async () => {
    let calls = 0;
    const peer = await scriptedPeer((conn) => {
      conn.onFrame = (f) => {
        if (f.type !== T.HEADERS) return;
        calls++;
        if (calls === 1) conn.send(h2frame(T.HEADERS, F.END_HEADERS, f.id, encodeHeaders([...GRPC, ["Connection", "close"]])));
        else {
          conn.send(
            h2frame(T.HEADERS, F.END_HEADERS, f.id, encodeHeaders(GRPC)),
            h2frame(T.DATA, 0, f.id, Buffer.from(encodeFrame(Buffer.from("pong")))),
            h2frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, f.id, encodeHeaders([["grpc-status", "0"]])),
          );
        }
      };
    });
    cleanups.push(peer.close);
    const transport = new GrpcTransport({ dialTimeout: 2_000, keepAlive: 60_000 });
    cleanups.push(() => transport.close());
    const never = new AbortController().signal;
    const e = await rejection(transport.unary(peer.url, "/t.S/M", Buffer.from("ping"), { signal: never }));
    assert.equal(e.code, "MALFORMED_RESPONSE");
    assert.equal(e.delivery, "unknown");
    assert.match(e.message, /malformed response: field name "Connection"/);
    assert.ok(e.cause instanceof H2Error && e.cause.code === "ERR_H2_MALFORMED", "the H2Error is only the cause");
    assert.ok(e instanceof EtcdError);
    const reply = await transport.unary(peer.url, "/t.S/M", Buffer.from("ping"), { signal: never });
    assert.equal(Buffer.from(reply).toString(), "pong");
    assert.equal(peer.connections.length, 1, "one connection served both calls");
  });
});
