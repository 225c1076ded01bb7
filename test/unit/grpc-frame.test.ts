/**
 * gRPC framing with no server: messages split across chunks at every byte, several per chunk,
 * empty ones, and the bytes we refuse (compressed flag, oversize), plus the header helpers.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { FrameDecoder, GrpcFrameError, encodeFrame } from "../../src/transport/grpc-frame.js";
import { decodeGrpcMessage, grpcTimeout } from "../../src/transport/grpc-call.js";

function collect(max = 1 << 20): { decoder: FrameDecoder; messages: Buffer[] } {
  const messages: Buffer[] = [];
  // Copy each message: the decoder hands out views of the chunks, which the test then reuses.
  const decoder = new FrameDecoder(max, (m) => messages.push(Buffer.from(m)));
  return { decoder, messages };
}

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

describe("encodeFrame", () => {
  it("prefixes flag 0 and the big-endian length", () => {
    const frame = encodeFrame(Buffer.from("abc"));
    assert.deepEqual([...frame], [0, 0, 0, 0, 3, 0x61, 0x62, 0x63]);
  });

  it("frames an empty message as the bare prefix", () => {
    assert.deepEqual([...encodeFrame(new Uint8Array(0))], [0, 0, 0, 0, 0]);
  });

  it("encodes lengths above 2^24 in all four bytes", () => {
    const frame = encodeFrame(Buffer.alloc(0x01020304));
    assert.deepEqual([...frame.subarray(0, 5)], [0, 1, 2, 3, 4]);
  });
});

describe("FrameDecoder", () => {
  const messages = [bytes(0, 1), bytes(1, 2), bytes(4, 3), bytes(5, 4), bytes(300, 5), bytes(70_000, 6)];
  const wire = Buffer.concat(messages.map((m) => encodeFrame(m)));

  it("decodes several messages from one chunk, in order", () => {
    const { decoder, messages: got } = collect();
    decoder.push(wire);
    assert.deepEqual(got, messages);
    assert.equal(decoder.idle, true);
  });

  it("decodes the same messages however the bytes are cut in two", () => {
    for (let cut = 0; cut <= wire.length; cut += cut < 400 ? 1 : 997) {
      const { decoder, messages: got } = collect();
      decoder.push(wire.subarray(0, cut));
      decoder.push(wire.subarray(cut));
      assert.deepEqual(got, messages, `cut at ${cut}`);
      assert.equal(decoder.idle, true);
    }
  });

  it("decodes a byte at a time", () => {
    const { decoder, messages: got } = collect();
    for (let i = 0; i < wire.length; i++) decoder.push(wire.subarray(i, i + 1));
    assert.deepEqual(got, messages);
  });

  it("decodes random chunkings (seeded)", () => {
    let seed = 42;
    const rand = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    for (let round = 0; round < 200; round++) {
      const { decoder, messages: got } = collect();
      for (let at = 0; at < wire.length; ) {
        const n = 1 + Math.floor(rand() * (rand() < 0.5 ? 8 : 20_000));
        decoder.push(wire.subarray(at, at + n));
        at += n;
      }
      assert.deepEqual(got, messages, `round ${round}`);
    }
  });

  it("hands out a whole message inside one chunk without copying it", () => {
    const views: Uint8Array[] = [];
    const decoder = new FrameDecoder(1024, (m) => views.push(m));
    const chunk = encodeFrame(Buffer.from("hello"));
    decoder.push(chunk);
    assert.equal(views.length, 1);
    assert.equal(views[0]!.buffer, chunk.buffer);
  });

  it("is not idle while a message is incomplete, nor inside a split prefix", () => {
    const { decoder } = collect();
    const frame = encodeFrame(bytes(10, 9));
    decoder.push(frame.subarray(0, 3));
    assert.equal(decoder.idle, false);
    decoder.push(frame.subarray(3, 8));
    assert.equal(decoder.idle, false);
    decoder.push(frame.subarray(8));
    assert.equal(decoder.idle, true);
  });

  it("refuses a compressed message", () => {
    const { decoder } = collect();
    const frame = encodeFrame(Buffer.from("x"));
    frame[0] = 1;
    assert.throws(() => {
      decoder.push(frame);
    }, (e: unknown) => e instanceof GrpcFrameError && /compressed/.test(e.message));
  });

  it("refuses an unknown flag, even when the prefix is split", () => {
    const { decoder } = collect();
    const frame = encodeFrame(Buffer.from("x"));
    frame[0] = 0x80;
    decoder.push(frame.subarray(0, 2));
    assert.throws(() => {
      decoder.push(frame.subarray(2));
    }, GrpcFrameError);
  });

  it("refuses a message over the limit from its prefix alone, before buffering it", () => {
    const { decoder, messages: got } = collect(16);
    decoder.push(encodeFrame(bytes(16, 1)));
    assert.equal(got.length, 1);
    assert.throws(() => {
      decoder.push(Buffer.from([0, 0xff, 0xff, 0xff, 0xff]));
    }, (e: unknown) => e instanceof GrpcFrameError && /exceeds the 16-byte limit/.test(e.message));
  });
});

describe("header helpers", () => {
  it("grpc-timeout uses milliseconds up to 8 digits, then seconds", () => {
    assert.equal(grpcTimeout(1500), "1500m");
    assert.equal(grpcTimeout(0.2), "1m");
    assert.equal(grpcTimeout(99_999_999), "99999999m");
    assert.equal(grpcTimeout(100_000_000), "100000S");
    assert.equal(grpcTimeout(Number.MAX_SAFE_INTEGER), "99999999S");
  });

  it("grpc-message is percent-decoded, and bad escapes are kept as sent", () => {
    assert.equal(decodeGrpcMessage("etcdserver: no leader"), "etcdserver: no leader");
    assert.equal(decodeGrpcMessage("caf%C3%A9 100%25"), "café 100%");
    assert.equal(decodeGrpcMessage("50% off %E2%9C%93"), "50% off ✓");
  });
});
