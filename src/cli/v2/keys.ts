/**
 * The key-space commands: get, ls, set, mk, mkdir, setdir, update, updatedir, rm, rmdir. Each
 * sends what etcdctl's Go client sends and prints what etcdctl prints; failures end with
 * etcdctl's "Error:  ..." line and exit code 4.
 */
import type { EtcdV2Client, V2Response } from "../../index.js";
import { EXIT, handleErrorText } from "./errors.js";
import type { CliContext, CommandOptions } from "./context.js";
import { formatLs, formatResponse, goKey } from "./output.js";

/** A command body: the run's context, its positional arguments and its flags. */
export type Action = (ctx: CliContext, args: readonly string[], opts: CommandOptions) => Promise<void>;

/** The key argument, as the Go client would address it ("a/../b" is "/b"). */
export function keyArg(ctx: CliContext, args: readonly string[], max: number): string {
  const key = args[0];
  if (key === undefined) return ctx.fail("Error:  key required\n");
  tooMany(ctx, args, max);
  return cleanKey(key);
}

/** Refuses arguments the command would ignore (etcdctl drops them silently). */
export function tooMany(ctx: CliContext, args: readonly string[], max: number): void {
  if (args.length > max) ctx.fail(`Error:  too many arguments: expected at most ${max}, got ${args.length} (quote values that contain spaces)\n`);
}

/** Go's `CanonicalURLPath` applied to a key: "." and ".." resolved, "//" collapsed, a trailing "/" kept. */
export function cleanKey(key: string): string {
  const parts: string[] = [];
  for (const segment of key.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") parts.pop();
    else parts.push(segment);
  }
  const cleaned = `/${parts.join("/")}`;
  return key.endsWith("/") && cleaned !== "/" ? `${cleaned}/` : cleaned;
}

/** The value: the second argument, else all of stdin (etcdctl's `argOrStdin`). */
async function valueArg(ctx: CliContext, args: readonly string[]): Promise<string> {
  const value = args[1] ?? (await ctx.io.readStdin());
  if (value === "") return ctx.fail("Error:  value required\n");
  return value;
}

/** A TTL as the Go client sends it: only when positive. */
function ttl(opts: CommandOptions): number | undefined {
  const seconds = opts.int("ttl");
  return seconds > 0 ? seconds : undefined;
}

/** Runs one key request, turning a failure into etcdctl's error line and exit code 4. */
async function send(ctx: CliContext, request: (client: EtcdV2Client) => Promise<V2Response>): Promise<V2Response> {
  const client = await ctx.client();
  try {
    return await request(client);
  } catch (error) {
    return ctx.fail(handleErrorText(error), EXIT.serverError);
  }
}

/** Prints a reply in the chosen format. */
function print(ctx: CliContext, response: V2Response): void {
  ctx.out(formatResponse(response, ctx.globals.output));
}

/** mkdir, setdir and updatedir print nothing in the simple format, whatever the node became. */
function printUnlessSimple(ctx: CliContext, response: V2Response): void {
  if (ctx.globals.output !== "simple") print(ctx, response);
}

/** rm and rmdir print a removed key's previous value, but nothing for a directory in the simple format. */
function printUnlessSimpleDir(ctx: CliContext, response: V2Response): void {
  if (response.node?.dir !== true || ctx.globals.output !== "simple") print(ctx, response);
}

const get: Action = async (ctx, args, opts) => {
  const key = keyArg(ctx, args, 1);
  const response = await send(ctx, (c) => c.get(key, { sorted: opts.bool("sort"), ...quorum(opts), ...ctx.call() }));
  const node = response.node;
  if (node?.dir === true) ctx.fail(`${goKey(node)}: is a directory\n`);
  print(ctx, response);
};

/** `--quorum` forces a linearizable read; without it the client's default (also linearizable) applies. */
function quorum(opts: CommandOptions): { quorum?: true } {
  return opts.bool("quorum") ? { quorum: true } : {};
}

const ls: Action = async (ctx, args, opts) => {
  tooMany(ctx, args, 1);
  const key = cleanKey(args[0] ?? "/");
  const response = await send(ctx, (c) => c.get(key, { sorted: opts.bool("sort"), recursive: opts.bool("recursive"), ...quorum(opts), ...ctx.call() }));
  if (ctx.globals.output === "simple") ctx.out(formatLs(response, opts.bool("p")));
  else print(ctx, response);
};

const set: Action = async (ctx, args, opts) => {
  const key = keyArg(ctx, args, 2);
  const value = await valueArg(ctx, args);
  const prevValue = opts.text("swap-with-value");
  const prevIndex = opts.int("swap-with-index");
  const options = { ttl: ttl(opts), ...ctx.call() };
  const response = await send(ctx, (c) =>
    prevValue === "" && prevIndex <= 0
      ? c.set(key, value, options)
      : c.compareAndSwap(key, value, { ...options, prevValue: prevValue === "" ? undefined : prevValue, prevIndex: prevIndex > 0 ? prevIndex : undefined }),
  );
  print(ctx, response);
};

const mk: Action = async (ctx, args, opts) => {
  const key = keyArg(ctx, args, 2);
  const value = await valueArg(ctx, args);
  const options = { ttl: ttl(opts), ...ctx.call() };
  print(ctx, await send(ctx, (c) => (opts.bool("in-order") ? c.createInOrder(key, value, options) : c.create(key, value, options))));
};

const update: Action = async (ctx, args, opts) => {
  const key = keyArg(ctx, args, 2);
  const value = await valueArg(ctx, args);
  print(ctx, await send(ctx, (c) => c.update(key, value, { ttl: ttl(opts), ...ctx.call() })));
};

const mkdir: Action = async (ctx, args, opts) => {
  const key = keyArg(ctx, args, 1);
  printUnlessSimple(ctx, await send(ctx, (c) => c.createDir(key, { ttl: ttl(opts), ...ctx.call() })));
};

const setdir: Action = async (ctx, args, opts) => {
  const key = keyArg(ctx, args, 1);
  printUnlessSimple(ctx, await send(ctx, (c) => c.setDir(key, { ttl: ttl(opts), ...ctx.call() })));
};

const updatedir: Action = async (ctx, args, opts) => {
  // etcdctl's usage names a <value> it never uses; accept and ignore it, as etcdctl does.
  const key = keyArg(ctx, args, 2);
  printUnlessSimple(ctx, await send(ctx, (c) => c.updateDir(key, { ttl: ttl(opts), ...ctx.call() })));
};

const rm: Action = async (ctx, args, opts) => {
  const key = keyArg(ctx, args, 1);
  const prevValue = opts.text("with-value");
  const prevIndex = opts.int("with-index");
  const response = await send(ctx, (c) =>
    prevValue === "" && prevIndex <= 0
      ? c.delete(key, { recursive: opts.bool("recursive"), dir: opts.bool("dir"), ...ctx.call() })
      : c.compareAndDelete(key, { prevValue: prevValue === "" ? undefined : prevValue, prevIndex: prevIndex > 0 ? prevIndex : undefined, ...ctx.call() }),
  );
  printUnlessSimpleDir(ctx, response);
};

const rmdir: Action = async (ctx, args) => {
  const key = keyArg(ctx, args, 1);
  printUnlessSimpleDir(ctx, await send(ctx, (c) => c.deleteDir(key, ctx.call())));
};

/** The key commands by name. */
export const KEY_ACTIONS: Readonly<Record<string, Action>> = { get, ls, set, mk, update, mkdir, setdir, updatedir, rm, rmdir };
