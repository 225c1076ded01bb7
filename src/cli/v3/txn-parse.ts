/**
 * etcdctl's txn grammar, pure: `argify` splits a request line into words (quoting rules and its
 * single-quote slicing bug included, since scripts written against etcdctl rely on what it does),
 * and `parseCompare` reads `target("key") op "value"` as Go's `fmt.Sscanf(rest, "%q) %s %q")`
 * does, with etcdctl's error texts. Where etcdctl panics, a `TxnPanic` says so.
 */
import type { Compare, CompareResult, CompareTarget } from "../../v3/types.js";
import { goQuote } from "../shared/gofmt.js";

/** A line etcdctl refuses: printed as `Error: <message>`, exit code 3 (ExitInvalidInput). */
export class TxnInputError extends Error {
  /** Builds the error with etcdctl's text. */
  constructor(message: string) {
    super(message);
    this.name = "TxnInputError";
  }
}

/** A line on which etcdctl panics (exit code 2); the message is the panic's. */
export class TxnPanic extends Error {
  /** Builds the panic with Go's message. */
  constructor(message: string) {
    super(message);
    this.name = "TxnPanic";
  }
}

const WORD = /"(?:[^"\\]|\\.)*"|'[^']*'|[^'"\t\n\f\r ][^\t\n\f\r ]*[^'"\t\n\f\r ]?/g;

/** etcdctl's `argify`: the words of a line, quotes removed. */
export function argify(line: string): string[] {
  const args = line.match(WORD) ?? [];
  return args.map((arg) => {
    if (arg.startsWith("'")) {
      // etcdctl slices with the number of words, not the word's length: `arg[1 : len(args)-1]`.
      const end = args.length - 1;
      if (end < 1 || end > arg.length) throw new TxnPanic(`runtime error: slice bounds out of range [${end < 1 ? `1:${end}` : `:${end}`}]${end < 1 ? "" : ` with length ${arg.length}`}`);
      return arg.slice(1, end);
    }
    if (arg.startsWith('"')) {
      const unquoted = goUnquote(arg);
      if (unquoted === undefined) throw new TxnInputError("invalid syntax");
      return unquoted;
    }
    return arg;
  });
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = { a: "\x07", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v", "\\": "\\", '"': '"', "'": "'" };

/** Go's `strconv.Unquote` of a double-quoted string (bytes as latin1 code units are not needed here: keys are text). */
export function goUnquote(quoted: string): string | undefined {
  if (quoted.length < 2 || !quoted.startsWith('"') || !quoted.endsWith('"')) return undefined;
  const body = quoted.slice(1, -1);
  const bytes: number[] = [];
  for (let i = 0; i < body.length; i++) {
    const c = body[i] ?? "";
    if (c === '"' || c === "\n") return undefined;
    if (c !== "\\") {
      bytes.push(...Buffer.from(c, "utf8"));
      continue;
    }
    const e = body[i + 1] ?? "";
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) {
      bytes.push(simple.charCodeAt(0));
      i++;
    } else if (e === "x" || e === "u" || e === "U") {
      const width = e === "x" ? 2 : e === "u" ? 4 : 8;
      const hex = body.slice(i + 2, i + 2 + width);
      if (!new RegExp(`^[0-9a-fA-F]{${width}}$`).test(hex)) return undefined;
      const code = parseInt(hex, 16);
      if (e === "x") bytes.push(code);
      else if (code > 0x10ffff || (code >= 0xd800 && code < 0xe000)) return undefined;
      else bytes.push(...Buffer.from(String.fromCodePoint(code), "utf8"));
      i += 1 + width;
    } else if (/^[0-7]{3}$/.test(body.slice(i + 1, i + 4))) {
      const code = parseInt(body.slice(i + 1, i + 4), 8);
      if (code > 255) return undefined;
      bytes.push(code);
      i += 3;
    } else return undefined;
  }
  return Buffer.from(bytes).toString("utf8");
}

/** One quoted operand read as `%q` reads it (leading spaces skipped): its value and where it ended. */
function scanQuoted(text: string, from: number): { value: string; end: number } | undefined {
  let i = from;
  while (text[i] === " " || text[i] === "\t") i++;
  if (text[i] === "`") {
    const close = text.indexOf("`", i + 1);
    return close < 0 ? undefined : { value: text.slice(i + 1, close), end: close + 1 };
  }
  if (text[i] !== '"') return undefined;
  for (let j = i + 1; j < text.length; j++) {
    if (text[j] === "\\") j++;
    else if (text[j] === '"') {
      const value = goUnquote(text.slice(i, j + 1));
      return value === undefined ? undefined : { value, end: j + 1 };
    }
  }
  return undefined;
}

/** `fmt.Sscanf(rest, "%q) %s %q", &key, &op, &val)`: what it filled in and how many. */
export function scanCompare(rest: string): { n: number; key: string; op: string; val: string } {
  const out = { n: 0, key: "", op: "", val: "" };
  const key = scanQuoted(rest, 0);
  if (key === undefined) return out;
  Object.assign(out, { n: 1, key: key.value });
  let i = key.end;
  if (rest[i] !== ")") return out;
  i++;
  // A space in the format needs one or more spaces in the input (or its end).
  if (i < rest.length && rest[i] !== " " && rest[i] !== "\t") return out;
  while (rest[i] === " " || rest[i] === "\t") i++;
  const op = /^[^ \t]+/.exec(rest.slice(i))?.[0];
  if (op === undefined) return out;
  Object.assign(out, { n: 2, op });
  i += op.length;
  if (i < rest.length && rest[i] !== " " && rest[i] !== "\t") return out;
  const val = scanQuoted(rest, i);
  if (val === undefined) return out;
  return { ...out, n: 3, val: val.value };
}

const TARGETS: Readonly<Record<string, CompareTarget>> = { ver: "version", version: "version", c: "create", create: "create", m: "mod", mod: "mod", val: "value", value: "value" };
const RESULTS: Readonly<Record<string, CompareResult>> = { "=": "==", "!=": "!=", "<": "<", ">": ">" };

/** etcdctl's `parseCompare`: one line of the compares section. */
export function parseCompare(line: string): Compare {
  const paren = line.indexOf("(");
  if (paren < 0) throw new TxnInputError(`malformed comparison: ${line}`);
  const target = line.slice(0, paren);
  const { n, key, op, val } = scanCompare(line.slice(paren + 1));
  if (n !== 3) throw new TxnInputError(`malformed comparison: ${line}; got ${target}(${goQuote(key)}) ${op} ${goQuote(val)}`);
  // etcdctl builds a lease comparison without its key and with a string where a number must be: it panics.
  if (target === "lease") throw new TxnPanic(RESULTS[op] === undefined ? "Unknown result op" : "bad value");
  const t = TARGETS[target];
  if (t === undefined) throw new TxnInputError(`malformed comparison: ${line} (unknown target ${target})`);
  let value: string | bigint = val;
  if (t !== "value") {
    if (!/^[+-]?[0-9]+$/.test(val)) throw new TxnInputError(`invalid txn compare request: ${line}`);
    value = BigInt(val);
    if (value >= 1n << 63n || value < -(1n << 63n)) throw new TxnInputError(`invalid txn compare request: ${line}`);
  }
  const result = RESULTS[op];
  if (result === undefined) throw new TxnPanic("Unknown result op");
  return { key, target: t, result, value };
}
