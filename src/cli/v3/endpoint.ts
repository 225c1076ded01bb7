/**
 * `etcdctl endpoint health|status|hashkv [--cluster]`. `health` checks each endpoint with its own
 * client, at once, and lists them as they answer: a linearizable read of "health" (a permission
 * refusal also proves the member serves), then, on etcd 3.5, the alarm list. etcdctl 3.4 wrote
 * the healthy lines to stderr and did not look at alarms; we do what the member's version did.
 */
import type { EtcdV3Client } from "../../v3/client.js";
import { EtcdError } from "../../errors.js";
import { goDuration } from "./admin-args.js";
import type { V3Context } from "./context.js";
import { EXIT, errorText } from "./errors.js";
import { endpointHashRendering, endpointHealthRendering, endpointHealthSimple, endpointStatusRendering, type EndpointHash, type EndpointHealth, type EndpointStatus } from "./print-cluster.js";
import type { CommandSpec, Flags, FlagSpec } from "./spec.js";
import { CliExit } from "../shared/exit.js";

/** The endpoints to work on: `--endpoints`, or with `--cluster` every client URL of the member list. */
export async function clusterEndpoints(ctx: V3Context, flags: Flags): Promise<readonly string[]> {
  const settings = await ctx.settings();
  if (!flags.bool("cluster")) return settings.endpoints;
  const client = await ctx.client();
  try {
    const { members } = await client.cluster.list(await ctx.call());
    return members.flatMap((m) => m.clientUrls);
  } catch (error) {
    return ctx.fail(`failed to fetch endpoints from etcd cluster member list: ${errorText(error)}`);
  }
}

/** One endpoint's health and whether it runs etcd 3.4. */
async function checkOne(ctx: V3Context, client: EtcdV3Client, ep: string): Promise<{ health: EndpointHealth; v34: boolean }> {
  const call = await ctx.call();
  const started = performance.now();
  let error = "";
  try {
    await client.get("health", call);
  } catch (e) {
    if (!(e instanceof EtcdError && e.code === "PERMISSION_DENIED")) error = errorText(e);
  }
  const took = goDuration(performance.now() - started);
  if (error !== "") return { health: { endpoint: ep, health: false, took, error }, v34: false };
  const v34 = await client.maintenance
    .status(ep, call)
    .then((s) => s.version.startsWith("3.4."))
    .catch(() => false);
  if (v34) return { health: { endpoint: ep, health: true, took, error }, v34 };
  try {
    const { alarms } = await client.maintenance.alarms(call);
    if (alarms.length > 0) error = `Active Alarm(s): ${alarms.map((a) => `${a.alarm.toUpperCase()} `).join("")}`;
  } catch {
    error = "Unable to fetch the alarm list";
  }
  return { health: { endpoint: ep, health: error === "", took, error }, v34 };
}

async function health(ctx: V3Context, _args: readonly string[], flags: Flags): Promise<void> {
  const endpoints = await clusterEndpoints(ctx, flags);
  const settings = await ctx.settings();
  const { EtcdV3Client: Client } = await import("../../v3/client.js");
  const list: EndpointHealth[] = [];
  let stderr34 = false;
  await Promise.all(
    endpoints.map(async (ep) => {
      const client = new Client({ ...settings.options, endpoints: [ep] });
      try {
        const { health: h, v34 } = await checkOne(ctx, client, ep);
        list.push(h);
        stderr34 ||= v34;
      } finally {
        await client.close();
      }
    }),
  );
  if (settings.format === "simple") {
    const [out, err] = endpointHealthSimple(list, stderr34);
    ctx.out(out);
    ctx.err(err);
  } else await ctx.print(endpointHealthRendering(list));
  if (list.some((h) => h.error !== "")) ctx.fail("unhealthy cluster");
}

async function status(ctx: V3Context, _args: readonly string[], flags: Flags): Promise<void> {
  const client = await ctx.client();
  const list: EndpointStatus[] = [];
  let failed = false;
  for (const ep of await clusterEndpoints(ctx, flags)) {
    try {
      list.push({ endpoint: ep, status: await client.maintenance.status(ep, await ctx.call()) });
    } catch (error) {
      failed = true;
      ctx.err(`Failed to get the status of endpoint ${ep} (${errorText(error)})\n`);
    }
  }
  await ctx.print(endpointStatusRendering(list));
  // etcdctl exits 1 after the list, without an Error line.
  if (failed) throw new CliExit(EXIT.error);
}

async function hashKV(ctx: V3Context, _args: readonly string[], flags: Flags): Promise<void> {
  const client = await ctx.client();
  const list: EndpointHash[] = [];
  let last: unknown;
  const rev = flags.int("rev");
  for (const ep of await clusterEndpoints(ctx, flags)) {
    try {
      list.push({ endpoint: ep, hash: await client.maintenance.hashKV(ep, rev, await ctx.call()) });
    } catch (error) {
      last = error;
      ctx.err(`Failed to get the hash of endpoint ${ep} (${errorText(error)})\n`);
    }
  }
  await ctx.print(endpointHashRendering(list));
  if (last !== undefined) ctx.failWith(last);
}

const cluster: FlagSpec = { name: "cluster", kind: "bool", defaultValue: "false", usage: "use all endpoints from the cluster member list" };

/** `etcdctl endpoint`. */
export const ENDPOINT: CommandSpec = {
  name: "endpoint",
  use: "<subcommand>",
  short: "Endpoint related commands",
  subcommands: [
    { name: "health", use: "", short: "Checks the healthiness of endpoints specified in `--endpoints` flag", flags: [cluster], action: health },
    {
      name: "status",
      use: "",
      short: "Prints out the status of endpoints specified in `--endpoints` flag",
      long: "When --write-out is set to simple, this command prints out comma-separated status lists for each endpoint.\nThe items in the lists are endpoint, ID, version, db size, is leader, is learner, raft term, raft index, raft applied index, errors.\n",
      flags: [cluster],
      action: status,
    },
    {
      name: "hashkv",
      use: "",
      short: "Prints the KV history hash for each endpoint in --endpoints",
      flags: [cluster, { name: "rev", kind: "int", defaultValue: "0", usage: "maximum revision to hash (default: all revisions)" }],
      action: hashKV,
    },
  ],
};
