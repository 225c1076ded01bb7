/**
 * `run(argv, io)`: one `etcd-ts` invocation, from the words typed to the exit code. The argv
 * normaliser makes Go's flag syntax canonical, commander dispatches and writes help, and every
 * failure ends as one line on stderr and an exit code, never a stack trace.
 */
import { Command, CommanderError } from "commander";
import { VERSION } from "../../version.js";
import { flagToken, normalizeArgv, type FlagDef } from "../shared/argv.js";
import { AUTH_ACTIONS } from "./auth.js";
import { CliContext, CliExit, CommandOptions, resolveGlobals, type RawGlobals } from "./context.js";
import { EXIT, UsageError } from "./errors.js";
import type { CliIo } from "../shared/io.js";
import { KEY_ACTIONS, type Action } from "./keys.js";
import { MEMBER_ACTIONS } from "./members.js";
import { PROGRAM, type CommandDef } from "./spec.js";
import { WATCH_ACTIONS } from "./watch.js";

const ACTIONS: Readonly<Record<string, Action>> = { ...KEY_ACTIONS, ...WATCH_ACTIONS, ...MEMBER_ACTIONS, ...AUTH_ACTIONS };

/** Runs one invocation (`argv` without the node and script paths) and resolves with its exit code. */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const state: { ctx?: CliContext } = {};
  const program = buildProgram(io, state);
  try {
    // etcdctl with no arguments shows its help and succeeds.
    if (argv.length === 0) {
      io.stdout(program.helpInformation());
      return EXIT.success;
    }
    await program.parseAsync(normalizeArgv(argv, PROGRAM), { from: "user" });
    return EXIT.success;
  } catch (error) {
    return report(error, io);
  } finally {
    await state.ctx?.close();
  }
}

/** Prints what a failure needs printed and returns its exit code. */
function report(error: unknown, io: CliIo): number {
  if (error instanceof CliExit) return error.code;
  if (error instanceof UsageError) {
    io.stderr(`${error.message}\n`);
    return error.exitCode;
  }
  if (error instanceof CommanderError) return commanderExit(error, io);
  // A bug of ours: one line, as for every other failure.
  io.stderr(`Error:  ${error instanceof Error ? error.message : String(error)}\n`);
  return EXIT.error;
}

/** Commander's own outcomes (help, version, unknown command) in etcdctl's words. */
function commanderExit(error: CommanderError, io: CliIo): number {
  if (error.code.startsWith("commander.help") || error.code === "commander.version") return error.exitCode;
  const quoted = /'([^']*)'/.exec(error.message)?.[1] ?? "";
  if (error.code === "commander.unknownCommand") {
    io.stderr(`No help topic for '${quoted}'\n`);
    return EXIT.unknownCommand;
  }
  const flag = quoted.replace(/^-+/, "").replace(/[=\s].*$/, "");
  if (error.code === "commander.unknownOption") io.stderr(`flag provided but not defined: -${flag}\n`);
  else if (error.code === "commander.optionMissingArgument") io.stderr(`flag needs an argument: -${flag}\n`);
  else io.stderr(`${error.message.replace(/^error: /, "")}\n`);
  return EXIT.error;
}

function buildProgram(io: CliIo, state: { ctx?: CliContext }): Command {
  const program = configure(new Command(PROGRAM.name), io)
    .description(PROGRAM.description)
    .usage(PROGRAM.usage)
    .enablePositionalOptions()
    .version(`etcd-ts version: ${VERSION}\nAPI version: 2`, "-v, --version", "print the version");
  for (const flag of PROGRAM.flags) if (flag.names[0] !== "version") addFlag(program, flag);
  const bind: Bind = (action) => async (args, opts) => {
    const ctx = new CliContext(io, resolveGlobals(program.opts<RawGlobals>(), io.env));
    state.ctx = ctx;
    await action(ctx, args, opts);
  };
  for (const def of PROGRAM.subcommands ?? []) addCommand(program, def, [], io, bind);
  return program;
}

/** Binds an action to a run: creates its context, then runs it. */
type Bind = (action: Action) => (args: readonly string[], opts: CommandOptions) => Promise<void>;

function addCommand(parent: Command, def: CommandDef, path: readonly string[], io: CliIo, bind: Bind): void {
  const usage = def.subcommands === undefined ? `[command options] ${def.usage}` : "command [command options] [arguments...]";
  const cmd = configure(parent.command(def.name), io).description(def.description).usage(usage.trim()).allowExcessArguments(true);
  for (const flag of def.flags) addFlag(cmd, flag);
  if (def.rawAfterFirstArg === true) cmd.passThroughOptions();
  const name = [...path, def.name].join(" ");
  if (def.subcommands !== undefined) {
    for (const sub of def.subcommands) addCommand(cmd, sub, [...path, def.name], io, bind);
    cmd.action(() => {
      // etcdctl shows a command group's help when no subcommand is given.
      if (cmd.args.length > 0) throw new UsageError(`No help topic for '${cmd.args[0] ?? ""}'`, EXIT.unknownCommand);
      io.stdout(cmd.helpInformation());
    });
    return;
  }
  const action = ACTIONS[name];
  if (action === undefined) throw new Error(`no action for command "${name}"`);
  const runAction = bind(action);
  cmd.action(async () => {
    await runAction(cmd.args, new CommandOptions(cmd.opts()));
  });
}

/** Output and error settings every command shares: text goes to `io`, errors are thrown, not printed. */
function configure(cmd: Command, io: CliIo): Command {
  return cmd
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => undefined })
    .showSuggestionAfterError(false)
    .helpOption("-h, --help", "show help");
}

function addFlag(cmd: Command, flag: FlagDef): void {
  const short = flag.names.find((n) => n.length === 1);
  const long = flagToken(flag);
  const names = short === undefined || long === `-${short}` ? long : `-${short}, ${long}`;
  const description = flag.defaultText === undefined ? flag.description : `${flag.description} (default: ${flag.defaultText})`;
  if (flag.kind === "bool") cmd.option(names, description);
  else if (flag.kind === "list") cmd.option(`${names} <value>`, description, (value: string, previous: string[]) => [...previous, value], []);
  else cmd.option(`${names} <value>`, description);
}
