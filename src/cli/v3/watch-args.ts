/**
 * etcdctl's `parseWatchArgs`, pure: which words are the key and range end and which are the
 * command to run after `--`, with ETCDCTL_WATCH_KEY / ETCDCTL_WATCH_RANGE_END standing in for
 * the key, and etcdctl's errors for the combinations it refuses. `--` is looked for in the raw
 * command line, since the flag parser removes it.
 */

/** The watch options a request carries. */
export interface WatchFlags {
  readonly prefix: boolean;
  readonly rev: bigint;
  readonly prevKv: boolean;
  readonly progressNotify: boolean;
}

/** A watch to open: key (and range end), options, and the command to run per event. */
export interface WatchRequest {
  readonly watchArgs: readonly string[];
  readonly execArgs: readonly string[];
  readonly options: WatchFlags;
}

/** An argument error, printed as `Error: <message>` with exit code 128. */
export class WatchArgsError extends Error {
  /** Builds the error with etcdctl's text. */
  constructor(message: string) {
    super(message);
    this.name = "WatchArgsError";
  }
}

const BAD_NUM = "bad number of arguments";
const CONFLICT_ENV = "bad number of arguments (found conflicting environment key)";
const NO_COMMAND = "bad number of arguments (found separator --, but no commands)";

/** What `parseWatchArgs` works from. */
export interface WatchArgsInput {
  /** The raw command line (os.Args without the program). */
  readonly argv: readonly string[];
  /** The positional arguments after flag parsing (non-interactive), or the line's words (interactive). */
  readonly args: readonly string[];
  readonly envKey: string;
  readonly envRange: string;
  readonly interactive: boolean;
  /** The command line's options (interactive lines bring their own). */
  readonly options: WatchFlags;
  /** Parses an interactive line's flags (pflag), giving its arguments and values or pflag's error. */
  readonly parse?: (words: readonly string[]) => { readonly args: readonly string[]; readonly values: ReadonlyMap<string, string | readonly string[]> } | string;
}

/** etcdctl's `parseWatchArgs`. */
export function parseWatchArgs(input: WatchArgsInput): WatchRequest {
  const at = input.argv.indexOf("watch");
  const rawArgs = at < 0 ? [...input.argv] : input.argv.slice(at + 1);
  if (input.interactive) return interactiveArgs(input);
  const execIdx = rawArgs.indexOf("--");
  const execExist = execIdx >= 0;
  if (execExist && execIdx === rawArgs.length - 1) throw new WatchArgsError(NO_COMMAND);
  if (!execExist && rawArgs.length < 1 && input.envKey === "") throw new WatchArgsError(BAD_NUM);
  if (execExist && input.envKey !== "") checkEnvConflict(input.args, rawArgs, execIdx);
  if (!execExist && input.args.length > 0 && input.envKey !== "") throw new WatchArgsError(CONFLICT_ENV);
  return finish(input, [...input.args], rawArgs, input.options);
}

/** "ETCDCTL_WATCH_KEY=foo watch foo -- echo 1": a key given twice. */
function checkEnvConflict(watchArgs: readonly string[], rawArgs: readonly string[], execIdx: number): void {
  let ridx = rawArgs.length - 1;
  for (let widx = watchArgs.length - 1; widx >= 0; widx--) {
    if (watchArgs[widx] === rawArgs[ridx]) {
      ridx--;
      continue;
    }
    if (ridx === execIdx) throw new WatchArgsError(CONFLICT_ENV);
  }
}

function interactiveArgs(input: WatchArgsInput): WatchRequest {
  if (input.args[0] !== "watch") throw new WatchArgsError("args[0] must be 'watch' for interactive calls");
  const watchArgs = input.args.slice(1);
  const execIdx = watchArgs.indexOf("--");
  if (execIdx >= 0 && execIdx === watchArgs.length - 1) throw new WatchArgsError(NO_COMMAND);
  const parsed = input.parse?.(watchArgs) ?? { args: watchArgs, values: new Map<string, string | readonly string[]>() };
  if (typeof parsed === "string") throw new WatchArgsError(parsed);
  const positional = parsed.args;
  if (execIdx < 0 && input.envKey === "" && positional.length < 1) throw new WatchArgsError(BAD_NUM);
  if (execIdx < 0 && positional.length > 0 && input.envKey !== "") throw new WatchArgsError(CONFLICT_ENV);
  const value = (name: string): string | undefined => {
    const v = parsed.values.get(name);
    return typeof v === "string" ? v : undefined;
  };
  const options: WatchFlags = {
    prefix: value("prefix") === "true",
    rev: BigInt(value("rev") ?? "0"),
    prevKv: value("prev-kv") === "true",
    progressNotify: input.options.progressNotify,
  };
  return finish(input, [...positional], watchArgs, options);
}

/** The environment's key put first, and the command's words taken off the end of the watch arguments. */
function finish(input: WatchArgsInput, watchArgs: string[], argsWithSep: readonly string[], options: WatchFlags): WatchRequest {
  const idx = argsWithSep.indexOf("--");
  const execArgs = idx >= 0 ? argsWithSep.slice(idx + 1) : [];
  let args = watchArgs;
  if (input.envKey !== "") args = [input.envKey, ...(input.envRange === "" ? [] : [input.envRange]), ...args];
  if (idx < 0) return { watchArgs: args, execArgs, options };
  const first = argsWithSep[idx + 1];
  const endIdx = args.lastIndexOf(first ?? "");
  return { watchArgs: args.slice(0, Math.max(0, endIdx)), execArgs, options };
}
