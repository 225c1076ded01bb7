/**
 * RFC 9113 strictness and the connection's limits, against a scripted peer (no real server
 * sends these frames): frames on streams never opened, DATA after END_STREAM, PING ACKs matched
 * by payload, receive-window overruns, INITIAL_WINDOW_SIZE overflow, credit held and handed back
 * by a handler, an exception in one stream's handler, the empty END_STREAM with a negative
 * window, PING and SETTINGS floods, stream-id rotation, and the pending-stream limit.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { H2Error, type H2StreamHandler, type HeaderField } from "../../src/transport/h2/connection.js";
import { F, T, connect, h2frame, requestBlock, responseHeaders, scriptedPeer, settings, u32 } from "./h2-peer.js";

const PROTOCOL_ERROR = 0x1;
const INTERNAL_ERROR = 0x2;
const FLOW_CONTROL_ERROR = 0x3;
const STREAM_CLOSED = 0x5;
const ENHANCE_YOUR_CALM = 0xb;

interface Recorded {
  readonly handler: H2StreamHandler;
  readonly headers: (readonly HeaderField[])[];
  readonly data: Buffer[];
  readonly closed: Promise<{ code: number | undefined; error: unknown }>;
}

/** A handler that records what it hears; `onData` may replace the default (consume at once). */
function recorder(onData?: (chunk: Buffer) => unknown): Recorded {
  let done!: (v: { code: number | undefined; error: unknown }) => void;
  const r: Recorded = {
    headers: [],
    data: [],
    closed: new Promise((resolve) => (done = resolve)),
    handler: {
      headers: (fields) => {
        r.headers.push(fields);
      },
      data: (chunk) => {
        r.data.push(Buffer.from(chunk));
        return onData?.(chunk);
      },
      close: (code, error) => {
        done({ code, error });
      },
    },
  };
  return r;
}

const goawayCode = (f: { payload: Buffer }): number => f.payload.readUInt32BE(4);

describe("HTTP/2 strictness against a scripted peer", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const c of cleanups) await c();
  });

  async function setup(over: Parameters<typeof connect>[1] = {}, initial?: Buffer) {
    const peer = await scriptedPeer(() => undefined, initial);
    const c = connect(peer.port, over);
    cleanups.push(() => {
      c.h2.destroy();
    }, peer.close);
    await c.ready;
    const conn = peer.connections[0];
    assert.ok(conn !== undefined);
    return { ...c, peer, conn };
  }

  it("DATA on a stream we never opened is a connection PROTOCOL_ERROR", async () => {
    const { h2, conn, retired } = await setup();
    const a = recorder();
    h2.request(requestBlock(), a.handler);
    await conn.waitFor((f) => f.type === T.HEADERS && f.id === 1);
    conn.send(h2frame(T.DATA, 0, 3, Buffer.from("x")));
    assert.equal(goawayCode(await conn.waitFor((f) => f.type === T.GOAWAY)), PROTOCOL_ERROR);
    assert.equal((await retired).reason, "protocol");
    const closed = await a.closed;
    assert.ok(closed.error instanceof H2Error && closed.error.code === "ERR_H2_PROTOCOL", String(closed.error));
    assert.equal(h2.state, "closed");
  });

  it("DATA after the server's END_STREAM resets the stream (STREAM_CLOSED) and is not delivered; the connection lives", async () => {
    const { h2, conn } = await setup();
    const a = recorder();
    h2.request(requestBlock(), a.handler); // our side stays open: a streaming call
    await conn.waitFor((f) => f.type === T.HEADERS && f.id === 1);
    conn.send(h2frame(T.HEADERS, F.END_HEADERS, 1, responseHeaders()), h2frame(T.DATA, F.END_STREAM, 1, Buffer.from("first")), h2frame(T.DATA, 0, 1, Buffer.from("after")));
    const closed = await a.closed;
    assert.equal(closed.code, STREAM_CLOSED);
    assert.deepEqual(a.data.map((d) => d.toString()), ["first"]);
    const rst = await conn.waitFor((f) => f.type === T.RST && f.id === 1);
    assert.equal(rst.payload.readUInt32BE(0), STREAM_CLOSED);
    assert.equal(h2.state, "open");
    const b = recorder();
    h2.request(requestBlock(), b.handler);
    await conn.waitFor((f) => f.type === T.HEADERS && f.id === 3);
  });

  it("PING ACKs are matched by payload, not by order; an unknown ACK settles nothing", async () => {
    const { h2, conn } = await setup();
    const settled: string[] = [];
    assert.ok(h2.ping(() => settled.push("first")));
    assert.ok(h2.ping(() => settled.push("second")));
    await waitUntil(() => conn.frames.filter((g) => g.type === T.PING).length === 2);
    const [p1, p2] = conn.frames.filter((f) => f.type === T.PING);
    assert.ok(p1 !== undefined && p2 !== undefined && !p1.payload.equals(p2.payload));
    conn.send(h2frame(T.PING, F.ACK, 0, Buffer.alloc(8, 0xee)), h2frame(T.PING, F.ACK, 0, p2.payload));
    await waitUntil(() => settled.length === 1);
    assert.deepEqual(settled, ["second"]);
    conn.send(h2frame(T.PING, F.ACK, 0, p1.payload), h2frame(T.PING, F.ACK, 0, p1.payload));
    await waitUntil(() => settled.length === 2);
    await delay(50);
    assert.deepEqual(settled, ["second", "first"]);
  });

  it("at most maxOutstandingPings PINGs await their ACK", async () => {
    const { h2 } = await setup({ maxOutstandingPings: 2 });
    assert.equal(h2.ping(() => undefined), true);
    assert.equal(h2.ping(() => undefined), true);
    assert.equal(h2.ping(() => undefined), false);
  });

  it("credit a handler holds is not granted until it calls consume(); a peer that overruns the window is a FLOW_CONTROL_ERROR", async () => {
    const { h2, conn, retired } = await setup();
    const held = recorder(() => false);
    const stream = h2.request(requestBlock(), held.handler);
    await conn.waitFor((f) => f.type === T.HEADERS && f.id === 1);
    conn.send(h2frame(T.HEADERS, F.END_HEADERS, 1, responseHeaders()), h2frame(T.DATA, 0, 1, Buffer.alloc(16_000)), h2frame(T.DATA, 0, 1, Buffer.alloc(16_000)), h2frame(T.DATA, 0, 1, Buffer.alloc(16_000)));
    await waitUntil(() => held.data.length === 3);
    await delay(100);
    assert.equal(conn.frames.filter((f) => f.type === T.WINDOW_UPDATE).length, 0, "no credit while the handler holds it");
    stream.consume(48_000);
    const wuConn = await conn.waitFor((f) => f.type === T.WINDOW_UPDATE && f.id === 0);
    const wuStream = await conn.waitFor((f) => f.type === T.WINDOW_UPDATE && f.id === 1);
    assert.equal(wuConn.payload.readUInt32BE(0), 48_000);
    assert.equal(wuStream.payload.readUInt32BE(0), 48_000);
    // Window now 65,535 again; 5 × 16,000 overruns it without waiting for more credit.
    const frames = Array.from({ length: 5 }, () => h2frame(T.DATA, 0, 1, Buffer.alloc(16_000)));
    conn.send(...frames);
    assert.equal(goawayCode(await conn.waitFor((f) => f.type === T.GOAWAY)), FLOW_CONTROL_ERROR);
    assert.equal((await retired).reason, "protocol");
  });

  it("an INITIAL_WINDOW_SIZE change that takes a stream's window past 2^31-1 is a FLOW_CONTROL_ERROR", async () => {
    const { h2, conn } = await setup();
    h2.request(requestBlock(), recorder().handler);
    await conn.waitFor((f) => f.type === T.HEADERS && f.id === 1);
    conn.send(h2frame(T.WINDOW_UPDATE, 0, 1, u32(0x7fff_ffff - 65_535)), settings([[0x4, 65_536]]));
    assert.equal(goawayCode(await conn.waitFor((f) => f.type === T.GOAWAY)), FLOW_CONTROL_ERROR);
  });

  it("an exception in one stream's handler (a RangeError too) resets that stream only", async () => {
    const { h2, conn } = await setup();
    const boom = new RangeError("Array buffer allocation failed");
    const a = recorder(() => {
      throw boom;
    });
    const b = recorder();
    h2.request(requestBlock(), a.handler);
    h2.request(requestBlock(), b.handler);
    await conn.waitFor((f) => f.type === T.HEADERS && f.id === 3);
    conn.send(
      h2frame(T.HEADERS, F.END_HEADERS, 1, responseHeaders()),
      h2frame(T.HEADERS, F.END_HEADERS, 3, responseHeaders()),
      h2frame(T.DATA, 0, 1, Buffer.from("a")),
      h2frame(T.DATA, 0, 3, Buffer.from("b")),
      h2frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 3, responseHeaders()),
    );
    const ca = await a.closed;
    assert.equal(ca.code, INTERNAL_ERROR);
    assert.equal(ca.error, boom);
    const rst = await conn.waitFor((f) => f.type === T.RST && f.id === 1);
    assert.equal(rst.payload.readUInt32BE(0), INTERNAL_ERROR);
    assert.deepEqual(b.data.map((d) => d.toString()), ["b"]);
    assert.equal(h2.state, "open");
  });

  it("an empty END_STREAM goes out as one empty DATA frame even with a negative send window", async () => {
    const { h2, conn } = await setup();
    const s = h2.request(requestBlock(), recorder().handler);
    s.write(Buffer.alloc(1000), false);
    await conn.waitFor((f) => f.type === T.DATA && f.id === 1);
    conn.send(settings([[0x4, 0]])); // the stream's window becomes -1000
    await conn.waitFor((f) => f.type === T.SETTINGS && (f.flags & F.ACK) !== 0 && conn.frames.filter((g) => g.type === T.SETTINGS && (g.flags & F.ACK) !== 0).length === 2);
    s.write(new Uint8Array(0), true);
    const last = await conn.waitFor((f) => f.type === T.DATA && (f.flags & F.END_STREAM) !== 0);
    assert.equal(last.payload.length, 0);
    assert.equal(conn.frames.filter((f) => f.type === T.DATA).length, 2, "exactly the 1000 bytes and the empty END_STREAM");
  });

  for (const [what, flood] of [
    ["PING", () => Array.from({ length: 3000 }, (_, i) => h2frame(T.PING, 0, 0, Buffer.alloc(8, i & 0xff)))],
    ["SETTINGS", () => Array.from({ length: 3000 }, () => settings([]))],
  ] as const) {
    it(`a ${what} flood is cut off with ENHANCE_YOUR_CALM and a typed error`, async () => {
      const { h2, conn, retired } = await setup();
      const a = recorder();
      h2.request(requestBlock(), a.handler);
      await conn.waitFor((f) => f.type === T.HEADERS && f.id === 1);
      conn.send(...flood());
      assert.equal(goawayCode(await conn.waitFor((f) => f.type === T.GOAWAY)), ENHANCE_YOUR_CALM);
      const r = await retired;
      assert.equal(r.reason, "protocol");
      assert.ok(r.error instanceof H2Error && r.error.code === "ERR_H2_PROTOCOL" && r.error.h2Code === ENHANCE_YOUR_CALM, String(r.error));
      const acks = conn.frames.filter((f) => (f.type === T.PING || f.type === T.SETTINGS) && (f.flags & F.ACK) !== 0).length;
      // The handshake's SETTINGS ACK, then at most maxQueuedControlFrames (1000) before the cut.
      assert.ok(acks <= 1001, `${acks} ACKs were written`);
    });
  }

  it("a SETTINGS frame with more than maxSettingsEntries entries is ENHANCE_YOUR_CALM", async () => {
    const { conn } = await setup({ maxSettingsEntries: 4 });
    conn.send(settings(Array.from({ length: 5 }, () => [0x3, 100] as const)));
    assert.equal(goawayCode(await conn.waitFor((f) => f.type === T.GOAWAY)), ENHANCE_YOUR_CALM);
  });

  it("a connection past maxStreamId drains: its streams finish, then it closes with GOAWAY(NO_ERROR)", async () => {
    const { h2, conn, retired, closed } = await setup({ maxStreamId: 5 });
    const streams = [recorder(), recorder(), recorder()];
    for (const r of streams) h2.request(requestBlock(), r.handler).write(Buffer.from("x"), true);
    assert.equal(h2.state, "draining");
    assert.equal((await retired).reason, "exhausted");
    assert.equal(h2.takesStreams, false);
    await conn.waitFor((f) => f.type === T.DATA && f.id === 5);
    for (const id of [1, 3, 5]) conn.send(h2frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, id, responseHeaders()));
    for (const r of streams) assert.equal((await r.closed).code, undefined);
    assert.equal(goawayCode(await conn.waitFor((f) => f.type === T.GOAWAY)), 0);
    await closed;
    assert.equal(h2.state, "closed");
  });

  it("a peer that stops reading stops our framing: the socket's queue stays small, and everything arrives once it reads again", async (t) => {
    const MiB = 1024 * 1024;
    const { h2, conn, socket } = await setup({}, settings([[0x4, 0x7fff_ffff]]));
    conn.send(h2frame(T.WINDOW_UPDATE, 0, 0, u32(0x7fff_ffff - 65_535)));
    await delay(50);
    conn.socket.pause();
    const s = h2.request(requestBlock(), recorder().handler);
    s.write(Buffer.alloc(32 * MiB, 0x61), true);
    await delay(500);
    const queued = socket.writableLength;
    t.diagnostic(`with the peer not reading, ${(queued / MiB).toFixed(2)} MiB of 32 MiB waited in the socket's queue`);
    assert.ok(queued < 4 * MiB, `${(queued / MiB).toFixed(1)} MiB queued in the socket`);
    conn.socket.resume();
    await conn.waitFor((f) => f.type === T.DATA && (f.flags & F.END_STREAM) !== 0, 20_000);
    const sent = conn.frames.filter((f) => f.type === T.DATA && f.id === 1).reduce((n, f) => n + f.payload.length, 0);
    assert.equal(sent, 32 * MiB);
  });

  it("streams beyond maxPendingStreams are refused with ERR_H2_PENDING_LIMIT; the queued ones start later", async () => {
    const { h2, conn } = await setup({ maxPendingStreams: 2 }, settings([[0x3, 1]]));
    const running = recorder();
    h2.request(requestBlock(), running.handler).write(Buffer.from("x"), true);
    const queued = [recorder(), recorder()];
    for (const r of queued) h2.request(requestBlock(), r.handler).write(Buffer.from("x"), true);
    assert.throws(() => h2.request(requestBlock(), recorder().handler), (e: unknown) => e instanceof H2Error && e.code === "ERR_H2_PENDING_LIMIT");
    await conn.waitFor((f) => f.type === T.HEADERS && f.id === 1);
    conn.send(h2frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, responseHeaders()));
    await conn.waitFor((f) => f.type === T.HEADERS && f.id === 3);
    assert.equal((await running.closed).code, undefined);
  });
});

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitUntil(check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await delay(10);
  }
}
