/**
 * Fuzz target "grpc-frame": gRPC message framing (src/transport/grpc-frame.ts). Arbitrary bytes
 * in arbitrary chunks end in messages or a GrpcFrameError, and the reassembly buffer never
 * exceeds the message limit nor twice the bytes received; valid framed messages, cut anywhere,
 * come back whole and in order.
 */
import fc from "fast-check";
import { FrameDecoder, GrpcFrameError, encodeFrame } from "../../src/transport/grpc-frame.js";

export const name = "grpc-frame";

const MAX = 100_000;

/** Cuts `bytes` at the given points (taken modulo its length). */
function cut(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % bytes.length)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let at = 0;
  for (const p of points) {
    chunks.push(bytes.subarray(at, p));
    at = p;
  }
  chunks.push(bytes.subarray(at));
  return chunks;
}

const arbitraryBytes = fc.tuple(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 10 }), fc.constant(undefined));
const validMessages = fc.tuple(fc.array(fc.uint8Array({ maxLength: 3000 }), { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 }));

export const property = fc.property(fc.oneof(arbitraryBytes, validMessages), ([parts, cuts]) => {
  const got: Buffer[] = [];
  let received = 0;
  const decoder = new FrameDecoder(MAX, (m) => got.push(Buffer.from(m)));
  const valid = cuts !== undefined;
  const chunks = valid ? cut(Buffer.concat(parts.map((p) => encodeFrame(p))), cuts) : parts.map((p) => Buffer.from(p));
  try {
    for (const chunk of chunks) {
      received += chunk.length;
      decoder.push(chunk);
      const held = decoder.bufferedBytes;
      if (held > MAX || held > Math.max(64 * 1024, 2 * received)) throw new Error(`the decoder holds ${held} bytes after ${received} received`);
    }
  } catch (error) {
    if (valid || !(error instanceof GrpcFrameError)) throw error;
    return;
  }
  if (valid) {
    if (!decoder.idle) throw new Error("valid messages left the decoder inside a message");
    if (got.length !== parts.length || got.some((m, i) => !m.equals(Buffer.from(parts[i] ?? [])))) throw new Error("messages did not come back whole and in order");
  }
});
