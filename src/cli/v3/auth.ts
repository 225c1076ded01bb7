/**
 * `etcdctl auth enable|disable|status` and `role add|delete|get|list|grant-permission|
 * revoke-permission` (3.4 and 3.5 agree, except that `auth status` came with 3.5). `auth
 * enable` creates the root role and grants it to root first when etcd asks for it, as etcdctl.
 */
import { EtcdError } from "../../errors.js";
import type { PermissionType } from "../../v3/auth.js";
import type { V3Context } from "./context.js";
import { EXIT } from "./errors.js";
import { authStatusRendering, headerOnlyRendering, prefixEnd, revokePermissionText, roleGetRendering, roleListRendering } from "./print-auth.js";
import type { CommandSpec, Flags, FlagSpec } from "./spec.js";

/** Runs one client call; a failure ends the command as etcdctl's ExitWithError(ExitError, err). */
async function attempt<T>(ctx: V3Context, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    return ctx.failWith(error);
  }
}

async function authEnable(ctx: V3Context, args: readonly string[]): Promise<void> {
  if (args.length !== 0) ctx.fail("auth enable command does not accept any arguments", EXIT.badArgs);
  const client = await ctx.client();
  const call = await ctx.call();
  await attempt(ctx, async () => {
    for (;;) {
      try {
        await client.auth.enable(call);
        return;
      } catch (error) {
        if (!(error instanceof EtcdError && error.serverMessage === "etcdserver: root user does not have root role")) throw error;
        await client.auth.roles.add("root", call);
        await client.auth.users.grantRole("root", "root", call);
      }
    }
  });
  ctx.out("Authentication Enabled\n");
}

async function authDisable(ctx: V3Context, args: readonly string[]): Promise<void> {
  if (args.length !== 0) ctx.fail("auth disable command does not accept any arguments", EXIT.badArgs);
  const client = await ctx.client();
  const call = await ctx.call();
  await attempt(ctx, () => client.auth.disable(call));
  ctx.out("Authentication Disabled\n");
}

async function authStatus(ctx: V3Context, args: readonly string[]): Promise<void> {
  if (args.length !== 0) ctx.fail("auth status command does not accept any arguments", EXIT.badArgs);
  const client = await ctx.client();
  const call = await ctx.call();
  await ctx.print(authStatusRendering(await attempt(ctx, () => client.auth.status(call))));
}

function roleName(ctx: V3Context, args: readonly string[], what: string): string {
  if (args.length !== 1) ctx.fail(`role ${what} command requires role name as its argument`, EXIT.badArgs);
  return args[0] ?? "";
}

async function roleAdd(ctx: V3Context, args: readonly string[]): Promise<void> {
  const role = roleName(ctx, args, "add");
  const client = await ctx.client();
  await ctx.print(headerOnlyRendering(`Role ${role} created\n`, await attempt(ctx, () => client.auth.roles.add(role))));
}

async function roleDelete(ctx: V3Context, args: readonly string[]): Promise<void> {
  const role = roleName(ctx, args, "delete");
  const client = await ctx.client();
  await ctx.print(headerOnlyRendering(`Role ${role} deleted\n`, await attempt(ctx, () => client.auth.roles.delete(role))));
}

async function roleGet(ctx: V3Context, args: readonly string[]): Promise<void> {
  const role = roleName(ctx, args, "get");
  const client = await ctx.client();
  await ctx.print(roleGetRendering(role, await attempt(ctx, () => client.auth.roles.get(role))));
}

async function roleList(ctx: V3Context, args: readonly string[]): Promise<void> {
  if (args.length !== 0) ctx.fail("role list command requires no arguments", EXIT.badArgs);
  const client = await ctx.client();
  await ctx.print(roleListRendering(await attempt(ctx, () => client.auth.roles.list())));
}

const PERMISSIONS: Readonly<Record<string, PermissionType>> = { READ: "read", WRITE: "write", READWRITE: "readwrite" };

/** etcdctl's `permRange`: the key and range end a permission command names, from its arguments and flags. */
function permRange(ctx: V3Context, args: readonly string[], flags: Flags): [string, string] {
  const prefix = flags.bool("prefix");
  const fromKey = flags.bool("from-key");
  const key = args[0] ?? "";
  if (key === "") {
    if (prefix && fromKey) ctx.fail("--from-key and --prefix flags are mutually exclusive", EXIT.badArgs);
    // An empty key stands for the whole key space: ["\x00", "\x00") when open-ended.
    return ["\x00", prefix || fromKey ? "\x00" : ""];
  }
  if (args.length === 1) {
    if (prefix && fromKey) ctx.fail("--from-key and --prefix flags are mutually exclusive", EXIT.badArgs);
    if (prefix) return [key, prefixEnd(Buffer.from(key)).toString("latin1")];
    return [key, fromKey ? "\x00" : ""];
  }
  if (prefix) ctx.fail("unexpected endkey argument with --prefix flag", EXIT.badArgs);
  if (fromKey) ctx.fail("unexpected endkey argument with --from-key flag", EXIT.badArgs);
  return [key, args[1] ?? ""];
}

/** A range end as bytes: the text `prefixEnd` produced is latin1, everything else UTF-8. */
function endBytes(end: string, flags: Flags): Buffer {
  return flags.bool("prefix") ? Buffer.from(end, "latin1") : Buffer.from(end, "utf8");
}

async function grantPermission(ctx: V3Context, args: readonly string[], flags: Flags): Promise<void> {
  if (args.length < 3) ctx.fail("role grant command requires role name, permission type, and key [endkey] as its argument", EXIT.badArgs);
  const [role = "", type = ""] = args;
  const permission = PERMISSIONS[type.toUpperCase()];
  if (permission === undefined) return ctx.fail(`invalid permission type: ${type}`, EXIT.badArgs);
  const [key, end] = permRange(ctx, args.slice(2), flags);
  const client = await ctx.client();
  const grant = { permission, key, ...(end === "" ? {} : { rangeEnd: endBytes(end, flags) }) };
  await ctx.print(headerOnlyRendering(`Role ${role} updated\n`, await attempt(ctx, () => client.auth.roles.grantPermission(role, grant))));
}

async function revokePermission(ctx: V3Context, args: readonly string[], flags: Flags): Promise<void> {
  if (args.length < 2) ctx.fail("role revoke-permission command requires role name and key [endkey] as its argument", EXIT.badArgs);
  const role = args[0] ?? "";
  const [key, end] = permRange(ctx, args.slice(1), flags);
  const client = await ctx.client();
  const range = { key, ...(end === "" ? {} : { rangeEnd: endBytes(end, flags) }) };
  const result = await attempt(ctx, () => client.auth.roles.revokePermission(role, range));
  await ctx.print(headerOnlyRendering(revokePermissionText(role, args[1] ?? "", end), result));
}

const bool = (name: string, usage: string): FlagSpec => ({ name, kind: "bool", defaultValue: "false", usage });

/** `etcdctl auth`. */
export const AUTH: CommandSpec = {
  name: "auth",
  use: "<enable or disable>",
  short: "Enable or disable authentication",
  subcommands: [
    { name: "status", use: "", short: "Returns authentication status", action: authStatus },
    { name: "enable", use: "", short: "Enables authentication", action: authEnable },
    { name: "disable", use: "", short: "Disables authentication", action: authDisable },
  ],
};

/** `etcdctl role`. */
export const ROLE: CommandSpec = {
  name: "role",
  use: "<subcommand>",
  short: "Role related commands",
  subcommands: [
    { name: "add", use: "<role name>", short: "Adds a new role", action: roleAdd },
    { name: "delete", use: "<role name>", short: "Deletes a role", action: roleDelete },
    { name: "get", use: "<role name>", short: "Gets detailed information of a role", action: roleGet },
    { name: "list", use: "", short: "Lists all roles", action: roleList },
    {
      name: "grant-permission",
      use: "[options] <role name> <permission type> <key> [endkey]",
      short: "Grants a key to a role",
      flags: [bool("prefix", "grant a prefix permission"), bool("from-key", "grant a permission of keys that are greater than or equal to the given key using byte compare")],
      action: grantPermission,
    },
    {
      name: "revoke-permission",
      use: "<role name> <key> [endkey]",
      short: "Revokes a key from a role",
      flags: [bool("prefix", "revoke a prefix permission"), bool("from-key", "revoke a permission of keys that are greater than or equal to the given key using byte compare")],
      action: revokePermission,
    },
  ],
};
