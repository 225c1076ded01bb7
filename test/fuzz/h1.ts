/**
 * Fuzz target for the HTTP/1.1 reply parser (src/transport/h1-parse.ts), in the shape the fuzz
 * runner takes (`{ name, property }`). Three kinds of input: well-formed replies (Content-Length,
 * chunked with extensions and trailers, or framed by the connection's end) cut into random
 * pieces, which must parse to exactly the body that was framed; the same replies with random
 * bytes flipped, inserted or cut; and random bytes. Every input must end in a reply, a typed
 * H1ParseError or "more bytes needed", never an exception, and no body may pass the limit.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { H1ParseError, H1ReplyParser, type H1Step } from "../../src/transport/h1-parse.js";

/** A reply as generated, and what parsing it must give. */
interface Framed {
  readonly bytes: Buffer;
  /** The body, when the input is well formed and within the limit. */
  readonly body: string | undefined;
  readonly headOnly: boolean;
}

const LIMIT = 4096;

const token = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/);
const value = fc.stringMatching(/^[ -~]{0,40}$/).map((v) => v.trim());
const body = fc.oneof(fc.string({ maxLength: 600 }), fc.string({ minLength: LIMIT - 10, maxLength: LIMIT + 10 }));

/** A chunked encoding of `bytes`, in random chunk sizes, with optional extensions and trailers. */
const chunked = (bytes: Buffer): fc.Arbitrary<string> =>
  fc.tuple(fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 30 }), fc.boolean(), fc.array(fc.tuple(token, value), { maxLength: 3 })).map(([sizes, ext, trailers]) => {
    let out = "";
    let pos = 0;
    for (const size of [...sizes, bytes.length]) {
      if (pos >= bytes.length) break;
      const piece = bytes.subarray(pos, pos + size);
      pos += piece.length;
      out += `${piece.length.toString(16)}${ext ? ';name="v"' : ""}\r\n${piece.toString("latin1")}\r\n`;
    }
    return `${out}0\r\n${trailers.map(([n, v]) => `${n}: ${v}\r\n`).join("")}\r\n`;
  });

/** A well-formed reply and the body it frames. */
const wellFormed: fc.Arbitrary<Framed> = fc
  .tuple(fc.integer({ min: 200, max: 599 }), fc.array(fc.tuple(token, value), { maxLength: 5 }), body, fc.constantFrom("length", "chunked", "close", "head"), fc.boolean())
  .chain(([status, extra, text, framing, interim]): fc.Arbitrary<Framed> => {
    const bytes = Buffer.from(text, "utf8");
    const headers = extra
      .filter(([n]) => !/^(content-length|transfer-encoding|connection)$/i.test(n))
      .map(([n, v]) => `${n}: ${v}\r\n`)
      .join("");
    const start = `${interim ? "HTTP/1.1 100 Continue\r\n\r\n" : ""}HTTP/1.1 ${status} X\r\n${headers}`;
    const fits = bytes.length <= LIMIT;
    const plain = status === 204 || status === 304;
    if (framing === "chunked" && !plain) {
      return chunked(bytes).map((encoded) => ({ bytes: Buffer.from(`${start}transfer-encoding: chunked\r\n\r\n${encoded}`, "latin1"), body: fits ? text : undefined, headOnly: false }));
    }
    if (framing === "close" && !plain) {
      return fc.constant({ bytes: Buffer.concat([Buffer.from(`${start}\r\n`, "latin1"), bytes]), body: fits ? text : undefined, headOnly: false });
    }
    if (framing === "head") return fc.constant({ bytes: Buffer.from(`${start}content-length: ${bytes.length}\r\n\r\n`, "latin1"), body: "", headOnly: true });
    const sent = plain ? Buffer.alloc(0) : bytes;
    return fc.constant({ bytes: Buffer.concat([Buffer.from(`${start}content-length: ${sent.length}\r\n\r\n`, "latin1"), sent]), body: fits || plain ? (plain ? "" : text) : undefined, headOnly: false });
  });

/** A reply with a few random edits: anything may happen but an exception. */
const mutated: fc.Arbitrary<Framed> = fc.tuple(wellFormed, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom("flip", "insert", "cut")), { minLength: 1, maxLength: 4 })).map(([framed, edits]) => {
  let bytes = Buffer.from(framed.bytes);
  for (const [at, byte, kind] of edits) {
    const i = bytes.length === 0 ? 0 : at % bytes.length;
    if (kind === "flip") bytes[i] = byte;
    else if (kind === "insert") bytes = Buffer.concat([bytes.subarray(0, i), Buffer.from([byte]), bytes.subarray(i)]);
    else bytes = bytes.subarray(0, i);
  }
  return { bytes, body: undefined, headOnly: framed.headOnly };
});

const random: fc.Arbitrary<Framed> = fc.tuple(fc.uint8Array({ maxLength: 2000 }), fc.boolean()).map(([bytes, headOnly]) => ({ bytes: Buffer.from(bytes), body: undefined, headOnly }));

/** Cuts `bytes` at the given points, as a socket may deliver them. */
function pieces(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % bytes.length)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    if (p > from) out.push(bytes.subarray(from, p));
    from = Math.max(from, p);
  }
  if (from < bytes.length) out.push(bytes.subarray(from));
  return out;
}

/** Feeds the pieces, then the connection's end, and returns the first final step. */
function parse(framed: Framed, cuts: readonly number[]): H1Step {
  const parser = new H1ReplyParser(LIMIT);
  parser.expect(framed.headOnly);
  for (const piece of pieces(framed.bytes, cuts)) {
    const step = parser.push(piece);
    if (step.kind !== "more") return step;
  }
  return parser.end();
}

function check(framed: Framed, cuts: readonly number[]): void {
  const step = parse(framed, cuts);
  if (step.kind === "error") {
    assert.ok(step.error instanceof H1ParseError);
    assert.ok(["HTTP_PARSE", "RESPONSE_TOO_LARGE"].includes(step.error.code), step.error.code);
  } else if (step.kind === "reply") {
    assert.ok(Buffer.byteLength(step.reply.body) <= LIMIT * 3, "a body past the limit was returned");
  }
  if (framed.body !== undefined) {
    if (step.kind !== "reply") assert.fail(`a well-formed reply did not parse: ${step.kind === "error" ? step.error.message : step.kind}`);
    assert.equal(step.reply.body, framed.body);
  }
}

/** The fuzz target: any input ends in a reply or a typed error; well-formed ones give their body back. */
export const target = {
  name: "h1-reply-parser",
  property: fc.property(fc.oneof(wellFormed, mutated, random), fc.array(fc.nat(), { maxLength: 12 }), (framed, cuts) => {
    check(framed, cuts);
  }),
};

export const { name, property } = target;
export default target;
