/**
 * One `ETCDCTL_API=3` invocation: find the command as cobra would (loading only its module),
 * parse its flags as pflag would, run it, and end as etcdctl ends: `Error: …` lines and
 * cobrautl's exit codes, help on stdout, a flag mistake followed by the command's usage.
 */
import { VERSION } from "../../version.js";
import { CliExit, UsageError } from "../shared/exit.js";
import type { CliIo } from "../shared/io.js";
import { COMMANDS, type CommandEntry } from "./commands.js";
import type { V3Context } from "./context.js";
import { EXIT, errorText } from "./errors.js";
import { API_VERSION, GLOBAL_FLAGS, PROGRAM_NAME } from "./globals.js";
import { helpFlag, parseCommandLine, parseFlags, stripFlags, unknownCommand, type Parsed } from "./parse.js";
import type { CommandSpec, FlagSpec } from "./spec.js";

const VERSIONS = { version: VERSION, apiVersion: API_VERSION };
const SHORT = "A simple command line client for etcd3.";

/** Runs one v3 invocation and resolves with its exit code. */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  let ctx: V3Context | undefined;
  try {
    const parsed = await find(argv);
    if (parsed.kind === "unknown-command") {
      io.stderr(`Error: ${parsed.message}\nRun '${PROGRAM_NAME} --help' for usage.\nError: ${parsed.message}\n`);
      return EXIT.error;
    }
    const path = withAllCommands(parsed.path);
    if (parsed.kind === "flag-error") {
      io.stderr(`Error: ${parsed.message}\n`);
      io.stdout(await usage(path));
      io.stderr(`\nError: ${parsed.message}\n`);
      return EXIT.error;
    }
    if (parsed.kind === "help") {
      io.stdout(await usage(path));
      return EXIT.success;
    }
    const command = path[path.length - 1];
    if (command?.action === undefined) return EXIT.success;
    const { V3Context: Context } = await import("./context.js");
    ctx = new Context(io, parsed.values, specsOf(command), argv);
    await command.action(ctx, parsed.args, ctx.flags);
    return EXIT.success;
  } catch (error) {
    return report(error, io);
  } finally {
    await ctx?.close();
  }
}

/** A command's help; the help module is loaded only when help is shown. */
async function usage(path: readonly CommandSpec[]): Promise<string> {
  return (await import("./help.js")).usageText(path, GLOBAL_FLAGS, VERSIONS);
}

function report(error: unknown, io: CliIo): number {
  if (error instanceof CliExit) return error.code;
  if (error instanceof UsageError) {
    io.stderr(`${error.message}\n`);
    return error.exitCode;
  }
  io.stderr(`Error: ${errorText(error)}\n`);
  return EXIT.error;
}

/** The command the words name: only its module is loaded. */
async function find(argv: readonly string[]): Promise<Parsed> {
  const words = stripFlags(argv, GLOBAL_FLAGS);
  const first = words[0];
  const root: CommandSpec = { name: PROGRAM_NAME, use: "", short: SHORT, subcommands: [] };
  if (first === undefined) {
    const flags = parseFlags(argv, [...GLOBAL_FLAGS, helpFlag(PROGRAM_NAME)]);
    return typeof flags === "string" ? { kind: "flag-error", path: [root], message: flags } : { kind: "help", path: [root] };
  }
  if (first === "help") return helpFor(words.slice(1), root);
  const entry = entryFor(first);
  if (entry === undefined) return { kind: "unknown-command", message: unknownCommand(first, { ...root, subcommands: topLevel() }) };
  const spec = await entry.load();
  return parseCommandLine(argv, { ...root, subcommands: [spec] }, GLOBAL_FLAGS);
}

/** cobra's `help [command]`. */
async function helpFor(words: readonly string[], root: CommandSpec): Promise<Parsed> {
  const first = words[0];
  const entry = first === undefined ? undefined : entryFor(first);
  if (entry === undefined) return { kind: "help", path: [root] };
  const path: CommandSpec[] = [root, await entry.load()];
  for (const word of words.slice(1)) {
    const next = path[path.length - 1]?.subcommands?.find((c) => c.name === word);
    if (next === undefined) break;
    path.push(next);
  }
  return { kind: "help", path };
}

/** A top-level command by name or unique prefix (cobra's prefix matching). */
function entryFor(word: string): CommandEntry | undefined {
  const exact = COMMANDS.find((c) => c.name === word);
  if (exact !== undefined) return exact;
  const prefixed = COMMANDS.filter((c) => c.name.startsWith(word));
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

const listed = (): Promise<void> => Promise.resolve();
const HELP_COMMAND: CommandSpec = { name: "help", use: "[command]", short: "Help about any command", action: listed };

/** The top-level commands by name, in the table's order, for cobra's suggestions. */
function topLevel(): CommandSpec[] {
  return [...COMMANDS.map((c): CommandSpec => ({ name: c.name, use: "", short: "" })), HELP_COMMAND];
}

/**
 * Every command as the root's help lists it, from the table alone: one runnable spec per summary
 * line, named by its words ("lease grant"); help sorts them as it would the loaded commands.
 */
function summaries(): CommandSpec[] {
  const lines = COMMANDS.flatMap((c) => c.summary.map(([words, short]): CommandSpec => ({ name: words, use: "", short, action: listed })));
  return [...lines, HELP_COMMAND];
}

/** The root's help lists every command, from the table (no command module loads); other paths are complete already. */
function withAllCommands(path: readonly CommandSpec[]): readonly CommandSpec[] {
  const [root, ...rest] = path;
  if (root === undefined || rest.length > 0) return path;
  return [{ ...root, subcommands: summaries() }];
}

function specsOf(command: CommandSpec): Map<string, FlagSpec> {
  const specs = new Map<string, FlagSpec>();
  for (const flag of [...GLOBAL_FLAGS, ...(command.flags ?? []), helpFlag(command.name)]) specs.set(flag.name, flag);
  return specs;
}
