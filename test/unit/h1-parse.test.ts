/**
 * The HTTP/1.1 reply parser and request checks (src/transport/h1-parse.ts) without a socket:
 * byte fixtures for each framing and limit, and a few seconds of the fuzz target (test/fuzz/h1.ts;
 * `npm run fuzz` runs it longer).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { H1ReplyParser, MAX_HEAD_BYTES, requestProblem, type H1Step } from "../../src/transport/h1-parse.js";
import { target } from "../fuzz/h1.js";

function feed(limit: number, ...inputs: (string | Buffer)[]): H1Step {
  const parser = new H1ReplyParser(limit);
  parser.expect(false);
  for (const input of inputs) {
    const step = parser.push(typeof input === "string" ? Buffer.from(input, "latin1") : input);
    if (step.kind !== "more") return step;
  }
  return { kind: "more" };
}

function errorCode(step: H1Step): string {
  if (step.kind !== "error") assert.fail(`expected an error, got ${step.kind}`);
  return step.error.code;
}

describe("HTTP/1.1 reply parser", () => {
  it("reads Content-Length, chunked (extensions, trailers) and close-framed bodies, byte by byte too", () => {
    const replies = [
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;a=b\r\nhe\r\n3\r\nllo\r\n0\r\nX-T: 1\r\n\r\n",
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello",
    ];
    for (const text of replies) {
      const whole = feed(100, text);
      assert.equal(whole.kind === "reply" ? whole.reply.body : whole.kind, "hello", text);
      const parser = new H1ReplyParser(100);
      parser.expect(false);
      let last: H1Step = { kind: "more" };
      for (const byte of Buffer.from(text, "latin1")) last = parser.push(Buffer.from([byte]));
      assert.equal(last.kind === "reply" ? last.reply.body : last.kind, "hello", `${text} byte by byte`);
    }
    const parser = new H1ReplyParser(100);
    parser.expect(false);
    assert.equal(parser.push(Buffer.from("HTTP/1.1 200 OK\r\n\r\nhel", "latin1")).kind, "more");
    assert.equal(parser.push(Buffer.from("lo", "latin1")).kind, "more");
    const end = parser.end();
    assert.ok(end.kind === "reply" && end.reply.body === "hello" && !end.reusable);
  });

  it("refuses a declared Content-Length or chunk size past the limit before keeping any of it", () => {
    const before = process.memoryUsage().arrayBuffers;
    assert.equal(errorCode(feed(1024, "HTTP/1.1 200 OK\r\ncontent-length: 999999999999999\r\n\r\n")), "RESPONSE_TOO_LARGE");
    assert.equal(errorCode(feed(1024, "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nffffffffffff\r\n")), "RESPONSE_TOO_LARGE");
    assert.equal(errorCode(feed(1024, "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n200\r\n", Buffer.alloc(512, 0x61), "\r\n201\r\n")), "RESPONSE_TOO_LARGE");
    assert.equal(errorCode(feed(1024, "HTTP/1.1 200 OK\r\n\r\n", Buffer.alloc(1000), Buffer.alloc(1000))), "RESPONSE_TOO_LARGE");
    assert.ok(process.memoryUsage().arrayBuffers - before < 1024 * 1024, "no allocation in proportion to a declared size");
  });

  it("bounds heads, chunk-size lines and trailers by MAX_HEAD_BYTES, however they are split", () => {
    const long = Buffer.alloc(MAX_HEAD_BYTES + 10, 0x61);
    assert.equal(errorCode(feed(1024, "HTTP/1.1 200 OK\r\nx: ", long)), "HTTP_PARSE");
    assert.equal(errorCode(feed(1024, "HTTP/1.1 200 OK\r\nx: ", long.subarray(0, 40_000), long.subarray(0, 40_000))), "HTTP_PARSE");
    assert.equal(errorCode(feed(1024, "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1;", long)), "HTTP_PARSE");
    const trailers = Array.from({ length: 2000 }, (_, i) => `t${i}: ${"v".repeat(40)}\r\n`).join("");
    assert.equal(errorCode(feed(1024, "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n", trailers)), "HTTP_PARSE");
  });

  it("reads a reply with both Transfer-Encoding and Content-Length by its chunks, and says not to reuse the connection", () => {
    const step = feed(100, "HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    assert.ok(step.kind === "reply", step.kind);
    assert.equal(step.reply.body, "hello");
    assert.equal(step.reusable, false);
    const plain = feed(100, "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    assert.ok(plain.kind === "reply" && plain.reusable);
  });

  it("refuses malformed status lines, header lines, content lengths, chunk framing and a 101", () => {
    for (const text of [
      "HTTP/2.0 200 OK\r\n\r\n",
      "HTTP/1.1 2x0 OK\r\n\r\n",
      "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
      "HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
      "HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n",
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\r\nabc",
      "HTTP/1.1 101 Switching\r\n\r\n",
    ]) {
      assert.equal(errorCode(feed(100, text)), "HTTP_PARSE", JSON.stringify(text));
    }
  });

  it("any bytes end in a reply or a typed error, and well-formed replies give their body back (fuzz, ~3 s)", () => {
    const started = performance.now();
    const result = fc.check(target.property, { numRuns: 1_000_000, interruptAfterTimeLimit: 3_000, seed: Date.now() });
    const runs = result.numRuns;
    if (result.failed) assert.fail(`fuzz failure (seed ${result.seed}, path ${String(result.counterexamplePath)}): ${String(result.errorInstance)}\n${JSON.stringify(result.counterexample).slice(0, 2000)}`);
    assert.ok(runs >= 100, `only ${runs} fuzz runs in ${Math.round(performance.now() - started)} ms`);
  });
});

describe("HTTP/1.1 request checks", () => {
  it("refuse CR, LF, NUL, spaces and non-token bytes in the method, path and header lines", () => {
    assert.equal(requestProblem("GET", "/v2/keys/a?quorum=true", "authorization: Basic eA==\r\ncontent-type: text/plain\r\n"), undefined);
    const bad: [string, string, string][] = [
      ["GET", "/v2/keys/a HTTP/1.1\r\nx-injected: yes\r\n\r\nDELETE /v2/keys/victim", ""],
      ["GET", "/a\nb", ""],
      ["GET", "/a\0", ""],
      ["GET", "/a b", ""],
      ["GET", "v2/keys", ""],
      ["GET", "/€", ""],
      ["GE T", "/", ""],
      ["GET\r\n", "/", ""],
      ["", "/", ""],
      ["GET", "/", "content-type: a\r\nx: b\rc\r\n"],
      ["GET", "/", "bad name: x\r\n"],
      ["GET", "/", "x: y"],
      ["GET", "/", "x: \0\r\n"],
    ];
    for (const [method, path, headers] of bad) assert.ok(requestProblem(method, path, headers) !== undefined, JSON.stringify([method, path, headers]));
  });
});
