/**
 * Fuzz target "h2-frames": the HTTP/2 frame parser (src/transport/h2/codec.ts) fed arbitrary
 * bytes, and frames with arbitrary types, flags, stream ids and payloads, cut at arbitrary
 * points. It must end in frames or an H2CodecError, never another exception, and never hold
 * more than one frame plus one header block of its limits.
 */
import fc from "fast-check";
import { FrameParser, H2CodecError, type FrameSink } from "../../src/transport/h2/codec.js";
import { DEFAULT_MAX_FRAME, FRAME_HEADER, settingsFrame } from "../../src/transport/h2/frames.js";

export const name = "h2-frames";

const LIMITS = { maxHeaderBlockBytes: 4096, maxSettingsEntries: 8 };
const MAX_BUFFERED = FRAME_HEADER + DEFAULT_MAX_FRAME + LIMITS.maxHeaderBlockBytes;

/** One frame with a correct length field and anything else arbitrary (type 0-10 mostly, the known ones). */
const frameArb = fc
  .record({
    type: fc.oneof(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 255 })),
    flags: fc.oneof(fc.constantFrom(0, 1, 4, 5, 8, 0x20, 0x2d), fc.integer({ min: 0, max: 255 })),
    id: fc.oneof(fc.constantFrom(0, 1, 3, 5), fc.integer({ min: 0, max: 0xffff_ffff })),
    payload: fc.oneof(fc.uint8Array({ maxLength: 24 }), fc.uint8Array({ maxLength: 300 })),
  })
  .map(({ type, flags, id, payload }) => {
    const out = Buffer.alloc(FRAME_HEADER + payload.length);
    out.writeUIntBE(payload.length, 0, 3);
    out[3] = type;
    out[4] = flags;
    out.writeUInt32BE(id >>> 0, 5);
    out.set(payload, FRAME_HEADER);
    return out;
  });

/** A byte stream: mostly a SETTINGS preface and then frames, sometimes raw bytes; cut into chunks. */
const inputArb = fc
  .tuple(
    fc.boolean(),
    fc.array(fc.oneof({ weight: 4, arbitrary: frameArb }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)) }), { maxLength: 40 }),
    fc.array(fc.nat(), { maxLength: 8 }),
  )
  .map(([preface, parts, cuts]) => {
    const bytes = Buffer.concat([preface ? settingsFrame([]) : Buffer.alloc(0), ...parts]);
    const points = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % bytes.length)))].sort((a, b) => a - b);
    const chunks: Buffer[] = [];
    let at = 0;
    for (const p of points) {
      chunks.push(bytes.subarray(at, p));
      at = p;
    }
    chunks.push(bytes.subarray(at));
    return chunks;
  });

const sink: FrameSink = {
  data: (_id, _flags, data, flowLength) => {
    if (data.length > flowLength || flowLength > DEFAULT_MAX_FRAME) throw new Error(`DATA of ${data.length} bytes in a frame of ${flowLength}`);
  },
  headers: (_id, _flags, block) => {
    if (block.length > LIMITS.maxHeaderBlockBytes) throw new Error(`a header block of ${block.length} bytes passed the limit`);
  },
  reset: () => undefined,
  settings: (_ack, entries) => {
    if (entries.length > LIMITS.maxSettingsEntries) throw new Error(`${entries.length} SETTINGS entries passed the limit`);
  },
  ping: (_ack, payload) => {
    if (payload.length !== 8) throw new Error("PING payload not 8 bytes");
  },
  goaway: () => undefined,
  windowUpdate: (_id, increment) => {
    if (increment < 0 || increment > 0x7fff_ffff) throw new Error(`increment ${increment}`);
  },
};

export const property = fc.property(inputArb, (chunks) => {
  const parser = new FrameParser(LIMITS, sink);
  try {
    for (const chunk of chunks) {
      parser.push(chunk);
      if (parser.bufferedBytes > MAX_BUFFERED) throw new Error(`the parser holds ${parser.bufferedBytes} bytes`);
    }
  } catch (error) {
    if (!(error instanceof H2CodecError)) throw error;
  }
});
