/**
 * The codec's fast paths (bench/ and docs/performance.md say why they exist) must give exactly
 * what the general code gives: the same path for every key, the same query for every read, the
 * same verdict on blank bodies and the same field order in decoded nodes.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { decodeJsonReply, decodeNode, encodeKeyPath, encodeParams, getRequest, putRequest, withQuery, type PutSpec } from "../../src/codec/v2.js";
import { EtcdError } from "../../src/errors.js";

/** The general key encoding, as it was before the fast path: the reference the fast path must match. */
function generalKeyPath(key: string): string {
  const segments = key.split("/").filter((s) => s !== "");
  if (segments.some((s) => s === "." || s === "..")) throw new Error("dot segment");
  return `/v2/keys/${segments.map(encodeURIComponent).join("/")}`;
}

function outcome(fn: () => string): string {
  try {
    return fn();
  } catch (error) {
    return error instanceof EtcdError ? `error ${error.code}` : "error";
  }
}

const ALPHABET = ["a", "Z", "0", "_", "-", "~", ".", "/", " ", "+", "%", "?", "#", "é", "😀", "*", "'", "(", ":"];

function randomKeys(count: number): string[] {
  let seed = 7;
  const next = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  return Array.from({ length: count }, () => Array.from({ length: 1 + next(8) }, () => ALPHABET[next(ALPHABET.length)]).join(""));
}

describe("v2 codec fast paths", () => {
  it("encodes every key exactly as the general encoding does", () => {
    const keys = ["/prof/k", "prof/k", "/a", "a", "/", "", "//a//b/", "/a/./b", "/a/../b", "/.a", "/a.", "/a..b", "/-~_.x", "/a b", "/é", "/a/b/c/d/e", ...randomKeys(5000)];
    for (const key of keys) {
      const expected = outcome(() => generalKeyPath(key));
      const actual = outcome(() => encodeKeyPath(key));
      if (expected === "error") assert.match(actual, /^error INVALID_ARGUMENT$/, `key ${JSON.stringify(key)}`);
      else assert.equal(actual, expected, `key ${JSON.stringify(key)}`);
    }
  });

  it("builds every read's query exactly as withQuery does", () => {
    for (const recursive of [undefined, false, true]) {
      for (const sorted of [undefined, false, true]) {
        for (const quorum of [undefined, false, true]) {
          const flag = (b: boolean | undefined): string | undefined => (b === true ? "true" : undefined);
          const expected = withQuery(encodeKeyPath("/a/b"), { recursive: flag(recursive), sorted: flag(sorted), quorum: flag(quorum) });
          assert.equal(getRequest("/a/b", { recursive, sorted, quorum }).path, expected);
        }
      }
    }
  });

  it("builds every write's query and form exactly as withQuery and encodeParams do", () => {
    const general = (key: string, spec: PutSpec): { path: string; body: string } => {
      const flag = (b: boolean | undefined): string | undefined => (b === true ? "true" : undefined);
      const query = {
        dir: flag(spec.dir),
        prevExist: spec.prevExist === undefined ? undefined : String(spec.prevExist),
        prevIndex: spec.prevIndex === undefined ? undefined : String(spec.prevIndex),
        refresh: flag(spec.refresh),
        noValueOnSuccess: flag(spec.noValueOnSuccess),
      };
      const ttl = spec.ttl === undefined ? undefined : spec.ttl === null ? "" : String(spec.ttl);
      return { path: withQuery(encodeKeyPath(key), query), body: encodeParams({ value: spec.value, ttl, prevValue: spec.prevValue }) };
    };
    let count = 0;
    for (const value of [undefined, "", "v", "a b&c=d+é😀%"]) {
      for (const ttl of [undefined, null, 5]) {
        for (const prevExist of [undefined, false, true]) {
          for (const prevIndex of [undefined, 7]) {
            for (const prevValue of [undefined, "", "x y&z"]) {
              for (const dir of [undefined, false, true]) {
                for (const flags of [undefined, false, true]) {
                  const spec: PutSpec = { value, ttl, prevExist, prevIndex, prevValue, dir, refresh: flags, noValueOnSuccess: flags === undefined ? undefined : !flags };
                  const actual = putRequest("/a b/c", spec);
                  assert.deepEqual({ path: actual.path, body: actual.body }, general("/a b/c", spec), JSON.stringify(spec));
                  assert.equal(actual.method, "PUT");
                  count++;
                }
              }
            }
          }
        }
      }
    }
    assert.equal(count, 4 * 3 * 3 * 2 * 3 * 3 * 3);
  });

  it("treats a body as empty exactly when trimming it leaves nothing", () => {
    for (const body of ["", " ", "\n", "\r\n\t", "\u00a0", "\ufeff", "\u2028", "\u3000", " {} ", "\n{\"a\":1}\n", "x"]) {
      const reply = { status: 200, headers: {}, body };
      let empty = false;
      try {
        decodeJsonReply(reply, "http://m", [200]);
      } catch (error) {
        empty = error instanceof EtcdError && error.code === "EMPTY_RESPONSE";
      }
      assert.equal(empty, body.trim() === "", `body ${JSON.stringify(body)}`);
    }
  });

  it("decodes a node with its fields in etcd's order", () => {
    const node = decodeNode({ modifiedIndex: 5, createdIndex: 4, ttl: 9, expiration: "2030-01-01T00:00:00Z", nodes: [{ key: "/d/x", value: "1" }], dir: true, value: "v", key: "/d" });
    assert.deepEqual(Object.keys(node), ["key", "value", "dir", "nodes", "expiration", "ttl", "createdIndex", "modifiedIndex"]);
    assert.deepEqual(Object.keys(decodeNode({})), ["key", "createdIndex", "modifiedIndex"]);
  });
});
