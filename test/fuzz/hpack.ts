/**
 * Fuzz target "hpack": the HPACK decoder (src/transport/h2/hpack.ts), Huffman strings included.
 * Arbitrary blocks, and valid blocks (literals, indexed fields, table size updates, Huffman
 * strings) with bytes flipped, decoded one after another on one decoder: each ends in fields or
 * an HpackError, never another exception, and never in a header list above the limit. Unmutated
 * valid blocks decode to exactly the fields they encode.
 */
import fc from "fast-check";
import { HpackDecoder, HpackError, type HeaderField } from "../../src/transport/h2/hpack.js";
import { encodeHeaders } from "../../src/transport/h2/hpack-encode.js";
import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from "../../src/transport/h2/huffman.js";

export const name = "hpack";

const LIST_LIMIT = 2048;

/** An HPACK integer with an `n`-bit prefix (RFC 7541 §5.1), `high` the bits above the prefix. */
function integer(value: number, n: number, high: number): number[] {
  const max = (1 << n) - 1;
  if (value < max) return [high | value];
  const out = [high | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) | 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

/** A string literal, Huffman-coded (RFC 7541 Appendix B) or raw. */
function literal(s: string, huffman: boolean): number[] {
  const bytes = Buffer.from(s, "latin1");
  if (!huffman) return [...integer(bytes.length, 7, 0), ...bytes];
  const out: number[] = [];
  let acc = 0n;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << BigInt(HUFFMAN_LENGTHS[b] ?? 0)) | BigInt(HUFFMAN_CODES[b] ?? 0);
    bits += HUFFMAN_LENGTHS[b] ?? 0;
    while (bits >= 8) {
      bits -= 8;
      out.push(Number((acc >> BigInt(bits)) & 0xffn));
    }
  }
  if (bits > 0) out.push(Number(((acc << BigInt(8 - bits)) | ((1n << BigInt(8 - bits)) - 1n)) & 0xffn));
  return [...integer(out.length, 7, 0x80), ...out];
}

const token = fc.string({ unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789-".split("")), minLength: 1, maxLength: 12 });
const value = fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 40 });

/** One representation and the field it decodes to (undefined for a table size update). */
const representation = fc.oneof(
  fc.tuple(token, value, fc.boolean(), fc.constantFrom(0x40, 0x00, 0x10)).map(([n, v, h, kind]) => ({
    bytes: [kind, ...literal(n, h), ...literal(v, !h)],
    field: [n, v] as HeaderField | undefined,
    indexes: kind === 0x40,
  })),
  fc.constantFrom(2, 3, 4, 6, 8).map((i) => ({ bytes: integer(i, 7, 0x80), field: undefined as HeaderField | undefined, indexes: false, staticIndex: i })),
  fc.nat({ max: 4096 }).map((size) => ({ bytes: integer(size, 5, 0x20), field: undefined as HeaderField | undefined, indexes: false })),
);

const block = fc.oneof(
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => ({ bytes: Buffer.from(b), fields: undefined as readonly HeaderField[] | undefined })) },
  {
    weight: 3,
    arbitrary: fc.tuple(fc.array(representation, { maxLength: 10 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 })).map(([reps, flips]) => {
      // Size updates are valid only at the start of a block: keep those, drop the rest.
      const firstNonUpdate = reps.findIndex((r) => r.bytes[0] === undefined || (r.bytes[0] & 0xe0) !== 0x20);
      const kept = reps.filter((r, i) => ((r.bytes[0] ?? 0) & 0xe0) !== 0x20 || firstNonUpdate < 0 || i < firstNonUpdate);
      const bytes = Buffer.from(kept.flatMap((r) => r.bytes));
      for (const [at, b] of flips) if (bytes.length > 0) bytes[at % bytes.length] = b;
      const plain = flips.length === 0 && kept.every((r) => r.field !== undefined);
      return { bytes, fields: plain ? kept.map((r) => r.field as HeaderField) : undefined };
    }),
  },
  { weight: 1, arbitrary: fc.array(fc.tuple(token, value), { maxLength: 6 }).map((fields) => ({ bytes: encodeHeaders(fields), fields: fields.slice() })) },
);

export const property = fc.property(fc.array(block, { minLength: 1, maxLength: 6 }), (blocks) => {
  const decoder = new HpackDecoder();
  for (const b of blocks) {
    let fields: HeaderField[];
    try {
      fields = decoder.decode(b.bytes, LIST_LIMIT);
    } catch (error) {
      if (!(error instanceof HpackError)) throw error;
      // After an error the connection ends, and so does this decoder's life.
      return;
    }
    const size = fields.reduce((n, [k, v]) => n + k.length + v.length + 32, 0);
    if (size > LIST_LIMIT) throw new Error(`a header list of ${size} octets passed the ${LIST_LIMIT} limit`);
    if (b.fields !== undefined && size <= LIST_LIMIT && JSON.stringify(fields) !== JSON.stringify(b.fields)) {
      throw new Error(`decoded ${JSON.stringify(fields)} instead of ${JSON.stringify(b.fields)}`);
    }
  }
});
