/**
 * `etcdctl member list|add|remove|update|promote` (3.4 and 3.5 agree). `member add` in the simple
 * format also prints the environment a new member starts with, as etcdctl does.
 */
import type { MemberListResult } from "../../v3/cluster.js";
import { goQuote } from "../shared/gofmt.js";
import { goParse } from "./admin-args.js";
import type { V3Context } from "./context.js";
import { EXIT } from "./errors.js";
import { memberAddRendering, memberChangeRendering, memberListRendering } from "./print-cluster.js";
import type { CommandSpec, Flags } from "./spec.js";

function memberArg(ctx: V3Context, args: readonly string[]): bigint {
  if (args.length !== 1) ctx.fail("member ID is not provided", EXIT.badArgs);
  const parsed = goParse(args[0] ?? "", 16, false);
  if (parsed.error !== undefined) return ctx.fail(`bad member ID arg (${parsed.error}), expecting ID in Hex`, EXIT.badArgs);
  return parsed.value;
}

async function list(ctx: V3Context): Promise<void> {
  const client = await ctx.client();
  let result: MemberListResult;
  try {
    result = await client.cluster.list(await ctx.call());
  } catch (error) {
    return ctx.failWith(error);
  }
  await ctx.print(memberListRendering(result, (await ctx.settings()).hex));
}

async function add(ctx: V3Context, args: readonly string[], flags: Flags): Promise<void> {
  if (args.length < 1) ctx.fail("member name not provided", EXIT.badArgs);
  if (args.length > 1) {
    const hints = args.filter((a) => a.toLowerCase().startsWith("http")).map((a) => `, did you mean --peer-urls=${a}`);
    ctx.fail(`too many arguments${hints.join("")}`, EXIT.badArgs);
  }
  const name = args[0] ?? "";
  const peerUrls = flags.string("peer-urls");
  if (peerUrls === "") ctx.fail("member peer urls not provided", EXIT.badArgs);
  const client = await ctx.client();
  let result;
  try {
    result = await client.cluster.add(peerUrls.split(","), { isLearner: flags.bool("learner"), ...(await ctx.call()) });
  } catch (error) {
    return ctx.failWith(error);
  }
  await ctx.print(memberAddRendering(result));
  if ((await ctx.settings()).format !== "simple") return;
  const conf = result.members.flatMap((m) => m.peerUrls.map((u) => `${m.id === result.member.id ? name : m.name}=${u}`));
  ctx.out(
    `\nETCD_NAME=${goQuote(name)}\nETCD_INITIAL_CLUSTER=${goQuote(conf.join(","))}\n` +
      `ETCD_INITIAL_ADVERTISE_PEER_URLS=${goQuote(peerUrls)}\nETCD_INITIAL_CLUSTER_STATE="existing"\n`,
  );
}

async function remove(ctx: V3Context, args: readonly string[]): Promise<void> {
  const id = memberArg(ctx, args);
  const client = await ctx.client();
  let result;
  try {
    result = await client.cluster.remove(id, await ctx.call());
  } catch (error) {
    return ctx.failWith(error);
  }
  await ctx.print(memberChangeRendering(id, "removed from", result));
}

async function update(ctx: V3Context, args: readonly string[], flags: Flags): Promise<void> {
  const id = memberArg(ctx, args);
  const peerUrls = flags.string("peer-urls");
  if (peerUrls === "") ctx.fail("member peer urls not provided", EXIT.badArgs);
  const client = await ctx.client();
  let result;
  try {
    result = await client.cluster.update(id, peerUrls.split(","), await ctx.call());
  } catch (error) {
    return ctx.failWith(error);
  }
  await ctx.print(memberChangeRendering(id, "updated in", result));
}

async function promote(ctx: V3Context, args: readonly string[]): Promise<void> {
  const id = memberArg(ctx, args);
  const client = await ctx.client();
  let result;
  try {
    result = await client.cluster.promote(id, await ctx.call());
  } catch (error) {
    return ctx.failWith(error);
  }
  await ctx.print(memberChangeRendering(id, "promoted in", result));
}

/** `etcdctl member`. */
export const MEMBER: CommandSpec = {
  name: "member",
  use: "<subcommand>",
  short: "Membership related commands",
  subcommands: [
    {
      name: "add",
      use: "<memberName> [options]",
      short: "Adds a member into the cluster",
      flags: [
        { name: "peer-urls", kind: "string", defaultValue: "", usage: "comma separated peer URLs for the new member." },
        { name: "learner", kind: "bool", defaultValue: "false", usage: "indicates if the new member is raft learner" },
      ],
      action: add,
    },
    { name: "remove", use: "<memberID>", short: "Removes a member from the cluster", action: remove },
    {
      name: "update",
      use: "<memberID> [options]",
      short: "Updates a member in the cluster",
      flags: [{ name: "peer-urls", kind: "string", defaultValue: "", usage: "comma separated peer URLs for the updated member." }],
      action: update,
    },
    {
      name: "list",
      use: "",
      short: "Lists all members in the cluster",
      long: "When --write-out is set to simple, this command prints out comma-separated member lists for each endpoint.\nThe items in the lists are ID, Status, Name, Peer Addrs, Client Addrs, Is Learner.\n",
      action: list,
    },
    { name: "promote", use: "<memberID>", short: "Promotes a non-voting member in the cluster", long: "Promotes a non-voting learner member to a voting one in the cluster.\n", action: promote },
  ],
};
