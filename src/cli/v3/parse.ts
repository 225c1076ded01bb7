/**
 * The command line read as cobra and pflag read it for etcdctl v3: the command is found by its
 * words (or a unique prefix of one) wherever flags sit; flags and arguments may be mixed; `--`
 * ends the flags; long flags take `--f=v` or `--f v`, switches `--f` or `--f=false`; shorthands
 * combine (`-wjson`, `-w=json`). Mistakes get pflag's and cobra's own messages. Pure.
 */
import { parseGoDuration } from "../shared/argv.js";
import type { CommandSpec, FlagSpec } from "./spec.js";

/** cobra's help flag, added to every command. */
export function helpFlag(command: string): FlagSpec {
  return { name: "help", short: "h", kind: "bool", defaultValue: "false", usage: `help for ${command}` };
}

/** What a command line asks for. */
export type Parsed =
  | { readonly kind: "run"; readonly path: readonly CommandSpec[]; readonly args: readonly string[]; readonly values: ReadonlyMap<string, string | readonly string[]> }
  | { readonly kind: "help"; readonly path: readonly CommandSpec[] }
  /** A flag mistake: cobra prints the message, the command's usage, and the message again. */
  | { readonly kind: "flag-error"; readonly path: readonly CommandSpec[]; readonly message: string }
  /** A word that names no command under the root. */
  | { readonly kind: "unknown-command"; readonly message: string };

/** cobra's `stripFlags`: the words of a command line that are not flags or flag values (its quirks kept). */
export function stripFlags(args: readonly string[], flags: readonly FlagSpec[]): string[] {
  const words: string[] = [];
  const takesValue = (name: string): boolean => flags.find((f) => f.name === name)?.kind !== "bool";
  const shortTakesValue = (c: string): boolean => flags.find((f) => f.short === c)?.kind !== "bool";
  for (let i = 0; i < args.length; i++) {
    const s = args[i] ?? "";
    if (s === "--") break;
    const longWithValue = s.startsWith("--") && !s.includes("=") && takesValue(s.slice(2));
    const shortWithValue = s.startsWith("-") && !s.includes("=") && s.length === 2 && shortTakesValue(s.slice(1));
    if (longWithValue || shortWithValue) {
      if (args.length - i - 1 <= 1) break;
      i++;
      continue;
    }
    if (s !== "" && !s.startsWith("-")) words.push(s);
  }
  return words;
}

/** cobra's `findNext`: a subcommand by its name or, failing that, by a unique prefix. */
export function findSub(parent: CommandSpec, word: string): CommandSpec | undefined {
  const subs = parent.subcommands ?? [];
  const exact = subs.find((c) => c.name === word);
  if (exact !== undefined) return exact;
  const prefixed = subs.filter((c) => c.name.startsWith(word));
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/** Finds the command and parses its flags; `globals` are the root's persistent flags. */
export function parseCommandLine(argv: readonly string[], root: CommandSpec, globals: readonly FlagSpec[]): Parsed {
  const path: CommandSpec[] = [root];
  let rest = [...argv];
  for (;;) {
    const current = path[path.length - 1] ?? root;
    const words = stripFlags(rest, [...globals, ...(current.flags ?? [])]);
    const word = words[0];
    if (word === undefined) break;
    const next = findSub(current, word);
    if (next === undefined) {
      // cobra's legacyArgs: only the root refuses a word that names no subcommand.
      if (path.length === 1 && (current.subcommands?.length ?? 0) > 0) return { kind: "unknown-command", message: unknownCommand(word, root) };
      break;
    }
    path.push(next);
    rest = withoutFirst(rest, word);
  }
  const command = path[path.length - 1] ?? root;
  const flags = [...(command.flags ?? []), ...globals, helpFlag(command.name)];
  const parsed = parseFlags(rest, flags);
  if (typeof parsed === "string") return { kind: "flag-error", path, message: parsed };
  if (parsed.values.get("help") === "true" || command.action === undefined) return { kind: "help", path };
  return { kind: "run", path, args: parsed.args, values: parsed.values };
}

/** cobra's `argsMinusFirstX`: the arguments without the first occurrence of `word`. */
function withoutFirst(args: readonly string[], word: string): string[] {
  const at = args.indexOf(word);
  return at < 0 ? [...args] : [...args.slice(0, at), ...args.slice(at + 1)];
}

/** cobra's unknown-command error, with its "Did you mean this?" suggestions. */
export function unknownCommand(word: string, root: CommandSpec): string {
  const lower = word.toLowerCase();
  const suggestions = (root.subcommands ?? [])
    .map((c) => c.name)
    .filter((name) => levenshtein(lower, name.toLowerCase()) <= 2 || name.toLowerCase().startsWith(lower));
  const hint = suggestions.length === 0 ? "" : `\n\nDid you mean this?\n${suggestions.map((s) => `\t${s}\n`).join("")}`;
  return `unknown command "${word}" for "${root.name}"${hint}`;
}

function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

interface FlagsAndArgs {
  readonly values: Map<string, string | readonly string[]>;
  readonly args: string[];
}

/** pflag's `FlagSet.Parse` with interspersed arguments; a string is pflag's error message. */
export function parseFlags(argv: readonly string[], flags: readonly FlagSpec[]): FlagsAndArgs | string {
  const out: FlagsAndArgs = { values: new Map(), args: [] };
  const queue = [...argv];
  while (queue.length > 0) {
    const s = queue.shift() ?? "";
    if (s.length < 2 || !s.startsWith("-")) {
      out.args.push(s);
      continue;
    }
    if (s === "--") {
      out.args.push(...queue);
      break;
    }
    const error = s.startsWith("--") ? parseLong(s, queue, flags, out) : parseShorts(s, queue, flags, out);
    if (error !== undefined) return error;
  }
  return out;
}

function parseLong(s: string, queue: string[], flags: readonly FlagSpec[], out: FlagsAndArgs): string | undefined {
  const body = s.slice(2);
  if (body.startsWith("-") || body.startsWith("=")) return `bad flag syntax: ${s}`;
  const eq = body.indexOf("=");
  const name = eq < 0 ? body : body.slice(0, eq);
  const flag = flags.find((f) => f.name === name);
  if (flag === undefined) return `unknown flag: --${name}`;
  let value: string;
  if (eq >= 0) value = body.slice(eq + 1);
  else if (flag.kind === "bool") value = "true";
  else if (queue.length > 0) value = queue.shift() ?? "";
  else return `flag needs an argument: ${s}`;
  return setValue(flag, value, out);
}

function parseShorts(s: string, queue: string[], flags: readonly FlagSpec[], out: FlagsAndArgs): string | undefined {
  let shorts = s.slice(1);
  while (shorts.length > 0) {
    const c = shorts[0] ?? "";
    const flag = flags.find((f) => f.short === c);
    if (flag === undefined) return `unknown shorthand flag: '${c}' in -${shorts}`;
    let value: string;
    let rest = shorts.slice(1);
    if (shorts.length > 2 && shorts[1] === "=") {
      value = shorts.slice(2);
      rest = "";
    } else if (flag.kind === "bool") value = "true";
    else if (shorts.length > 1) {
      value = shorts.slice(1);
      rest = "";
    } else if (queue.length > 0) value = queue.shift() ?? "";
    else return `flag needs an argument: '${c}' in -${shorts}`;
    const error = setValue(flag, value, out);
    if (error !== undefined) return error;
    shorts = rest;
  }
  return undefined;
}

/** pflag's `Set` of one value, checked as the flag's type requires. */
function setValue(flag: FlagSpec, value: string, out: FlagsAndArgs): string | undefined {
  const checked = checkValue(flag.kind, value);
  if ("error" in checked) {
    const name = flag.short === undefined ? `--${flag.name}` : `-${flag.short}, --${flag.name}`;
    return `invalid argument "${value}" for "${name}" flag: ${checked.error}`;
  }
  if (flag.kind === "stringSlice" || flag.kind === "stringArray") {
    const previous = out.values.get(flag.name);
    const items = flag.kind === "stringSlice" ? splitCsv(value) : [value];
    out.values.set(flag.name, [...(Array.isArray(previous) ? (previous as readonly string[]) : []), ...items]);
  } else out.values.set(flag.name, checked.ok);
  return undefined;
}

/** A value in stored form, or Go's parse error. */
export type Checked = { readonly ok: string } | { readonly error: string };

/** Checks a value as the flag's type requires (durations become milliseconds). */
export function checkValue(kind: FlagSpec["kind"], value: string): Checked {
  if (kind === "bool") {
    if (["1", "t", "T", "TRUE", "true", "True"].includes(value)) return { ok: "true" };
    if (["0", "f", "F", "FALSE", "false", "False"].includes(value)) return { ok: "false" };
    return { error: `strconv.ParseBool: parsing "${value}": invalid syntax` };
  }
  if (kind === "int" || kind === "uint") return parseGoInt64(value, kind === "uint");
  if (kind === "duration") {
    try {
      return { ok: String(parseGoDuration(value, "x")) };
    } catch {
      return { error: `time: invalid duration "${value}"` };
    }
  }
  return { ok: value };
}

/** Go's `strconv.ParseInt(s, 0, 64)` (or ParseUint), as a decimal string. */
export function parseGoInt64(text: string, unsigned: boolean): Checked {
  const fn = unsigned ? "strconv.ParseUint" : "strconv.ParseInt";
  const bad = (why: string): Checked => ({ error: `${fn}: parsing "${text}": ${why}` });
  const negative = text.startsWith("-");
  if (unsigned && (negative || text.startsWith("+"))) return bad("invalid syntax");
  const body = text.replace(/^[+-]/, "");
  const lower = body.slice(0, 2).toLowerCase();
  const base = lower === "0x" ? 16 : lower === "0o" ? 8 : lower === "0b" ? 2 : body.length > 1 && body.startsWith("0") ? 8 : 10;
  const digits = base === 10 ? body : base === 8 && lower !== "0o" ? body.slice(1) : body.slice(2);
  const digit = { 2: "[01]", 8: "[0-7]", 10: "[0-9]", 16: "[0-9a-fA-F]" }[base];
  const shape = base === 10 ? `^${digit}(_?${digit})*$` : `^_?${digit}(_?${digit})*$`;
  if (!new RegExp(shape).test(digits)) return bad("invalid syntax");
  let value = 0n;
  for (const c of digits.replace(/_/g, "")) value = value * BigInt(base) + BigInt(parseInt(c, 16));
  if (negative) value = -value;
  const max = unsigned ? (1n << 64n) - 1n : (1n << 63n) - 1n;
  const min = unsigned ? 0n : -(1n << 63n);
  if (value > max || value < min) return bad("value out of range");
  return { ok: value.toString() };
}

/** pflag reads a string slice as one CSV record. */
function splitCsv(value: string): string[] {
  if (value === "") return [];
  const fields: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i] ?? "";
    if (quoted) {
      if (c === '"' && value[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === "") quoted = true;
    else if (c === ",") {
      fields.push(field);
      field = "";
    } else field += c;
  }
  fields.push(field);
  return fields;
}
