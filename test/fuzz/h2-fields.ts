/**
 * Fuzz target "h2-fields": a response's header blocks as the connection reads them: arbitrary
 * HPACK bytes (and literal fields with arbitrary names and values) decoded, then checked by the
 * RFC 9113 rules of src/transport/h2/fields.ts in a head or in trailers. Decoding must end in
 * fields or an HpackError; the check must end in a verdict (a named problem, or the next phase),
 * never an exception.
 */
import fc from "fast-check";
import { checkResponseBlock, type ResponsePhase } from "../../src/transport/h2/fields.js";
import { HpackDecoder, HpackError, type HeaderField } from "../../src/transport/h2/hpack.js";

export const name = "h2-fields";

/** A literal field without indexing (RFC 7541 §6.2.2) with a new name, for names and values under 127 bytes. */
function literal(name: string, value: string): Buffer {
  const n = Buffer.from(name, "latin1");
  const v = Buffer.from(value, "latin1");
  return Buffer.concat([Buffer.from([0x00, n.length]), n, Buffer.from([v.length]), v]);
}

const text = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom(":status", ":path", ":method", "te", "connection", "Content-Type", "grpc-status", "200", "100", "101", "trailers", " x", "a\r\nb"),
);
const blockArb = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
  fc.array(fc.tuple(text, text), { maxLength: 8 }).map((fields) => Buffer.concat(fields.map(([n, v]) => literal(n.slice(0, 120), v.slice(0, 120))))),
);

export const property = fc.property(fc.array(fc.tuple(blockArb, fc.boolean()), { minLength: 1, maxLength: 4 }), (blocks) => {
  const decoder = new HpackDecoder();
  let phase: ResponsePhase = "head";
  for (const [block, end] of blocks) {
    let fields: HeaderField[];
    try {
      fields = decoder.decode(block, 4096);
    } catch (error) {
      if (error instanceof HpackError) return true;
      throw error;
    }
    const verdict = checkResponseBlock(fields, phase, end);
    if (!verdict.ok) {
      if (verdict.problem.length === 0) throw new Error("a malformed verdict without a problem");
      return true;
    }
    phase = verdict.next;
  }
  return true;
});
