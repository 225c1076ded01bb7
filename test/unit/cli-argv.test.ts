/**
 * Go flag syntax made canonical, and the CLI's error texts, with no server. The messages are
 * etcdctl 3.4's, captured from real runs.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { normalizeArgv, parseGoBool, parseGoDuration, parseGoInt } from "../../src/cli/shared/argv.js";
import { UsageError, goErrorText, handleErrorText, isConnectionError } from "../../src/cli/v2/errors.js";
import { cleanKey } from "../../src/cli/v2/keys.js";
import { PROGRAM } from "../../src/cli/v2/spec.js";
import { EtcdError } from "../../src/index.js";

function usageError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof UsageError, `expected a UsageError, got ${String(error)}`);
    return error.message;
  }
  assert.fail("expected a UsageError");
}

describe("normalizeArgv", () => {
  const norm = (...argv: string[]): string[] => normalizeArgv(argv, PROGRAM);

  it("accepts Go's single-dash long flags and -flag=value forms", () => {
    assert.deepEqual(norm("-endpoints", "http://h:1", "set", "-ttl", "7", "/k", "v"), ["--endpoints=http://h:1", "set", "--ttl=7", "/k", "v"]);
    assert.deepEqual(norm("-o=json", "get", "/k"), ["--output=json", "get", "/k"]);
  });

  it("maps every alias to the canonical name", () => {
    assert.deepEqual(norm("role", "grant", "--rw", "--path", "/x", "r"), ["role", "grant", "--readwrite", "--path=/x", "r"]);
    assert.deepEqual(norm("-C", "http://h:1", "ls", "-q"), ["--peers=http://h:1", "ls", "--quorum"]);
  });

  it("reads Go booleans after =, dropping false ones", () => {
    assert.deepEqual(norm("get", "--sort=false", "--quorum=T", "/k"), ["get", "--quorum", "/k"]);
    assert.equal(usageError(() => norm("get", "--sort=maybe", "/k")), 'invalid boolean value "maybe" for -sort: parse error');
  });

  it("takes flags after arguments, as etcdctl's argument reordering does", () => {
    assert.deepEqual(norm("set", "/k", "v", "--ttl", "5"), ["set", "/k", "v", "--ttl=5"]);
  });

  it("leaves everything after -- alone", () => {
    assert.deepEqual(norm("set", "--", "/k", "-neg"), ["set", "--", "/k", "-neg"]);
  });

  it("passes exec-watch's command line through untouched after the key", () => {
    assert.deepEqual(norm("exec-watch", "-r", "/k", "--", "sh", "-c", "echo -x"), ["exec-watch", "--recursive", "/k", "--", "sh", "-c", "echo -x"]);
  });

  it("reports unknown and valueless flags in Go's words", () => {
    assert.equal(usageError(() => norm("--bogus", "get", "/k")), "flag provided but not defined: -bogus");
    assert.equal(usageError(() => norm("ls", "--bogus=3")), "flag provided but not defined: -bogus");
    assert.equal(usageError(() => norm("get", "/k", "-o", "json")), "flag provided but not defined: -o");
    assert.equal(usageError(() => norm("set", "--ttl")), "flag needs an argument: -ttl");
  });

  it("checks numbers and durations as Go parses them, and hands on plain decimal", () => {
    assert.deepEqual(norm("set", "--ttl", "0x10", "/k", "v"), ["set", "--ttl=16", "/k", "v"]);
    assert.deepEqual(norm("--timeout", "1m30s", "ls"), ["--timeout=90000", "ls"]);
    assert.equal(usageError(() => norm("set", "--ttl", "abc")), 'invalid value "abc" for flag -ttl: parse error');
    assert.equal(usageError(() => norm("--timeout", "1x", "ls")), 'invalid value "1x" for flag -timeout: parse error');
  });

  it("stops at an unknown command, for commander to report", () => {
    assert.deepEqual(norm("nosuch", "--whatever"), ["nosuch", "--whatever"]);
  });
});

describe("Go value parsers", () => {
  it("parseGoInt follows strconv.ParseInt(s, 0, 64)", () => {
    assert.equal(parseGoInt("42", "n"), 42);
    assert.equal(parseGoInt("-1", "n"), -1);
    assert.equal(parseGoInt("+7", "n"), 7);
    assert.equal(parseGoInt("010", "n"), 8);
    assert.equal(parseGoInt("0o17", "n"), 15);
    assert.equal(parseGoInt("0b101", "n"), 5);
    assert.equal(parseGoInt("1_000", "n"), 1000);
    assert.equal(parseGoInt("0x_1f", "n"), 31);
    for (const bad of ["", "1_", "1__0", "0x", "08", "1.5", " 1", "_1"]) {
      assert.equal(usageError(() => parseGoInt(bad, "n")), `invalid value ${JSON.stringify(bad)} for flag -n: parse error`);
    }
    assert.equal(usageError(() => parseGoInt("99999999999999999999", "ttl")), 'invalid value "99999999999999999999" for flag -ttl: value out of range');
  });

  it("parseGoBool accepts exactly Go's spellings", () => {
    for (const yes of ["1", "t", "T", "TRUE", "true", "True"]) assert.equal(parseGoBool(yes, "b"), true);
    for (const no of ["0", "f", "F", "FALSE", "false", "False"]) assert.equal(parseGoBool(no, "b"), false);
    assert.throws(() => parseGoBool("yes", "b"), UsageError);
  });

  it("parseGoDuration follows time.ParseDuration, in milliseconds", () => {
    assert.equal(parseGoDuration("2s", "t"), 2000);
    assert.equal(parseGoDuration("1.5h", "t"), 5_400_000);
    assert.equal(parseGoDuration("300ms", "t"), 300);
    assert.equal(parseGoDuration("1m30s", "t"), 90_000);
    assert.equal(parseGoDuration("0", "t"), 0);
    assert.equal(parseGoDuration(".5s", "t"), 500);
    for (const bad of ["", "5", "s", "1x", "1.s.", "-"]) assert.throws(() => parseGoDuration(bad, "t"), UsageError, bad);
  });
});

describe("cleanKey", () => {
  it("resolves keys as the Go client's CanonicalURLPath does", () => {
    assert.equal(cleanKey("foo"), "/foo");
    assert.equal(cleanKey("/a/../foo"), "/foo");
    assert.equal(cleanKey("/dot/./k"), "/dot/k");
    assert.equal(cleanKey("/a//b/"), "/a/b/");
    assert.equal(cleanKey("/../.."), "/");
  });
});

describe("error texts", () => {
  const keyError = (body: object): EtcdError =>
    new EtcdError("KEY_NOT_FOUND", "ignored", { errorCode: 100, serverMessage: "Key not found", serverCause: "/a/nope", index: 6, response: { status: 404, headers: {}, body: JSON.stringify(body) } });

  it("a server error prints as the Go client's code: message (cause) [index]", () => {
    const error = keyError({ errorCode: 100, message: "Key not found", cause: "/a/nope", index: 6 });
    assert.equal(handleErrorText(error), "Error:  100: Key not found (/a/nope) [6]\n");
  });

  it("the index is the one in the body, 0 included", () => {
    const error = new EtcdError("UNAUTHORIZED", "x", {
      errorCode: 110,
      serverMessage: "The request requires user authentication",
      serverCause: "Insufficient credentials",
      index: 41,
      response: { status: 401, headers: {}, body: '{"errorCode":110,"message":"The request requires user authentication","cause":"Insufficient credentials","index":0}' },
    });
    assert.equal(goErrorText(error), "110: The request requires user authentication (Insufficient credentials) [0]");
  });

  it("refused connections read like the Go client's ClusterError, with its detail", () => {
    const refused = (port: number): EtcdError =>
      new EtcdError("UNAVAILABLE", "x", { endpoint: `http://127.0.0.1:${port}`, delivery: "unsent", cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED", address: "127.0.0.1", port }) });
    const error = new EtcdError("UNAVAILABLE", "all failed", { delivery: "unsent", errors: [refused(1), refused(2), refused(1)] });
    assert.equal(
      handleErrorText(error),
      "Error:  client: etcd cluster is unavailable or misconfigured; error #0: dial tcp 127.0.0.1:1: connect: connection refused\n" +
        "; error #1: dial tcp 127.0.0.1:2: connect: connection refused\n\n" +
        "error #0: dial tcp 127.0.0.1:1: connect: connection refused\nerror #1: dial tcp 127.0.0.1:2: connect: connection refused\n\n",
    );
    assert.equal(isConnectionError(error), true);
  });

  it("a deadline is the context's error, and counts as a connection error", () => {
    const error = new EtcdError("TIMEOUT", "get timed out", { delivery: "unknown" });
    assert.equal(handleErrorText(error), "Error:  context deadline exceeded\n");
    assert.equal(isConnectionError(error), true);
  });

  it("members and auth errors print the server's message", () => {
    const error = new EtcdError("NOT_FOUND", "404: auth: User nope does not exist.", { status: 404, serverMessage: "auth: User nope does not exist." });
    assert.equal(goErrorText(error), "auth: User nope does not exist.");
    assert.equal(isConnectionError(error), false);
  });
});
