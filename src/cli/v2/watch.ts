/**
 * `watch` and `exec-watch`, on the library's watch: it resumes from the next index on another
 * member when its member dies, so `watch --forever` loses no event across failures (etcdctl's
 * watcher does not survive a member it was polling going away).
 */
import { spawn } from "node:child_process";
import type { V2Response, V2WatchEvent } from "../../index.js";
import { EXIT, handleErrorText } from "./errors.js";
import { CliExit, type CliContext } from "./context.js";
import { cleanKey, keyArg, type Action } from "./keys.js";
import { formatResponse, formatWatchHeader, goKey } from "./output.js";

/** Watches from after `--after-index` (or from now), until interrupted; `each` returns false to stop. */
async function watchEvents(ctx: CliContext, key: string, recursive: boolean, afterIndex: number, each: (event: V2Response) => Promise<boolean>): Promise<void> {
  const client = await ctx.client();
  const signal = ctx.io.trapInterrupt();
  try {
    const options = { recursive, signal, ...(afterIndex > 0 ? { waitIndex: afterIndex + 1 } : {}) };
    for await (const event of client.watch(key, options)) {
      if (!isChange(event)) continue;
      if (!(await each(event))) return;
    }
  } catch (error) {
    if (error instanceof CliExit || signal.aborted) throw error;
    ctx.fail(handleErrorText(error), EXIT.serverError);
  }
}

function isChange(event: V2WatchEvent): event is V2Response {
  return event.action !== "resync";
}

const watch: Action = async (ctx, args, opts) => {
  const key = keyArg(ctx, args, 1);
  const recursive = opts.bool("recursive");
  const forever = opts.bool("forever");
  await watchEvents(ctx, key, recursive, opts.int("after-index"), (event) => {
    // etcdctl skips directory events and keeps waiting for a key's.
    if (event.node?.dir === true) return Promise.resolve(true);
    if (recursive) ctx.out(formatWatchHeader(event));
    ctx.out(formatResponse(event, ctx.globals.output));
    return Promise.resolve(forever);
  });
};

/**
 * `exec-watch <key> [--] <command> [args...]`: runs the command once per change, with the
 * change in ETCD_WATCH_* variables. Runs are one at a time, in event order (etcdctl starts them
 * concurrently, so two quick changes can run their handlers in either order).
 */
const execWatch: Action = async (ctx, args, opts) => {
  const rest = args[1] === "--" ? args.slice(2) : args.slice(1);
  const [command, ...commandArgs] = rest;
  const first = args[0];
  if (first === undefined || command === undefined) return ctx.fail("Error:  key and command to exec required\n");
  const key = cleanKey(first);
  await watchEvents(ctx, key, opts.bool("recursive"), opts.int("after-index"), async (event) => {
    const node = event.node;
    if (node === undefined || node.dir === true) {
      ctx.err(`Ignored dir ${node === undefined ? "" : goKey(node)} change\n`);
      return true;
    }
    const env = {
      ...ctx.io.env,
      ETCD_WATCH_ACTION: event.action,
      ETCD_WATCH_MODIFIED_INDEX: String(node.modifiedIndex),
      ETCD_WATCH_KEY: goKey(node),
      ETCD_WATCH_VALUE: node.value ?? "",
    };
    await runCommand(ctx, command, commandArgs, env);
    return true;
  });
};

/** Runs one handler to completion, its output forwarded to ours. */
function runCommand(ctx: CliContext, command: string, args: readonly string[], env: Record<string, string | undefined>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (chunk: Buffer) => {
      ctx.out(chunk.toString("utf8"));
    });
    child.stderr.on("data", (chunk: Buffer) => {
      ctx.err(chunk.toString("utf8"));
    });
    child.once("error", (error: NodeJS.ErrnoException) => {
      // Go's exec wording, since scripts may look for it.
      const why = error.code === "ENOENT" ? (command.includes("/") ? `fork/exec ${command}: no such file or directory` : `exec: "${command}": executable file not found in $PATH`) : error.message;
      ctx.err(`${why}\n`);
      reject(new CliExit(EXIT.error));
    });
    child.once("close", () => {
      resolve();
    });
  });
}

/** The watch commands by name. */
export const WATCH_ACTIONS: Readonly<Record<string, Action>> = { watch, "exec-watch": execWatch };
