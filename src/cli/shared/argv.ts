/**
 * Go's `flag` syntax, which etcdctl inherits and scripts use, turned into the canonical form
 * commander parses: `-ttl 5`, `-ttl=5`, `--rw`, `--sort=false` and `--ttl 0x10` all work as they
 * do with etcdctl, and every mistake gets etcdctl's own one-line message. Pure: argv in, argv out.
 */
import { UsageError } from "./exit.js";

/** How a flag's value is read. */
export type FlagKind = "bool" | "string" | "int" | "duration" | "list";

/** One flag of a command, with all the names etcdctl accepts for it (the first is canonical). */
export interface FlagDef {
  readonly names: readonly string[];
  readonly kind: FlagKind;
  readonly description: string;
  /** Shown as the default in help, when there is one. */
  readonly defaultText?: string;
}

/** A command (or the program itself) as far as parsing is concerned. */
export interface CommandSpec {
  readonly name: string;
  readonly flags: readonly FlagDef[];
  readonly subcommands?: readonly CommandSpec[];
  /** Everything after the first argument is passed on untouched (exec-watch's command line). */
  readonly rawAfterFirstArg?: boolean;
}

const HELP: FlagDef = { names: ["help", "h"], kind: "bool", description: "show help" };

/** The canonical command line for commander, or a UsageError with etcdctl's message. */
export function normalizeArgv(argv: readonly string[], root: CommandSpec): string[] {
  const out: string[] = [];
  let scope: CommandSpec | undefined = root;
  let positionals = 0;
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] ?? "";
    if (scope === undefined || token === "--" || (scope.rawAfterFirstArg === true && positionals > 0)) {
      out.push(...argv.slice(i));
      break;
    }
    if (!isFlag(token)) {
      out.push(token);
      const sub: CommandSpec | undefined = scope.subcommands?.find((c) => c.name === token);
      if (scope.subcommands !== undefined && positionals === 0) scope = sub;
      else positionals++;
      continue;
    }
    i = normalizeFlag(argv, i, scope, out);
  }
  return out;
}

/** Rewrites the flag at `argv[i]` (and its value) into `out`; returns the index of the last token used. */
function normalizeFlag(argv: readonly string[], i: number, scope: CommandSpec, out: string[]): number {
  const token = argv[i] ?? "";
  const body = token.replace(/^--?/, "");
  const eq = body.indexOf("=");
  const name = eq < 0 ? body : body.slice(0, eq);
  const inline = eq < 0 ? undefined : body.slice(eq + 1);
  const def = [...scope.flags, HELP].find((f) => f.names.includes(name));
  if (def === undefined) {
    // Several one-letter switches run together (`-rp`): Go refuses them, commander understands them.
    if (!token.startsWith("--") && eq < 0 && Array.from(name).every((c) => scope.flags.some((f) => f.kind === "bool" && f.names.includes(c)))) {
      out.push(token);
      return i;
    }
    throw new UsageError(`flag provided but not defined: -${name}`);
  }
  const canonical = flagToken(def);
  if (def.kind === "bool") {
    if (inline === undefined || parseGoBool(inline, name)) out.push(canonical);
    return i;
  }
  let value = inline;
  let last = i;
  if (value === undefined) {
    if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: -${name}`);
    last = i + 1;
    value = argv[last] ?? "";
  }
  out.push(`${canonical}=${canonicalValue(def.kind, value, name)}`);
  return last;
}

/** The token commander knows a flag by: its first long name, or its only (one-letter) name. */
export function flagToken(def: FlagDef): string {
  const long = def.names.find((n) => n.length > 1);
  return long === undefined ? `-${def.names[0] ?? ""}` : `--${long}`;
}

function isFlag(token: string): boolean {
  return token.length > 1 && token.startsWith("-");
}

function canonicalValue(kind: FlagKind, value: string, name: string): string {
  if (kind === "int") return String(parseGoInt(value, name));
  if (kind === "duration") return String(parseGoDuration(value, name));
  return value;
}

/** Go's `strconv.ParseBool`, with the flag package's message on failure. */
export function parseGoBool(text: string, name: string): boolean {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(text)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(text)) return false;
  throw new UsageError(`invalid boolean value ${goQuoted(text)} for -${name}: parse error`);
}

/** Go's `strconv.ParseInt(text, 0, 64)`: sign, 0x/0o/0b/0 prefixes, underscores between digits. */
export function parseGoInt(text: string, name: string): number {
  const bad = (why: string): UsageError => new UsageError(`invalid value ${goQuoted(text)} for flag -${name}: ${why}`);
  const sign = text.startsWith("-") ? -1n : 1n;
  const body = text.replace(/^[+-]/, "");
  const { base, digits, prefixed } = splitBase(body);
  const digit = { 2: "[01]", 8: "[0-7]", 10: "[0-9]", 16: "[0-9a-fA-F]" }[base];
  // Underscores may only separate digits, or follow a base prefix, as in Go literals.
  const shape = prefixed ? `^_?${digit}(_?${digit})*$` : `^${digit}(_?${digit})*$`;
  if (!new RegExp(shape).test(digits)) throw bad("parse error");
  let value = 0n;
  for (const c of digits.replace(/_/g, "")) value = value * BigInt(base) + BigInt(parseInt(c, 16));
  value *= sign;
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) throw bad("value out of range");
  return Number(value);
}

function splitBase(body: string): { base: 2 | 8 | 10 | 16; digits: string; prefixed: boolean } {
  const prefix = body.slice(0, 2).toLowerCase();
  if (prefix === "0x") return { base: 16, digits: body.slice(2), prefixed: true };
  if (prefix === "0o") return { base: 8, digits: body.slice(2), prefixed: true };
  if (prefix === "0b") return { base: 2, digits: body.slice(2), prefixed: true };
  if (body.length > 1 && body.startsWith("0")) return { base: 8, digits: body.slice(1), prefixed: true };
  return { base: 10, digits: body, prefixed: false };
}

const DURATION_UNITS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  "μs": 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Go's `time.ParseDuration`, in milliseconds: "2s", "1m30s", "1.5h", "300ms", "0". */
export function parseGoDuration(text: string, name: string): number {
  const bad = new UsageError(`invalid value ${goQuoted(text)} for flag -${name}: parse error`);
  const match = /^([+-]?)(.*)$/.exec(text);
  const sign = match?.[1] === "-" ? -1 : 1;
  let rest = match?.[2] ?? "";
  if (rest === "0") return 0;
  if (rest === "") throw bad;
  let total = 0;
  while (rest !== "") {
    const part = /^(\d*)(?:\.(\d*))?([a-zµμ]+)/.exec(rest);
    if (part === null || (part[1] === "" && (part[2] ?? "") === "")) throw bad;
    const unit = DURATION_UNITS[part[3] ?? ""];
    if (unit === undefined) throw bad;
    total += Number(`${part[1] === "" ? "0" : part[1]}.${part[2] ?? ""}0`) * unit;
    rest = rest.slice(part[0].length);
  }
  return sign * total;
}

/** Go's `%q` of a command-line word. */
function goQuoted(text: string): string {
  return JSON.stringify(text);
}
