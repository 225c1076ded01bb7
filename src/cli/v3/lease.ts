/**
 * `etcdctl lease grant|revoke|timetolive|list|keep-alive`, as etcdctl 3.4 and 3.5 define them
 * (the two agree). `keep-alive` without `--once` renews every third of the TTL, as clientv3's
 * keep-alive loop does, printing each renewal, until the lease is gone or Ctrl-C.
 */
import { EtcdError } from "../../errors.js";
import type { V3Context } from "./context.js";
import { EXIT, errorText } from "./errors.js";
import { goParse } from "./admin-args.js";
import { grantRendering, keepAliveRendering, leaseHex, leasesRendering, revokeRendering, timeToLiveRendering } from "./print-lease.js";
import type { CommandSpec, Flags } from "./spec.js";

/** `strconv.ParseInt(arg, 16, 64)` with etcdctl's message when it fails. */
function leaseArg(ctx: V3Context, text: string): bigint {
  const parsed = goParse(text, 16, true);
  if (parsed.error !== undefined) return ctx.fail(`bad lease ID arg (${parsed.error}), expecting ID in Hex`, EXIT.badArgs);
  return parsed.value;
}

async function grant(ctx: V3Context, args: readonly string[]): Promise<void> {
  if (args.length !== 1) ctx.fail("lease grant command needs TTL argument", EXIT.badArgs);
  const ttl = goParse(args[0] ?? "", 10, true);
  if (ttl.error !== undefined) return ctx.fail(`bad TTL (${ttl.error})`, EXIT.badArgs);
  const client = await ctx.client();
  let result;
  try {
    result = await client.lease.grant(Number(ttl.value), await ctx.call());
  } catch (error) {
    return ctx.failWith(new Error(`failed to grant lease (${errorText(error)})`));
  }
  await ctx.print(grantRendering(result));
}

async function revoke(ctx: V3Context, args: readonly string[]): Promise<void> {
  if (args.length !== 1) ctx.fail("lease revoke command needs 1 argument", EXIT.badArgs);
  const id = leaseArg(ctx, args[0] ?? "");
  const client = await ctx.client();
  let result;
  try {
    result = await client.lease.revoke(id, await ctx.call());
  } catch (error) {
    return ctx.failWith(new Error(`failed to revoke lease (${errorText(error)})`));
  }
  await ctx.print(revokeRendering(id, result));
}

async function timeToLive(ctx: V3Context, args: readonly string[], flags: Flags): Promise<void> {
  if (args.length !== 1) ctx.fail("lease timetolive command needs lease ID as argument", EXIT.badArgs);
  const keys = flags.bool("keys");
  const id = leaseArg(ctx, args[0] ?? "");
  const client = await ctx.client();
  let result;
  try {
    result = await client.lease.timeToLive(id, { keys, ...(await ctx.call()) });
  } catch (error) {
    return ctx.failWith(error, EXIT.badConnection);
  }
  await ctx.print(timeToLiveRendering(result, keys));
}

async function list(ctx: V3Context): Promise<void> {
  const client = await ctx.client();
  let result;
  try {
    result = await client.lease.list(await ctx.call());
  } catch (error) {
    return ctx.failWith(error, EXIT.badConnection);
  }
  await ctx.print(leasesRendering(result));
}

async function keepAlive(ctx: V3Context, args: readonly string[], flags: Flags): Promise<void> {
  if (args.length !== 1) ctx.fail("lease keep-alive command needs lease ID as argument", EXIT.badArgs);
  const id = leaseArg(ctx, args[0] ?? "");
  const client = await ctx.client();
  if (flags.bool("once")) {
    let result;
    try {
      result = await client.lease.keepAliveOnce(id, await ctx.call());
    } catch (error) {
      // clientv3's KeepAliveOnce turns a TTL of 0 (lease gone) into its ErrLeaseNotFound.
      return ctx.failWith(error instanceof EtcdError && error.code === "LEASE_NOT_FOUND" ? new Error("etcdserver: requested lease not found") : error, EXIT.badConnection);
    }
    await ctx.print(keepAliveRendering(result));
    return;
  }
  const interrupt = ctx.io.trapInterrupt();
  for (;;) {
    let renewed;
    try {
      renewed = await client.lease.keepAliveOnce(id, { ...(await ctx.call()), signal: interrupt });
    } catch (error) {
      if (interrupt.aborted) return;
      // clientv3 closes its channel when etcd no longer knows the lease; other failures it retries.
      if (error instanceof EtcdError && error.code === "LEASE_NOT_FOUND") break;
      await pause(500, interrupt);
      continue;
    }
    if (renewed.ttl <= 0) break;
    await ctx.print(keepAliveRendering(renewed));
    await pause((renewed.ttl * 1000) / 3, interrupt);
    if (interrupt.aborted) return;
  }
  if ((await ctx.settings()).format === "simple") ctx.out(`lease ${leaseHex(id)} expired or revoked.\n`);
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** `etcdctl lease`. */
export const LEASE: CommandSpec = {
  name: "lease",
  use: "<subcommand>",
  short: "Lease related commands",
  subcommands: [
    { name: "grant", use: "<ttl>", short: "Creates leases", action: grant },
    { name: "revoke", use: "<leaseID>", short: "Revokes leases", action: revoke },
    {
      name: "timetolive",
      use: "<leaseID> [options]",
      short: "Get lease information",
      flags: [{ name: "keys", kind: "bool", defaultValue: "false", usage: "Get keys attached to this lease" }],
      action: timeToLive,
    },
    { name: "list", use: "", short: "List all active leases", action: list },
    {
      name: "keep-alive",
      use: "[options] <leaseID>",
      short: "Keeps leases alive (renew)",
      flags: [{ name: "once", kind: "bool", defaultValue: "false", usage: "Resets the keep-alive time to its original value and cobrautl.Exits immediately" }],
      action: keepAlive,
    },
  ],
};
