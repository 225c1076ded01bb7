/**
 * The HTTP/2 frame codec (src/transport/h2/codec.ts) on byte fixtures, no socket: which frames
 * it hands on, whole and across any split, and which connection error each malformed frame is.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FrameParser, H2CodecError, type FrameSink } from "../../src/transport/h2/codec.js";
import { settingsFrame } from "../../src/transport/h2/frames.js";

const LIMITS = { maxHeaderBlockBytes: 1024, maxSettingsEntries: 4 };

function frame(type: number, flags: number, id: number, payload: readonly number[] | Buffer = []): Buffer {
  const body = Buffer.from(payload);
  const head = Buffer.alloc(9);
  head.writeUIntBE(body.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(id, 5);
  return Buffer.concat([head, body]);
}

/** Parses `bytes` (after a SETTINGS preface unless told otherwise) and lists what the sink heard. */
function parse(bytes: Buffer, options: { preface?: boolean; split?: number } = {}): string[] {
  const seen: string[] = [];
  const sink: FrameSink = {
    data: (id, flags, data, flow) => seen.push(`data ${id} ${flags} ${data.toString("hex")} ${flow}`),
    headers: (id, flags, block) => seen.push(`headers ${id} ${flags} ${block.toString("hex")}`),
    reset: (id, code) => seen.push(`reset ${id} ${code}`),
    settings: (ack, entries) => seen.push(`settings ${ack} ${JSON.stringify(entries)}`),
    ping: (ack, payload) => seen.push(`ping ${ack} ${payload.toString("hex")}`),
    goaway: (last, code) => seen.push(`goaway ${last} ${code}`),
    windowUpdate: (id, inc) => seen.push(`window ${id} ${inc}`),
  };
  const parser = new FrameParser(LIMITS, sink);
  const all = options.preface === false ? bytes : Buffer.concat([settingsFrame([]), bytes]);
  const step = options.split ?? all.length;
  for (let at = 0; at < all.length; at += step) parser.push(all.subarray(at, at + step));
  return seen.slice(options.preface === false ? 0 : 1);
}

function codecError(bytes: Buffer, preface = true): number {
  try {
    parse(bytes, { preface });
  } catch (error) {
    assert.ok(error instanceof H2CodecError, String(error));
    return error.h2Code;
  }
  assert.fail("no error");
}

describe("HTTP/2 frame codec", () => {
  const valid = Buffer.concat([
    frame(0x0, 0x8 | 0x1, 1, [2, 0x61, 0x62, 0, 0]), // padded DATA "ab", END_STREAM
    frame(0x1, 0x4 | 0x20, 3, [0, 0, 0, 0, 16, 0x88]), // HEADERS with priority fields
    frame(0x1, 0x0, 5, [0x88]),
    frame(0x9, 0x4, 5, [0x89]), // its CONTINUATION
    frame(0x3, 0, 1, [0, 0, 0, 8]),
    frame(0x4, 0x1, 0),
    frame(0x6, 0x1, 0, [1, 2, 3, 4, 5, 6, 7, 8]),
    frame(0x7, 0, 0, [0, 0, 0, 5, 0, 0, 0, 0, 0x64, 0x65]),
    frame(0x8, 0, 0, [0x80, 0, 0, 10]), // the reserved bit is ignored
    frame(0x2, 0, 7, [0, 0, 0, 0, 1]), // PRIORITY: nothing to act on
    frame(0xfa, 0xff, 9, [1, 2, 3]), // unknown type: ignored
  ]);
  const expected = [
    "data 1 9 6162 5",
    "headers 3 36 88",
    "headers 5 0 8889",
    "reset 1 8",
    "settings true []",
    "ping true 0102030405060708",
    "goaway 5 0",
    "window 0 10",
  ];

  it("hands on every frame, whole, however the bytes are split", () => {
    for (const split of [undefined, 1, 2, 7, 9, 10, 64]) assert.deepEqual(parse(valid, split === undefined ? {} : { split }), expected, `split ${split}`);
  });

  it("refuses what RFC 9113 calls a connection error, with its code", () => {
    const cases: [string, Buffer, number][] = [
      ["a first frame that is not SETTINGS", frame(0x6, 0, 0, Buffer.alloc(8)), 0x1],
      ["a frame over 16,384 bytes", Buffer.from([0, 0x40, 0x01, 0, 0, 0, 0, 0, 1]), 0x6],
      ["DATA on stream 0", frame(0x0, 0, 0, [1]), 0x1],
      ["padding as long as the frame", frame(0x0, 0x8, 1, [3, 0, 0]), 0x1],
      ["HEADERS too short for priority", frame(0x1, 0x24, 1, [0, 0]), 0x6],
      ["an interrupted header block", Buffer.concat([frame(0x1, 0, 1, [0x88]), frame(0x0, 0, 1, [1])]), 0x1],
      ["CONTINUATION on another stream", Buffer.concat([frame(0x1, 0, 1, [0x88]), frame(0x9, 0x4, 3, [0x88])]), 0x1],
      ["CONTINUATION with no block open", frame(0x9, 0x4, 1, [0x88]), 0x1],
      ["a header block over the limit", frame(0x1, 0x4, 1, Buffer.alloc(1025)), 0xb],
      ["RST_STREAM of 3 bytes", frame(0x3, 0, 1, [0, 0, 8]), 0x6],
      ["RST_STREAM on stream 0", frame(0x3, 0, 0, [0, 0, 0, 8]), 0x1],
      ["SETTINGS on a stream", frame(0x4, 0, 1), 0x1],
      ["SETTINGS of 5 bytes", frame(0x4, 0, 0, [0, 1, 0, 0, 0]), 0x6],
      ["a SETTINGS ACK with a payload", frame(0x4, 1, 0, [0, 1, 0, 0, 0, 0]), 0x6],
      ["too many SETTINGS entries", settingsFrame(Array.from({ length: 5 }, () => [3, 1] as const)), 0xb],
      ["INITIAL_WINDOW_SIZE over 2^31-1", settingsFrame([[4, 0x8000_0000]]), 0x3],
      ["MAX_FRAME_SIZE under 16,384", settingsFrame([[5, 100]]), 0x1],
      ["ENABLE_PUSH of 2", settingsFrame([[2, 2]]), 0x1],
      ["PUSH_PROMISE", frame(0x5, 0x4, 1, [0, 0, 0, 2, 0x88]), 0x1],
      ["PING of 7 bytes", frame(0x6, 0, 0, Buffer.alloc(7)), 0x6],
      ["PING on a stream", frame(0x6, 0, 1, Buffer.alloc(8)), 0x1],
      ["GOAWAY of 7 bytes", frame(0x7, 0, 0, Buffer.alloc(7)), 0x6],
      ["GOAWAY on a stream", frame(0x7, 0, 1, Buffer.alloc(8)), 0x1],
      ["WINDOW_UPDATE of 0 on the connection", frame(0x8, 0, 0, [0, 0, 0, 0]), 0x1],
      ["WINDOW_UPDATE of 3 bytes", frame(0x8, 0, 1, [0, 0, 1]), 0x6],
      ["PRIORITY on stream 0", frame(0x2, 0, 0, Buffer.alloc(5)), 0x1],
      ["PRIORITY of 4 bytes", frame(0x2, 0, 1, Buffer.alloc(4)), 0x6],
    ];
    for (const [what, bytes, code] of cases) assert.equal(codecError(bytes, what !== "a first frame that is not SETTINGS"), code, what);
  });

  it("leaves a stream WINDOW_UPDATE of 0 to the connection (a stream error, not a connection error)", () => {
    assert.deepEqual(parse(frame(0x8, 0, 3, [0, 0, 0, 0])), ["window 3 0"]);
  });

  it("stops at once when stopped from inside a sink call, and holds nothing afterwards", () => {
    const seen: number[] = [];
    const ref: { parser?: FrameParser } = {};
    const sink: FrameSink = {
      data: () => undefined,
      headers: () => undefined,
      reset: (id) => {
        seen.push(id);
        ref.parser?.stop();
      },
      settings: () => undefined,
      ping: () => undefined,
      goaway: () => undefined,
      windowUpdate: () => undefined,
    };
    const parser = new FrameParser(LIMITS, sink);
    ref.parser = parser;
    parser.push(Buffer.concat([settingsFrame([]), frame(0x3, 0, 1, [0, 0, 0, 8]), frame(0x3, 0, 3, [0, 0, 0, 8]), Buffer.from([0, 0])]));
    assert.deepEqual(seen, [1]);
    assert.equal(parser.bufferedBytes, 0);
  });
});
