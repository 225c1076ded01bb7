/**
 * `user`, `role` and `auth` commands. Like etcdctl, each failure prints the server's message
 * (or the Go client's error text) on its own line and exits 1; checks that etcdctl makes before
 * sending are made here in the same order, with the same words.
 */
import { EtcdError } from "../../errors.js";
import type { Permission } from "../../v2/types.js";
import { goErrorText } from "./errors.js";
import type { CliContext } from "./context.js";
import { cleanKey, type Action } from "./keys.js";
import { formatRole, formatUser } from "./output.js";

/** Runs an auth call; a failure prints the Go error text and exits 1. */
async function call<T>(ctx: CliContext, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    return ctx.fail(`${goErrorText(error)}\n`);
  }
}

function noArgs(ctx: CliContext, args: readonly string[]): void {
  if (args.length !== 0) ctx.fail("No arguments accepted\n");
}

function userArg(ctx: CliContext, args: readonly string[]): string {
  const user = args[0];
  if (user === undefined || args.length !== 1) return ctx.fail("Please provide a username\n");
  return user;
}

function roleArg(ctx: CliContext, args: readonly string[]): string {
  const role = args[0];
  if (role === undefined || args.length !== 1) return ctx.fail("Please provide a role name\n");
  return role;
}

const userList: Action = async (ctx, args) => {
  noArgs(ctx, args);
  const client = await ctx.client();
  const users = await call(ctx, () => client.auth.users.list(ctx.call()));
  ctx.out(users.map((u) => `${u.user}\n`).join(""));
};

const userAdd: Action = async (ctx, args) => {
  const arg = userArg(ctx, args);
  const client = await ctx.client();
  const colon = arg.indexOf(":");
  const user = colon < 0 ? arg : arg.slice(0, colon);
  const password = colon < 0 ? await ctx.io.readSecret("New password: ") : arg.slice(colon + 1);
  await call(ctx, () => client.auth.users.add(user, password, ctx.call()));
  ctx.out(`User ${user} created\n`);
};

const userGet: Action = async (ctx, args) => {
  const user = userArg(ctx, args);
  const client = await ctx.client();
  ctx.out(formatUser(await call(ctx, () => client.auth.users.get(user, ctx.call()))));
};

const userRemove: Action = async (ctx, args) => {
  const user = userArg(ctx, args);
  const client = await ctx.client();
  await call(ctx, () => client.auth.users.remove(user, ctx.call()));
  ctx.out(`User ${user} removed\n`);
};

const userPasswd: Action = async (ctx, args) => {
  const user = userArg(ctx, args);
  const client = await ctx.client();
  await call(ctx, () => client.auth.users.get(user, ctx.call()));
  const password = await ctx.io.readSecret("New password: ");
  await call(ctx, () => client.auth.users.changePassword(user, password, ctx.call()));
  ctx.out("Password updated\n");
};

/** `user grant` and `user revoke`: roles are checked first, then the user must exist. */
function userRoles(verb: "grant" | "revoke"): Action {
  return async (ctx, args, opts) => {
    const roles = opts.list("roles");
    if (roles.length === 0) ctx.fail("No roles specified; please use `--roles`\n");
    const user = userArg(ctx, args);
    const client = await ctx.client();
    const users = client.auth.users;
    await call(ctx, () => users.get(user, ctx.call()));
    await call(ctx, () => (verb === "grant" ? users.grant(user, roles, ctx.call()) : users.revoke(user, roles, ctx.call())));
    ctx.out(`User ${user} updated\n`);
  };
}

const roleList: Action = async (ctx, args) => {
  noArgs(ctx, args);
  const client = await ctx.client();
  try {
    const roles = await client.auth.roles.list(ctx.call());
    ctx.out(roles.map((r) => `${r.role}\n`).join(""));
  } catch (error) {
    // The Go client's ListRoles reports a refusal by its status alone, unlike every other call.
    if (error instanceof EtcdError && error.status !== undefined && error.errorCode === undefined) ctx.fail(`unexpected status code ${error.status}\n`);
    ctx.fail(`${goErrorText(error)}\n`);
  }
};

const roleAdd: Action = async (ctx, args) => {
  const role = roleArg(ctx, args);
  const client = await ctx.client();
  const exists = await client.auth.roles.get(role, ctx.call()).then(
    () => true,
    () => false,
  );
  if (exists) ctx.fail(`Role ${role} already exists\n`);
  await call(ctx, () => client.auth.roles.add(role, ctx.call()));
  ctx.out(`Role ${role} created\n`);
};

const roleGet: Action = async (ctx, args) => {
  const role = roleArg(ctx, args);
  const client = await ctx.client();
  ctx.out(formatRole(await call(ctx, () => client.auth.roles.get(role, ctx.call()))));
};

const roleRemove: Action = async (ctx, args) => {
  const role = roleArg(ctx, args);
  const client = await ctx.client();
  await call(ctx, () => client.auth.roles.remove(role, ctx.call()));
  ctx.out(`Role ${role} removed\n`);
};

/** `role grant` and `role revoke`: one canonical `--path` and exactly one access kind. */
function rolePath(verb: "grant" | "revoke"): Action {
  return async (ctx, args, opts) => {
    const path = opts.text("path");
    if (path === "") ctx.fail("No path specified; please use `--path`\n");
    if (cleanKey(path) !== path) ctx.fail(`Not canonical path; please use \`--path=${cleanKey(path)}\`\n`);
    const chosen = (["read", "write", "readwrite"] as const).filter((p) => opts.bool(p));
    const permission: Permission | undefined = chosen.length === 1 ? chosen[0] : undefined;
    if (permission === undefined) return ctx.fail("Please specify exactly one of --read, --write or --readwrite\n");
    const role = roleArg(ctx, args);
    const client = await ctx.client();
    const roles = client.auth.roles;
    await call(ctx, () => roles.get(role, ctx.call()));
    // etcdctl also compares the role before and after to say "Role unchanged"; the server already
    // refuses a change that changes nothing, and auth reads are local, so that notice only ever
    // appeared after a stale read, wrongly.
    await call(ctx, () => (verb === "grant" ? roles.grantKV(role, [path], permission, ctx.call()) : roles.revokeKV(role, [path], permission, ctx.call())));
    ctx.out(`Role ${role} updated\n`);
  };
}

/** `auth enable` and `auth disable`. */
function authSwitch(enable: boolean): Action {
  return async (ctx, args) => {
    noArgs(ctx, args);
    const client = await ctx.client();
    await call(ctx, () => (enable ? client.auth.enable(ctx.call()) : client.auth.disable(ctx.call())));
    ctx.out(enable ? "Authentication Enabled\n" : "Authentication Disabled\n");
  };
}

/** The user, role and auth commands by name ("user add", ...). */
export const AUTH_ACTIONS: Readonly<Record<string, Action>> = {
  "user list": userList,
  "user add": userAdd,
  "user get": userGet,
  "user remove": userRemove,
  "user passwd": userPasswd,
  "user grant": userRoles("grant"),
  "user revoke": userRoles("revoke"),
  "role list": roleList,
  "role add": roleAdd,
  "role get": roleGet,
  "role remove": roleRemove,
  "role grant": rolePath("grant"),
  "role revoke": rolePath("revoke"),
  "auth enable": authSwitch(true),
  "auth disable": authSwitch(false),
};
