/**
 * `etcdctl user add|delete|get [--detail]|list|passwd|grant-role|revoke-role` (3.4 and 3.5
 * agree). A password comes from `user:password`, `--new-user-password`, or is asked for: twice,
 * without echo, on a terminal (`--interactive`, the default), or as one word read from stdin
 * with `--interactive=false`, as etcdctl's `fmt.Scanf("%s")`.
 */
import type { V3Context } from "./context.js";
import { EXIT } from "./errors.js";
import { headerOnlyRendering, roleGetRendering, userGetRendering, userListRendering } from "./print-auth.js";
import type { CommandSpec, Flags, FlagSpec } from "./spec.js";

async function attempt<T>(ctx: V3Context, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    return ctx.failWith(error);
  }
}

/** The password, read as etcdctl does: one word of stdin, or asked twice and compared. */
async function readPassword(ctx: V3Context, user: string, flags: Flags): Promise<string> {
  if (!flags.bool("interactive")) return (await ctx.io.readSecret("")).trim().split(/\s+/)[0] ?? "";
  const first = await ctx.io.readSecret(`Password of ${user}: `);
  if (first === "") ctx.fail("empty password", EXIT.badArgs);
  const second = await ctx.io.readSecret(`Type password of ${user} again for confirmation: `);
  if (first !== second) ctx.fail("given passwords are different", EXIT.badArgs);
  return first;
}

async function userAdd(ctx: V3Context, args: readonly string[], flags: Flags): Promise<void> {
  if (args.length !== 1) ctx.fail("user add command requires user name as its argument", EXIT.badArgs);
  const arg = args[0] ?? "";
  let user = arg;
  let password = "";
  const noPassword = flags.bool("no-password");
  if (!noPassword) {
    const fromFlag = flags.string("new-user-password");
    const colon = arg.indexOf(":");
    if (fromFlag !== "") password = fromFlag;
    else if (colon < 0) password = await readPassword(ctx, arg, flags);
    else {
      user = arg.slice(0, colon);
      password = arg.slice(colon + 1);
      if (user === "") ctx.fail("empty user name is not allowed", EXIT.badArgs);
    }
  }
  const client = await ctx.client();
  const result = await attempt(ctx, () => client.auth.users.add(user, password, { noPassword }));
  await ctx.print(headerOnlyRendering(`User ${user} created\n`, result));
}

async function userDelete(ctx: V3Context, args: readonly string[]): Promise<void> {
  if (args.length !== 1) ctx.fail("user delete command requires user name as its argument", EXIT.badArgs);
  const user = args[0] ?? "";
  const client = await ctx.client();
  await ctx.print(headerOnlyRendering(`User ${user} deleted\n`, await attempt(ctx, () => client.auth.users.delete(user))));
}

async function userGet(ctx: V3Context, args: readonly string[], flags: Flags): Promise<void> {
  if (args.length !== 1) ctx.fail("user get command requires user name as its argument", EXIT.badArgs);
  const user = args[0] ?? "";
  const client = await ctx.client();
  const result = await attempt(ctx, () => client.auth.users.get(user));
  if (!flags.bool("detail")) {
    await ctx.print(userGetRendering(user, result));
    return;
  }
  ctx.out(`User: ${user}\n`);
  for (const role of result.roles) {
    ctx.out("\n");
    await ctx.print(roleGetRendering(role, await attempt(ctx, () => client.auth.roles.get(role))));
  }
}

async function userList(ctx: V3Context, args: readonly string[]): Promise<void> {
  if (args.length !== 0) ctx.fail("user list command requires no arguments", EXIT.badArgs);
  const client = await ctx.client();
  await ctx.print(userListRendering(await attempt(ctx, () => client.auth.users.list())));
}

async function userPasswd(ctx: V3Context, args: readonly string[], flags: Flags): Promise<void> {
  if (args.length !== 1) ctx.fail("user passwd command requires user name as its argument", EXIT.badArgs);
  const user = args[0] ?? "";
  const password = await readPassword(ctx, user, flags);
  const client = await ctx.client();
  const result = await attempt(ctx, () => client.auth.users.changePassword(user, password));
  await ctx.print(headerOnlyRendering("Password updated\n", result));
}

async function grantRole(ctx: V3Context, args: readonly string[]): Promise<void> {
  if (args.length !== 2) ctx.fail("user grant command requires user name and role name as its argument", EXIT.badArgs);
  const [user = "", role = ""] = args;
  const client = await ctx.client();
  await ctx.print(headerOnlyRendering(`Role ${role} is granted to user ${user}\n`, await attempt(ctx, () => client.auth.users.grantRole(user, role))));
}

async function revokeRole(ctx: V3Context, args: readonly string[]): Promise<void> {
  if (args.length !== 2) ctx.fail("user revoke-role requires user name and role name as its argument", EXIT.badArgs);
  const [user = "", role = ""] = args;
  const client = await ctx.client();
  await ctx.print(headerOnlyRendering(`Role ${role} is revoked from user ${user}\n`, await attempt(ctx, () => client.auth.users.revokeRole(user, role))));
}

const interactive = (usage: string): FlagSpec => ({ name: "interactive", kind: "bool", defaultValue: "true", usage });

/** `etcdctl user`. */
export const USER: CommandSpec = {
  name: "user",
  use: "<subcommand>",
  short: "User related commands",
  subcommands: [
    {
      name: "add",
      use: "<user name or user:password> [options]",
      short: "Adds a new user",
      flags: [
        interactive("Read password from stdin instead of interactive terminal"),
        { name: "new-user-password", kind: "string", defaultValue: "", usage: "Supply password from the command line flag" },
        { name: "no-password", kind: "bool", defaultValue: "false", usage: "Create a user without password (CN based auth only)" },
      ],
      action: userAdd,
    },
    { name: "delete", use: "<user name>", short: "Deletes a user", action: userDelete },
    {
      name: "get",
      use: "<user name> [options]",
      short: "Gets detailed information of a user",
      flags: [{ name: "detail", kind: "bool", defaultValue: "false", usage: "Show permissions of roles granted to the user" }],
      action: userGet,
    },
    { name: "list", use: "", short: "Lists all users", action: userList },
    { name: "passwd", use: "<user name> [options]", short: "Changes password of user", flags: [interactive("If true, read password from stdin instead of interactive terminal")], action: userPasswd },
    { name: "grant-role", use: "<user name> <role name>", short: "Grants a role to a user", action: grantRole },
    { name: "revoke-role", use: "<user name> <role name>", short: "Revokes a role from a user", action: revokeRole },
  ],
};
