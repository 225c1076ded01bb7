/**
 * The gRPC transport's limits against a scripted peer: a reply declaring 500 MiB gets a typed
 * error while memory stays within the limit (and, under a raised limit, grows only with the
 * bytes that actually arrive); a 1xx block before the response; a PING flood ending only its
 * connection; a full call queue. Each time the rest of the transport goes on working.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import v8 from "node:v8";
import vm from "node:vm";
import { EtcdError } from "../../src/errors.js";
import { GrpcTransport, type GrpcTransportOptions } from "../../src/transport/grpc.js";
import { encodeFrame } from "../../src/transport/grpc-frame.js";
import { H2Error } from "../../src/transport/h2/connection.js";
import { encodeHeaders } from "../../src/transport/h2/hpack-encode.js";
import { F, T, h2frame, responseHeaders, scriptedPeer, settings, type PeerConnection, type PeerFrame } from "./h2-peer.js";

const MiB = 1024 * 1024;

// A full GC before each reading, so that garbage (the scripted peer's own buffers among it) does not count.
v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;
function arrayBuffers(): number {
  gc();
  return process.memoryUsage().arrayBuffers;
}
const TRAILERS_OK = encodeHeaders([["grpc-status", "0"]]);

/** Runs `reply` for each request the client completes (its DATA with END_STREAM), by path-less stream id. */
function onRequest(peer: PeerConnection, reply: (id: number, nth: number) => void): void {
  let n = 0;
  peer.onFrame = (f: PeerFrame) => {
    if (f.type === T.DATA && (f.flags & F.END_STREAM) !== 0) reply(f.id, n++);
  };
}

/** A complete successful reply carrying `message`. */
function okReply(peer: PeerConnection, id: number, message: Buffer): void {
  peer.send(h2frame(T.HEADERS, F.END_HEADERS, id, responseHeaders()), h2frame(T.DATA, 0, id, encodeFrame(message)), h2frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, id, TRAILERS_OK));
}

/** A reply whose one message declares `declared` bytes, of which `sent` are sent (in 16 KiB frames). */
function hugeReply(peer: PeerConnection, id: number, declared: number, sent: number): void {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(declared, 1);
  const frames = [h2frame(T.HEADERS, F.END_HEADERS, id, responseHeaders()), h2frame(T.DATA, 0, id, prefix)];
  for (let at = 0; at < sent; at += 16_000) frames.push(h2frame(T.DATA, 0, id, Buffer.alloc(Math.min(16_000, sent - at), 0x61)));
  peer.send(...frames);
}

describe("gRPC transport limits against a scripted peer", () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanups) await c();
  });
  const transport = (over: Partial<GrpcTransportOptions> = {}): GrpcTransport => {
    const t = new GrpcTransport({ dialTimeout: 2_000, keepAlive: 10_000, ...over });
    cleanups.push(() => t.close());
    return t;
  };
  const call = (t: GrpcTransport, url: string, signal = new AbortController().signal): Promise<Uint8Array> => t.unary(url, "/t.S/M", Buffer.from("q"), { signal });

  it("a reply declaring 500 MiB is MESSAGE_TOO_LARGE at once, memory stays under the 64 MiB default, and the connection serves the next call", async (tc) => {
    const peer = await scriptedPeer((conn) => {
      onRequest(conn, (id, nth) => {
        if (nth < 4) hugeReply(conn, id, 500 * MiB, 0);
        else okReply(conn, id, Buffer.from("fine"));
      });
    });
    cleanups.push(peer.close);
    const t = transport();
    const before = process.memoryUsage().arrayBuffers;
    // Four at once: the review's repro held 2,000 MiB this way.
    const results = await Promise.allSettled([0, 1, 2, 3].map(() => call(t, peer.url)));
    const growth = process.memoryUsage().arrayBuffers - before;
    tc.diagnostic(`array buffers grew by ${(growth / MiB).toFixed(2)} MiB for 4 replies declaring 500 MiB`);
    for (const r of results) {
      assert.equal(r.status, "rejected");
      const e: unknown = r.reason;
      assert.ok(e instanceof EtcdError, String(e));
      assert.equal(e.code, "MESSAGE_TOO_LARGE");
      assert.equal(e.delivery, undefined, "not a member failure: the engine does not retry it");
      assert.match(e.message, /524288000 bytes exceeds the 67108864-byte limit/);
    }
    assert.ok(growth < 64 * MiB, `array buffers grew by ${(growth / MiB).toFixed(1)} MiB`);
    assert.equal(Buffer.from(await call(t, peer.url)).toString(), "fine");
    assert.equal(peer.connections.length, 1, "the same connection served the next call");
    const resets = peer.connections[0]?.frames.filter((f) => f.type === T.RST).length ?? 0;
    assert.equal(resets, 4, "each oversized call's stream was reset");
  });

  it("under a raised limit, a reply declaring 500 MiB costs memory only as its bytes arrive", async (tc) => {
    const peer = await scriptedPeer((conn) => {
      onRequest(conn, (id) => {
        hugeReply(conn, id, 500 * MiB, 2 * MiB);
      });
    });
    cleanups.push(peer.close);
    const t = transport({ maxMessageBytes: 1024 * MiB });
    const before = arrayBuffers();
    const abort = new AbortController();
    const pending = Promise.allSettled([0, 1, 2, 3].map(() => call(t, peer.url, abort.signal)));
    // Wait until the peer's 2 MiB per call have been read, then measure and give up.
    const conn = await waitFor(() => peer.connections[0]);
    await waitFor(() => (conn.frames.filter((f) => f.type === T.WINDOW_UPDATE && f.id === 0).length >= 1 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const growth = arrayBuffers() - before;
    tc.diagnostic(`array buffers grew by ${(growth / MiB).toFixed(2)} MiB for 4 replies declaring 500 MiB with 2 MiB sent each`);
    abort.abort(new Error("enough"));
    const results = await pending;
    assert.ok(results.every((r) => r.status === "rejected"));
    // Four buffers that double as 2 MiB arrive hold at most 4 × 4 MiB; declared-size allocation held 2,000 MiB.
    assert.ok(growth < 24 * MiB, `array buffers grew by ${(growth / MiB).toFixed(1)} MiB`);
  });

  it("a 1xx HEADERS block before the response is skipped, not taken as the response", async () => {
    const peer = await scriptedPeer((conn) => {
      onRequest(conn, (id) => {
        conn.send(h2frame(T.HEADERS, F.END_HEADERS, id, encodeHeaders([[":status", "103"]])));
        okReply(conn, id, Buffer.from("after 103"));
      });
    });
    cleanups.push(peer.close);
    assert.equal(Buffer.from(await call(transport(), peer.url)).toString(), "after 103");
  });

  it("a PING flood ends its connection with a typed cause; the next call gets a new connection", async () => {
    const peer = await scriptedPeer((conn) => {
      onRequest(conn, (id) => {
        if (peer.connections.length === 1) conn.send(...Array.from({ length: 3000 }, (_, i) => h2frame(T.PING, 0, 0, Buffer.alloc(8, i & 0xff))));
        else okReply(conn, id, Buffer.from("calm"));
      });
    });
    cleanups.push(peer.close);
    const t = transport();
    const e = await call(t, peer.url).then(
      () => assert.fail("expected a rejection"),
      (error: unknown) => error,
    );
    assert.ok(e instanceof EtcdError, String(e));
    assert.equal(e.code, "UNAVAILABLE");
    assert.ok(e.cause instanceof H2Error && e.cause.code === "ERR_H2_PROTOCOL" && e.cause.h2Code === 0xb, String(e.cause));
    assert.equal(Buffer.from(await call(t, peer.url)).toString(), "calm");
    assert.equal(peer.connections.length, 2);
  });

  it("a stream left on a rotated (draining) connection is still kept alive: a peer that stops answering PINGs fails it", async () => {
    const peer = await scriptedPeer((conn) => {
      conn.onFrame = (f) => {
        // Answer the stream's headers and then go silent: no more frames, no PING ACKs.
        if (f.type === T.HEADERS) conn.send(h2frame(T.HEADERS, F.END_HEADERS, f.id, responseHeaders()));
      };
    });
    cleanups.push(peer.close);
    // maxStreamId 1: the first stream rotates its connection at once.
    const t = transport({ maxStreamId: 1, keepAlive: 200, keepAliveTimeout: 500 });
    const started = Date.now();
    const closed = new Promise<EtcdError | undefined>((resolve) => {
      const s = t.stream(peer.url, "/t.S/Watch", {}, { onMessage: () => undefined, onClose: resolve });
      s.write(Buffer.from("w"));
    });
    const e = await closed;
    assert.ok(e instanceof EtcdError, String(e));
    assert.match(e.message, /did not acknowledge a keepalive PING/);
    assert.ok(Date.now() - started < 10_000);
    assert.ok(peer.connections[0]?.frames.some((f) => f.type === T.PING && (f.flags & F.ACK) === 0), "a PING was sent on the draining connection");
  });

  it("calls beyond maxPendingStreams end with PENDING_LIMIT (not a member failure); the others complete", async () => {
    const held: number[] = [];
    let peerConn: PeerConnection | undefined;
    const peer = await scriptedPeer((conn) => {
      peerConn = conn;
      onRequest(conn, (id, nth) => {
        if (nth === 0) okReply(conn, id, Buffer.from("warm"));
        else held.push(id);
      });
    }, settings([[0x3, 1]]));
    cleanups.push(peer.close);
    const t = transport({ maxPendingStreams: 2 });
    await call(t, peer.url); // the session is ready: later calls go straight to the connection
    const calls = [0, 1, 2].map(() => call(t, peer.url));
    const refused = call(t, peer.url);
    await assert.rejects(refused, (e: unknown) => e instanceof EtcdError && e.code === "PENDING_LIMIT" && e.delivery === undefined);
    for (let i = 0; i < 3; i++) {
      const id = await waitFor(() => held[i]);
      if (peerConn !== undefined) okReply(peerConn, id, Buffer.from(`r${i}`));
    }
    assert.deepEqual((await Promise.all(calls)).map((r) => Buffer.from(r).toString()), ["r0", "r1", "r2"]);
  });
});

async function waitFor<T>(get: () => T | undefined, ms = 5_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = get();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
