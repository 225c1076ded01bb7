/**
 * The shape of an etcdctl v3 command as this CLI describes it: cobra's `Use`, `Short`, `Long`,
 * its pflag flags and its action. Command modules export `CommandSpec`s; `commands.ts` lists
 * them; `parse.ts` reads a command line against them exactly as cobra and pflag would.
 */
import type { V3Context } from "./context.js";

/** How pflag reads a flag's value. */
export type FlagKind = "bool" | "string" | "int" | "uint" | "duration" | "stringSlice" | "stringArray";

/** One pflag flag. */
export interface FlagSpec {
  /** The long name, without dashes. */
  readonly name: string;
  /** The one-letter shorthand, if any. */
  readonly short?: string;
  readonly kind: FlagKind;
  /** The default as pflag's `DefValue` shows it in help ("false", "0", "", "2s", "[127.0.0.1:2379]"). */
  readonly defaultValue: string;
  /** The help text. */
  readonly usage: string;
}

/** A command, or a command group when it has subcommands and no action. */
export interface CommandSpec {
  /** The name typed (cobra's first word of `Use`). */
  readonly name: string;
  /** The rest of cobra's `Use`, e.g. "[options] <key> [range_end]". */
  readonly use: string;
  /** One line for the command list. */
  readonly short: string;
  /** Shown under DESCRIPTION in the command's help. */
  readonly long?: string;
  /** The command's own flags (the global ones are added by the runner). */
  readonly flags?: readonly FlagSpec[];
  readonly subcommands?: readonly CommandSpec[];
  /** What the command does; a group without one shows its help. */
  readonly action?: Action;
}

/** A command body: the run's context, its positional arguments (after `--` too) and its flags. */
export type Action = (ctx: V3Context, args: readonly string[], flags: Flags) => Promise<void>;

/** The values of a command's flags (its own and the global ones), by their long names. */
export class Flags {
  readonly #values: ReadonlyMap<string, string | readonly string[]>;
  readonly #specs: ReadonlyMap<string, FlagSpec>;

  /** Wraps the values the parser set; `specs` gives each flag's default. */
  constructor(values: ReadonlyMap<string, string | readonly string[]>, specs: ReadonlyMap<string, FlagSpec>) {
    this.#values = values;
    this.#specs = specs;
  }

  /** True when the flag was given on the command line (pflag's `Changed`). */
  changed(name: string): boolean {
    return this.#values.has(name);
  }

  /** A switch. */
  bool(name: string): boolean {
    return this.#raw(name) === "true";
  }

  /** A text flag, or its default. */
  string(name: string): string {
    const raw = this.#raw(name);
    return typeof raw === "string" ? raw : raw.join(",");
  }

  /** An int64/uint64 flag (checked by the parser), or its default. */
  int(name: string): bigint {
    return BigInt(this.string(name));
  }

  /** A duration flag in milliseconds (checked by the parser), or its default. */
  duration(name: string): number {
    return Number(this.string(name));
  }

  /** A list flag (stringSlice, stringArray), or its default. */
  list(name: string): readonly string[] {
    const raw = this.#raw(name);
    return typeof raw === "string" ? (raw === "" ? [] : [raw]) : raw;
  }

  #raw(name: string): string | readonly string[] {
    const set = this.#values.get(name);
    if (set !== undefined) return set;
    const spec = this.#specs.get(name);
    if (spec === undefined) throw new Error(`flag accessed but not defined: ${name}`);
    return defaultOf(spec);
  }
}

/** A flag's default in the form the parser stores values (durations in ms, lists as arrays). */
export function defaultOf(spec: FlagSpec): string | readonly string[] {
  if (spec.kind === "stringSlice" || spec.kind === "stringArray") {
    const inner = spec.defaultValue.replace(/^\[|\]$/g, "");
    return inner === "" ? [] : inner.split(",");
  }
  if (spec.kind === "duration") return String(durationDefault(spec.defaultValue));
  return spec.defaultValue;
}

const UNIT_MS: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

function durationDefault(text: string): number {
  let total = 0;
  for (const [, n, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) total += Number(n) * (UNIT_MS[unit ?? ""] ?? 0);
  return total;
}
