/**
 * The v3 command line's pure parts: pflag/cobra parsing, Go's JSON, %q, tabwriter and durations,
 * the txn grammar, watch's argument rules, the error texts. No server.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { goHex, goQuote } from "../../src/cli/shared/gofmt.js";
import { goJson, omitEmpty } from "../../src/cli/shared/gojson.js";
import { tabAlign } from "../../src/cli/shared/tabwriter.js";
import { errorText } from "../../src/cli/v3/errors.js";
import { debugDump, goDuration, shadowedVariable, withEnvironment } from "../../src/cli/v3/globals.js";
import { GLOBAL_FLAGS } from "../../src/cli/v3/globals.js";
import { flagLines, usageText } from "../../src/cli/v3/help.js";
import { COMMANDS } from "../../src/cli/v3/commands.js";
import { GET, PUT } from "../../src/cli/v3/kv.js";
import { API_VERSION } from "../../src/cli/v3/names.js";
import { run } from "../../src/cli/v3/run.js";
import { VERSION } from "../../src/version.js";
import type { CliIo } from "../../src/cli/shared/io.js";
import { parseCommandLine, parseFlags, parseGoInt64, stripFlags, unknownCommand } from "../../src/cli/v3/parse.js";
import { Flags, type CommandSpec, type FlagSpec } from "../../src/cli/v3/spec.js";
import { TxnInputError, TxnPanic, argify, goUnquote, parseCompare, scanCompare } from "../../src/cli/v3/txn-parse.js";
import { WatchArgsError, parseWatchArgs } from "../../src/cli/v3/watch-args.js";
import { EtcdError } from "../../src/errors.js";

const ROOT: CommandSpec = { name: "etcd-ts", use: "", short: "", subcommands: [GET, PUT, { name: "grp", use: "", short: "", subcommands: [{ name: "sub", use: "", short: "", action: () => Promise.resolve() }] }] };

describe("cobra and pflag parsing", () => {
  it("finds the command wherever the global flags sit, and takes flags after arguments", () => {
    const parsed = parseCommandLine(["-w", "json", "get", "k", "--prefix", "--endpoints=a:1,b:2", "--limit", "5"], ROOT, GLOBAL_FLAGS);
    assert.ok(parsed.kind === "run");
    assert.deepEqual(parsed.args, ["k"]);
    assert.equal(parsed.values.get("write-out"), "json");
    assert.equal(parsed.values.get("prefix"), "true");
    assert.deepEqual(parsed.values.get("endpoints"), ["a:1", "b:2"]);
    assert.equal(parsed.values.get("limit"), "5");
  });

  it("accepts a unique prefix of a command, and -- ends the flags", () => {
    const parsed = parseCommandLine(["pu", "--", "k", "-v"], ROOT, GLOBAL_FLAGS);
    assert.equal(parsed.kind === "run" && parsed.path.at(-1)?.name, "put");
    assert.deepEqual(parsed.kind === "run" ? parsed.args : [], ["k", "-v"]);
  });

  it("reads shorthands as pflag does: -wjson, -w=json, -w json", () => {
    for (const argv of [["-wjson"], ["-w=json"], ["-w", "json"]]) {
      const parsed = parseFlags(argv, GLOBAL_FLAGS);
      assert.equal(typeof parsed === "string" ? parsed : parsed.values.get("write-out"), "json");
    }
  });

  it("words every mistake as pflag and cobra do", () => {
    const error = (argv: string[]): string => {
      const parsed = parseCommandLine(argv, ROOT, GLOBAL_FLAGS);
      return parsed.kind === "flag-error" || parsed.kind === "unknown-command" ? parsed.message : parsed.kind;
    };
    assert.equal(error(["get", "--bogus"]), "unknown flag: --bogus");
    assert.equal(error(["get", "-x"]), "unknown shorthand flag: 'x' in -x");
    assert.equal(error(["get", "--limit"]), "flag needs an argument: --limit");
    assert.equal(error(["-w"]), "flag needs an argument: 'w' in -w");
    assert.equal(error(["get", "--limit=x"]), 'invalid argument "x" for "--limit" flag: strconv.ParseInt: parsing "x": invalid syntax');
    assert.equal(error(["get", "--prefix=maybe"]), 'invalid argument "maybe" for "--prefix" flag: strconv.ParseBool: parsing "maybe": invalid syntax');
    assert.equal(error(["--dial-timeout", "5", "get"]), 'invalid argument "5" for "--dial-timeout" flag: time: invalid duration "5"');
    assert.equal(error(["get", "---x"]), "bad flag syntax: ---x");
    assert.equal(error(["foo"]), 'unknown command "foo" for "etcd-ts"');
    // cobra suggests names within Levenshtein distance 2: "grp" is as close as "get".
    assert.equal(error(["gte"]), 'unknown command "gte" for "etcd-ts"\n\nDid you mean this?\n\tget\n\tgrp\n');
    assert.equal(error(["grp"]), "help");
    assert.equal(error(["get", "-h"]), "help");
  });

  it("strips flags as cobra's stripFlags does, quirks included", () => {
    assert.deepEqual(stripFlags(["--endpoints", "x", "get", "k"], GLOBAL_FLAGS), ["get", "k"]);
    assert.deepEqual(stripFlags(["--debug", "get"], GLOBAL_FLAGS), ["get"]);
    // A value-taking flag followed by exactly one word ends the scan (cobra's `len(args) <= 1`).
    assert.deepEqual(stripFlags(["get", "--user", "x"], GLOBAL_FLAGS), ["get"]);
    assert.deepEqual(stripFlags(["a", "--", "b"], GLOBAL_FLAGS), ["a"]);
  });

  it("parses int64 as strconv.ParseInt(s, 0, 64)", () => {
    assert.deepEqual(parseGoInt64("0x10", false), { ok: "16" });
    assert.deepEqual(parseGoInt64("010", false), { ok: "8" });
    assert.deepEqual(parseGoInt64("0b1_0", false), { ok: "2" });
    assert.deepEqual(parseGoInt64("-9223372036854775808", false), { ok: "-9223372036854775808" });
    assert.deepEqual(parseGoInt64("9223372036854775808", false), { error: 'strconv.ParseInt: parsing "9223372036854775808": value out of range' });
    assert.deepEqual(parseGoInt64("18446744073709551615", true), { ok: "18446744073709551615" });
    assert.deepEqual(parseGoInt64("1__0", false), { error: 'strconv.ParseInt: parsing "1__0": invalid syntax' });
    fc.assert(
      fc.property(fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }), (n) => {
        assert.deepEqual(parseGoInt64(n.toString(), false), { ok: n.toString() });
      }),
    );
  });

  it("gives defaults through Flags and knows what was given", () => {
    const specs = new Map<string, FlagSpec>(GLOBAL_FLAGS.map((f) => [f.name, f]));
    const flags = new Flags(new Map([["hex", "true"]]), specs);
    assert.equal(flags.bool("hex"), true);
    assert.equal(flags.changed("hex"), true);
    assert.equal(flags.duration("dial-timeout"), 2000);
    assert.equal(flags.duration("keepalive-timeout"), 6000);
    assert.deepEqual(flags.list("endpoints"), ["127.0.0.1:2379"]);
    assert.equal(flags.string("write-out"), "simple");
  });
});

describe("ETCDCTL_* environment", () => {
  it("fills flags not given, ignores values that do not parse, and names a flag given twice", () => {
    const env = { ETCDCTL_DIAL_TIMEOUT: "abc", ETCDCTL_COMMAND_TIMEOUT: "1m30s", ETCDCTL_ENDPOINTS: "a:1,b:2", ETCDCTL_HEX: "true", ETCDCTL_WRITE_OUT: "json" };
    const merged = withEnvironment(new Map([["write-out", "fields"]]), env);
    assert.equal(merged.get("dial-timeout"), undefined);
    assert.equal(merged.get("command-timeout"), "90000");
    assert.deepEqual(merged.get("endpoints"), ["a:1", "b:2"]);
    assert.equal(merged.get("hex"), "true");
    assert.equal(merged.get("write-out"), "fields");
    assert.equal(shadowedVariable(new Map([["write-out", "fields"]]), env), "ETCDCTL_WRITE_OUT");
    assert.equal(shadowedVariable(new Map([["debug", "true"]]), env), undefined);
  });

  it("dumps the flags for --debug as etcdctl does, sorted, durations in Go's form", () => {
    const dump = debugDump(new Map([["command-timeout", "90000"]]));
    assert.match(dump, /^ETCDCTL_CACERT=\nETCDCTL_CERT=\nETCDCTL_COMMAND_TIMEOUT=1m30s\nETCDCTL_DEBUG=false\n/);
    assert.match(dump, /\nETCDCTL_ENDPOINTS=\[127\.0\.0\.1:2379\]\n/);
    assert.match(dump, /\nETCDCTL_WRITE_OUT=simple\n$/);
  });

  it("writes durations as Go's time.Duration.String", () => {
    assert.deepEqual([0, 2000, 90_000, 500, 1.5, 3_600_000, 5_400_500, 0.001].map(goDuration), ["0s", "2s", "1m30s", "500ms", "1.5ms", "1h0m0s", "1h30m0.5s", "1µs"]);
  });
});

describe("Go's formats", () => {
  it("writes bigints as bare numbers, bytes as base64, and leaves omitempty fields out", () => {
    const id = (1n << 64n) - 1n;
    assert.equal(goJson({ cluster_id: id, key: Buffer.from("foo"), more: omitEmpty(false), count: omitEmpty(0n), kvs: omitEmpty([]), s: "<&>" }), '{"cluster_id":18446744073709551615,"key":"Zm9v","s":"\\u003c\\u0026\\u003e"}');
  });

  it("matches JSON.stringify where Go and JavaScript agree", () => {
    const safe = fc.string().filter((s) => !/[<>&\u2028\u2029]/.test(s));
    const value = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: "small" }, fc.integer(), fc.boolean(), fc.constant(null), safe, fc.array(tie("v"), { maxLength: 3 }), fc.dictionary(safe, tie("v"), { maxKeys: 3 })),
    })).v;
    fc.assert(
      fc.property(value, (v) => {
        assert.equal(goJson(v as never), JSON.stringify(v));
      }),
    );
  });

  it("quotes as %q does, bytes that are not UTF-8 as \\x", () => {
    assert.equal(goQuote('a"b\\c\n\t\u0001é\u00a0'), '"a\\"b\\\\c\\n\\t\\x01é\\u00a0"');
    assert.equal(goQuote(Buffer.from([0x66, 0xff, 0xc3])), '"f\\xff\\xc3"');
    assert.equal(goHex(-1n, 16), "ffffffffffffffff");
    assert.equal(goHex(0x2an, 16), "000000000000002a");
  });

  it("aligns cells as Go's tabwriter with tab padding does", () => {
    assert.equal(tabAlign("a\tb\nlonger-cell\tc\n\nx\ty\n"), "a\t\tb\nlonger-cell\tc\n\nx\ty\n");
    assert.equal(tabAlign("1234567\tx\n"), "1234567\tx\n");
    // 8 characters plus the padding of 1 round up to 16: one tab reaches it.
    assert.equal(tabAlign("12345678\tx\n"), "12345678\tx\n");
    assert.equal(tabAlign("a\tb\n123456789012345\tc\n"), "a\t\tb\n123456789012345\tc\n");
  });

  it("lists flags as etcd's help does: strings quoted, switches with [=default]", () => {
    const text = flagLines([{ name: "zed", kind: "string", defaultValue: "l", usage: "z" }, { name: "all", short: "a", kind: "bool", defaultValue: "false", usage: "b" }, { name: "n", kind: "int", defaultValue: "0", usage: "c" }]);
    assert.equal(text, '  -a, --all[=false]\tb\n      --n=0\tc\n      --zed="l"\tz\n');
  });

  it("the root's command list includes migrate v2-to-v3 in name order; a group's list does not", () => {
    const root: CommandSpec = { name: "etcd-ts", use: "", short: "r", subcommands: [GET, PUT] };
    const text = usageText([root], GLOBAL_FLAGS, { version: "0", apiVersion: "3.5" });
    const commands = text.slice(text.indexOf("COMMANDS:"), text.indexOf("OPTIONS:")).split("\n").map((l) => l.trim().split(/\t+/)[0]).filter((w) => w !== undefined && w !== "" && w !== "COMMANDS:");
    assert.deepEqual(commands, ["get", "migrate v2-to-v3", "put"]);
    const group: CommandSpec = { name: "kv", use: "", short: "g", subcommands: [GET] };
    assert.doesNotMatch(usageText([root, group], GLOBAL_FLAGS, { version: "0", apiVersion: "3.5" }), /migrate/);
  });
});

describe("what the root answers without loading command modules", () => {
  /** Each runnable command at or below `spec`, as help lists it: its words and short text. */
  function runnableLines(spec: CommandSpec, prefix: readonly string[] = []): [string, string][] {
    const words = [...prefix, spec.name];
    const own: [string, string][] = spec.action === undefined ? [] : [[words.join(" "), spec.short]];
    return [...own, ...(spec.subcommands ?? []).flatMap((sub) => runnableLines(sub, words))];
  }

  async function helpOutput(argv: readonly string[]): Promise<string> {
    let out = "";
    const io: CliIo = {
      stdout: (text) => (out += text),
      stderr: (text) => assert.fail(`stderr: ${text}`),
      env: {},
      readStdin: () => Promise.resolve(""),
      readSecret: () => Promise.resolve(""),
      trapInterrupt: () => new AbortController().signal,
    };
    assert.equal(await run(argv, io), 0);
    return out;
  }

  it("lists for each command what its module defines (--help loads none of them)", async () => {
    for (const entry of COMMANDS) {
      const spec = await entry.load();
      assert.equal(spec.name, entry.name);
      const sort = (lines: readonly (readonly [string, string])[]): string[] => lines.map(([w, s]) => `${w}\t${s}`).sort();
      assert.deepEqual(sort(entry.summary), sort(runnableLines(spec)), `the summary of ${entry.name}`);
    }
  });

  it("answers version without the v3 runner as the version command does", async () => {
    const { run: runTop } = await import("../../src/cli/run.js");
    const io = (sink: string[]): CliIo => ({
      stdout: (text) => sink.push(text),
      stderr: (text) => assert.fail(`stderr: ${text}`),
      env: {},
      readStdin: () => Promise.resolve(""),
      readSecret: () => Promise.resolve(""),
      trapInterrupt: () => new AbortController().signal,
    });
    const fast: string[] = [];
    const slow: string[] = [];
    assert.equal(await runTop(["version"], io(fast)), 0);
    assert.equal(await run(["version"], io(slow)), 0);
    assert.equal(fast.join(""), slow.join(""));
    assert.match(fast.join(""), /^etcd-ts version: .+\nAPI version: 3\.5\n$/);
  });

  it("gives the same root help as the loaded command modules would", async () => {
    const loaded = await Promise.all(COMMANDS.map((c) => c.load()));
    const help: CommandSpec = { name: "help", use: "[command]", short: "Help about any command", action: () => Promise.resolve() };
    const root: CommandSpec = { name: "etcd-ts", use: "", short: "A simple command line client for etcd3.", subcommands: [...loaded, help] };
    const expected = usageText([root], GLOBAL_FLAGS, { version: VERSION, apiVersion: API_VERSION });
    assert.match(expected, /\tlease keep-alive\tKeeps leases alive/);
    assert.equal(await helpOutput(["--help"]), expected);
    assert.equal(await helpOutput(["help"]), expected);
  });
});

describe("txn grammar", () => {
  it("splits words as argify does, quoting and its single-quote slice kept", () => {
    assert.deepEqual(argify('put k "a b\\tc"'), ["put", "k", "a b\tc"]);
    assert.deepEqual(argify("put k 'abcdef'"), ["put", "k", "a"]);
    assert.deepEqual(argify("put 'abcdef' x y z"), ["put", "abc", "x", "y", "z"]);
    assert.throws(() => argify("'ab'"), TxnPanic);
    assert.deepEqual(argify("  get   k  "), ["get", "k"]);
  });

  it("unquotes as strconv.Unquote does", () => {
    assert.equal(goUnquote('"\\x41\\101\\u00e9\\U0001F600\\a"'), "AAé\u{1f600}\u0007");
    assert.equal(goUnquote('"bad\\q"'), undefined);
  });

  it("scans compares as Sscanf(\"%q) %s %q\") does", () => {
    assert.deepEqual(scanCompare('"k") = "v"'), { n: 3, key: "k", op: "=", val: "v" });
    assert.deepEqual(scanCompare('"k")="v"'), { n: 1, key: "k", op: "", val: "" });
    assert.deepEqual(scanCompare('"k" ) = "v"'), { n: 1, key: "k", op: "", val: "" });
    assert.deepEqual(scanCompare('"k") > 3'), { n: 2, key: "k", op: ">", val: "" });
    assert.deepEqual(scanCompare("`raw`) < `x`"), { n: 3, key: "raw", op: "<", val: "x" });
  });

  it("parses every target and refuses as etcdctl does", () => {
    assert.deepEqual(parseCompare('ver("k") != "2"'), { key: "k", target: "version", result: "!=", value: 2n });
    assert.deepEqual(parseCompare('val("k") = "x"'), { key: "k", target: "value", result: "==", value: "x" });
    assert.throws(() => parseCompare("nope"), (e: unknown) => e instanceof TxnInputError && e.message === "malformed comparison: nope");
    assert.throws(() => parseCompare('mod(k) > "1"'), (e: unknown) => e instanceof TxnInputError && e.message === 'malformed comparison: mod(k) > "1"; got mod("")  ""');
    assert.throws(() => parseCompare('size("k") > "1"'), (e: unknown) => e instanceof TxnInputError && e.message.endsWith("(unknown target size)"));
    assert.throws(() => parseCompare('c("k") > "x"'), (e: unknown) => e instanceof TxnInputError && e.message === 'invalid txn compare request: c("k") > "x"');
    assert.throws(() => parseCompare('value("k") == "1"'), (e: unknown) => e instanceof TxnPanic && e.message === "Unknown result op");
    assert.throws(() => parseCompare('lease("k") = "1"'), (e: unknown) => e instanceof TxnPanic && e.message === "bad value");
  });
});

describe("watch arguments", () => {
  const options = { prefix: false, rev: 0n, prevKv: false, progressNotify: false };
  const parse = (argv: string[], args: string[], envKey = "", envRange = ""): unknown => {
    try {
      const r = parseWatchArgs({ argv, args, envKey, envRange, interactive: false, options });
      return { watch: r.watchArgs, exec: r.execArgs };
    } catch (error) {
      return error instanceof WatchArgsError ? error.message : error;
    }
  };

  it("splits the key from the command after --", () => {
    assert.deepEqual(parse(["--endpoints", "x", "watch", "k", "--rev", "1", "--", "echo", "hi"], ["k", "echo", "hi"]), { watch: ["k"], exec: ["echo", "hi"] });
    assert.deepEqual(parse(["watch", "a", "b"], ["a", "b"]), { watch: ["a", "b"], exec: [] });
    assert.deepEqual(parse(["watch", "--", "echo"], ["echo"], "k", "z"), { watch: ["k", "z"], exec: ["echo"] });
  });

  it("refuses what etcdctl refuses", () => {
    assert.equal(parse(["watch"], []), "bad number of arguments");
    assert.equal(parse(["watch", "k", "--"], ["k"]), "bad number of arguments (found separator --, but no commands)");
    assert.equal(parse(["watch", "k"], ["k"], "k"), "bad number of arguments (found conflicting environment key)");
    assert.equal(parse(["watch", "k", "--", "echo"], ["k", "echo"], "k"), "bad number of arguments (found conflicting environment key)");
  });
});

describe("error texts", () => {
  it("gives etcd's own message bare, gRPC's form for others, and the context's on a deadline", () => {
    assert.equal(errorText(new EtcdError("COMPACTED", "x", { status: 11, serverMessage: "etcdserver: mvcc: required revision has been compacted" })), "etcdserver: mvcc: required revision has been compacted");
    assert.equal(errorText(new EtcdError("UNAVAILABLE", "x", { status: 14, serverMessage: "transport is closing" })), "rpc error: code = Unavailable desc = transport is closing");
    assert.equal(errorText(new EtcdError("TIMEOUT", "deadline")), "context deadline exceeded");
    assert.equal(errorText(new EtcdError("UNAVAILABLE", "every member refused")), "context deadline exceeded");
    assert.equal(unknownCommand("x", ROOT), 'unknown command "x" for "etcd-ts"');
  });
});

describe("--discovery-srv", () => {
  it("asks for the https and http SRV records of the domain and builds endpoints from them", async () => {
    const { discoverEndpoints } = await import("../../src/cli/v3/srv.js");
    const asked: string[] = [];
    const resolver = {
      resolveSrv: (name: string) => {
        asked.push(name);
        if (name.startsWith("_etcd-client-ssl-")) return Promise.resolve([{ name: "m1.example.com", port: 2379, priority: 0, weight: 0 }]);
        return Promise.reject(Object.assign(new Error("queryNoData"), { code: "ENODATA" }));
      },
    };
    assert.deepEqual(await discoverEndpoints("example.com", "prod", resolver), ["https://m1.example.com.:2379"]);
    assert.deepEqual(asked.sort(), ["_etcd-client-prod._tcp.example.com", "_etcd-client-ssl-prod._tcp.example.com"]);
    const none = { resolveSrv: () => Promise.reject(Object.assign(new Error("x"), { code: "ENOTFOUND" })) };
    await assert.rejects(discoverEndpoints("example.com", "", none), /^Error: dns lookup errors: lookup _etcd-client-ssl\._tcp\.example\.com on resolver: no such host and lookup _etcd-client\._tcp\.example\.com/);
  });
});
