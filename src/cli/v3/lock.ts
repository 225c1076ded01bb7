/**
 * `etcdctl lock` and `etcdctl elect`, on the library's concurrency recipes, which keep Go's key
 * layout (`<name>/<lease ID in hex>`), so etcd-ts and etcdctl contend for the same locks and
 * elections. Both print the key they hold (as `get` prints it) and hold it until Ctrl-C or
 * SIGTERM; `lock` with a command runs it while holding the lock, with ETCD_LOCK_KEY and
 * ETCD_LOCK_REV set, and ends with its exit status.
 */
import { spawn } from "node:child_process";
import type { EtcdV3Client } from "../../v3/client.js";
import { CliExit } from "../shared/exit.js";
import type { V3Context } from "./context.js";
import { EXIT } from "./errors.js";
import { getRendering } from "./kv.js";
import type { CommandSpec, Flags } from "./spec.js";

/** Go's context error text for a wait Ctrl-C ended. */
const CANCELED = "context canceled";

/** Prints the key as `etcdctl get <key>` would. */
async function printKey(ctx: V3Context, client: EtcdV3Client, key: string): Promise<boolean> {
  const got = await client.get(key, await ctx.call());
  if (got.kvs.length === 0) return false;
  await ctx.print(getRendering(got, (await ctx.settings()).hex));
  return true;
}

/** Resolves when `signal` aborts. */
function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => { resolve(); }, { once: true });
  });
}

/** Runs `argv` with the lock's variables; its exit status (or 1 if it could not start). */
function runHolding(ctx: V3Context, argv: readonly string[], key: string, revision: bigint): Promise<number> {
  return new Promise((resolve) => {
    const [cmd = "", ...rest] = argv;
    const child = spawn(cmd, rest, { env: { ETCD_LOCK_KEY: key, ETCD_LOCK_REV: String(revision), ...process.env }, stdio: ["inherit", "pipe", "pipe"] });
    child.stdout.on("data", (chunk: Buffer) => { ctx.out(chunk.toString()); });
    child.stderr.on("data", (chunk: Buffer) => { ctx.err(chunk.toString()); });
    child.on("error", (error: NodeJS.ErrnoException) => {
      ctx.err(`Error: exec: "${cmd}": ${error.code === "ENOENT" ? "executable file not found in $PATH" : error.message}\n`);
      resolve(-1);
    });
    child.on("close", (code) => { resolve(code ?? 1); });
  });
}

async function lock(ctx: V3Context, args: readonly string[], flags: Flags): Promise<void> {
  if (args.length === 0) ctx.fail("lock takes a lock name argument and an optional command to execute", EXIT.badArgs);
  const client = await ctx.client();
  const stop = ctx.io.trapInterrupt();
  let held;
  try {
    held = await client.mutex(args[0] ?? "", { ttl: Number(flags.int("ttl")) }).lock({ signal: stop });
  } catch (error) {
    return ctx.failWith(stop.aborted ? new Error(CANCELED) : error);
  }
  if (args.length > 1) {
    const status = await runHolding(ctx, args.slice(1), held.key, held.revision);
    await held.unlock().catch((error: unknown) => ctx.failWith(error));
    if (status === -1) throw new CliExit(EXIT.error);
    if (status !== 0) await exitStatus(ctx, client, status);
    return;
  }
  if (!(await printKey(ctx, client, held.key))) ctx.fail("lock lost on init");
  await Promise.race([aborted(stop), aborted(held.signal)]);
  if (!stop.aborted) ctx.fail("session expired");
  await held.unlock().catch((error: unknown) => ctx.failWith(error));
}

/** A command that failed under the lock: etcdctl 3.5 exits with its status, 3.4 with 1; we follow the member's version. */
async function exitStatus(ctx: V3Context, client: EtcdV3Client, status: number): Promise<never> {
  const v34 = await client.maintenance.status(undefined, await ctx.call()).then((s) => s.version.startsWith("3.4."), () => false);
  return ctx.fail(`exit status ${status}`, v34 ? EXIT.error : status);
}

async function elect(ctx: V3Context, args: readonly string[], flags: Flags): Promise<void> {
  if (args.length !== 1 && args.length !== 2) ctx.fail("elect takes one election name argument and an optional proposal argument", EXIT.badArgs);
  const listen = flags.bool("listen");
  if (args.length === 1 && !listen) ctx.fail("no proposal argument but -l not set", EXIT.badArgs);
  if (args.length === 2 && listen) ctx.fail("proposal given but -l is set", EXIT.badArgs);
  const client = await ctx.client();
  const election = client.election(args[0] ?? "");
  const stop = ctx.io.trapInterrupt();
  if (listen) {
    try {
      for await (const leader of election.observe({ signal: stop })) await printKey(ctx, client, leader.key);
    } catch (error) {
      if (!stop.aborted) ctx.failWith(error);
    }
    if (!stop.aborted) ctx.fail("elect: observer lost");
    return;
  }
  let leading;
  try {
    leading = await election.campaign(args[1] ?? "", { signal: stop });
  } catch (error) {
    return ctx.failWith(stop.aborted ? new Error(CANCELED) : error);
  }
  await printKey(ctx, client, leading.key);
  await Promise.race([aborted(stop), aborted(leading.signal)]);
  if (!stop.aborted) ctx.fail("elect: session expired");
  await leading.resign().catch((error: unknown) => ctx.failWith(error));
}

/** `etcdctl lock`. */
export const LOCK: CommandSpec = {
  name: "lock",
  use: "<lockname> [exec-command arg1 arg2 ...]",
  short: "Acquires a named lock",
  flags: [{ name: "ttl", kind: "int", defaultValue: "10", usage: "timeout for session" }],
  action: lock,
};

/** `etcdctl elect`. */
export const ELECT: CommandSpec = {
  name: "elect",
  use: "<election-name> [proposal]",
  short: "Observes and participates in leader election",
  flags: [{ name: "listen", short: "l", kind: "bool", defaultValue: "false", usage: "observation mode" }],
  action: elect,
};
