/**
 * RFC 9113 §8.1–8.3 checks of response header blocks (src/transport/h2/fields.ts), with no
 * socket: each rule the brief names, in a head and in trailers, and the blocks real servers send.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { checkResponseBlock, type ResponsePhase } from "../../src/transport/h2/fields.js";
import type { HeaderField } from "../../src/transport/h2/hpack.js";

const GRPC: HeaderField[] = [
  [":status", "200"],
  ["content-type", "application/grpc"],
];

function problem(fields: HeaderField[], phase: ResponsePhase = "head", end = false): string {
  const verdict = checkResponseBlock(fields, phase, end);
  if (verdict.ok) assert.fail(`expected ${JSON.stringify(fields)} to be malformed`);
  return verdict.problem;
}

describe("RFC 9113 response header checks", () => {
  it("takes what etcd sends: a head, a trailers-only head, trailers; an interim 1xx head keeps the stream on heads", () => {
    assert.deepEqual(checkResponseBlock(GRPC, "head", false), { ok: true, next: "trailers" });
    assert.deepEqual(checkResponseBlock([...GRPC, ["grpc-status", "0"], ["grpc-message", ""]], "head", true), { ok: true, next: "trailers" });
    assert.deepEqual(checkResponseBlock([["grpc-status", "0"], ["te", "trailers"]], "trailers", true), { ok: true, next: "trailers" });
    assert.deepEqual(checkResponseBlock([[":status", "103"], ["link", "</a>"]], "head", false), { ok: true, next: "head" });
    assert.deepEqual(checkResponseBlock([[":status", "404"]], "head", true), { ok: true, next: "trailers" });
  });

  it("a field name with upper case letters, a space, a colon or a control byte is malformed", () => {
    for (const name of ["Content-Type", "grpc-Status", "a b", "a:b", "a\x00", "\x7f", "é", ""]) assert.match(problem([...GRPC, [name, "x"]]), /field name/);
    assert.match(problem([["Grpc-Status", "0"]], "trailers", true), /field name/);
  });

  it("a value with CR, LF or NUL, or leading or trailing white space, is malformed", () => {
    for (const value of ["a\r\nb", "a\nb", "a\0", " a", "a\t"]) assert.match(problem([...GRPC, ["x", value]]), /CR, LF, NUL/);
  });

  it("a pseudo-header after a regular header is malformed", () => {
    assert.match(problem([["content-type", "application/grpc"], [":status", "200"]]), /after a regular header/);
  });

  it("a request or unknown pseudo-header in a response is malformed", () => {
    for (const name of [":method", ":path", ":scheme", ":authority", ":protocol", ":foo"]) assert.match(problem([[":status", "200"], [name, "x"]]), /in a response/);
  });

  it("a missing, repeated or invalid :status is malformed, and so is 101", () => {
    assert.match(problem([["content-type", "application/grpc"]]), /no :status/);
    assert.match(problem([]), /no :status/);
    assert.match(problem([[":status", "200"], [":status", "200"]]), /more than one :status/);
    for (const status of ["20", "2000", "abc", "099", ""]) assert.match(problem([[":status", status]]), /three-digit/);
    assert.match(problem([[":status", "101"]]), /101/);
  });

  it("connection-specific headers are malformed; te only as \"trailers\"", () => {
    for (const name of ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]) assert.match(problem([...GRPC, [name, "x"]]), /connection-specific/);
    assert.match(problem([...GRPC, ["te", "gzip"]]), /te:/);
    assert.match(problem([["transfer-encoding", "chunked"]], "trailers", true), /connection-specific/);
  });

  it("pseudo-headers in trailers, trailers without END_STREAM, and an interim head with END_STREAM are malformed", () => {
    assert.match(problem([[":status", "200"]], "trailers", true), /in trailers/);
    assert.match(problem([["grpc-status", "0"]], "trailers", false), /without END_STREAM/);
    assert.match(problem([[":status", "100"]], "head", true), /informational/);
  });

  it("any block ends in a verdict, never an exception", () => {
    const field = fc.tuple(fc.oneof(fc.string(), fc.constantFrom(":status", ":path", "te", "connection")), fc.oneof(fc.string(), fc.constantFrom("200", "100", "trailers")));
    fc.assert(
      fc.property(fc.array(field, { maxLength: 8 }), fc.constantFrom<ResponsePhase>("head", "trailers"), fc.boolean(), (fields, phase, end) => {
        const verdict = checkResponseBlock(fields, phase, end);
        return verdict.ok ? ["head", "trailers"].includes(verdict.next) : verdict.problem.length > 0;
      }),
      { numRuns: 2000 },
    );
  });
});
