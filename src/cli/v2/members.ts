/**
 * `member list|add|remove|update` and `cluster-health`. Like etcdctl, failures print the Go
 * client's error text and exit 1; `cluster-health` exits 5 unless every member is healthy.
 */
import { EtcdV2Client } from "../../v2/client.js";
import type { Member } from "../../v2/types.js";
import { EXIT, goErrorText, handleErrorText, goHttpErrorText } from "./errors.js";
import type { CliContext } from "./context.js";
import type { Action } from "./keys.js";
import { formatMember, formatMemberAdded, formatMemberEnv } from "./output.js";

/** Runs a members call; a failure prints `prefix` and the Go error text, then exits 1. */
async function call<T>(ctx: CliContext, run: () => Promise<T>, prefix = ""): Promise<T> {
  try {
    return await run();
  } catch (error) {
    return ctx.fail(`${prefix}${goErrorText(error)}\n`);
  }
}

const list: Action = async (ctx, args) => {
  if (args.length !== 0) ctx.fail("No arguments accepted\n");
  const client = await ctx.client();
  const members = await call(ctx, () => client.members.list(ctx.call()));
  const leader = await call(ctx, () => client.members.leader(ctx.call()), "Failed to get leader:  ");
  ctx.out(members.map((m) => formatMember(m, leader.id)).join(""));
};

const add: Action = async (ctx, args) => {
  const [name, url] = args;
  if (name === undefined || url === undefined || args.length !== 2) return ctx.fail("Provide a name and a single member peerURL\n");
  const urls = checkPeerUrls(ctx, [url]);
  const client = await ctx.client();
  const added = await call(ctx, () => client.members.add(urls, ctx.call()));
  ctx.out(formatMemberAdded(name, added.id));
  const members = await call(ctx, () => client.members.list(ctx.call()));
  ctx.out(formatMemberEnv(name, added.id, members));
};

const remove: Action = async (ctx, args) => {
  const id = args[0];
  if (id === undefined || args.length !== 1) return ctx.fail("Provide a single member ID\n");
  const client = await ctx.client();
  const members = await call(ctx, () => client.members.list(ctx.call()), "Error while verifying ID against known members: ");
  for (const m of members.filter((m) => m.name === id)) {
    ctx.err(`Found a member named ${m.name}; if this is correct, please use its ID, eg:\n\tetcd-ts member remove ${m.id}\n`);
    ctx.err("For more details, read the documentation at https://github.com/etcd-io/etcd/blob/master/Documentation/runtime-configuration.md#remove-a-member\n\n");
  }
  if (!members.some((m) => m.id === id)) ctx.fail(`Couldn't find a member in the cluster with an ID of ${id}.\n`);
  await call(ctx, () => client.members.remove(id, ctx.call()), `Received an error trying to remove member ${id}: `);
  ctx.out(`Removed member ${id} from cluster\n`);
};

const update: Action = async (ctx, args) => {
  const [id, urls] = args;
  if (id === undefined || urls === undefined || args.length !== 2) {
    return ctx.fail("Provide an ID and a list of comma separated peerURL (0xabcd http://example.com,http://example1.com)\n");
  }
  const peers = checkPeerUrls(ctx, urls.split(","));
  const client = await ctx.client();
  await call(ctx, () => client.members.update(id, peers, ctx.call()));
  ctx.out(`Updated member with ID ${id} in cluster\n`);
};

/** Go's `types.NewURLs`, which etcdctl runs before sending: same checks, same messages, sorted. */
export function checkPeerUrls(ctx: CliContext, urls: readonly string[]): string[] {
  const checked = urls.map((raw) => {
    const text = raw.trim();
    const match = /^([A-Za-z][A-Za-z0-9+.-]*):(?:\/\/([^/?#]*))?([^?#]*)/.exec(text);
    const scheme = match?.[1]?.toLowerCase() ?? "";
    if (!["http", "https", "unix", "unixs"].includes(scheme)) ctx.fail(`URL scheme must be http, https, unix, or unixs: ${text}\n`);
    if (!/^(\[[^\]]*\]|[^:[\]]*):[^:]*$/.test(match?.[2] ?? "")) ctx.fail(`URL address does not have the form "host:port": ${text}\n`);
    if ((match?.[3] ?? "") !== "") ctx.fail(`URL must not contain a path: ${text}\n`);
    return text;
  });
  return checked.sort();
}

const HEALTH_INTERVAL_MS = 10_000;

const clusterHealth: Action = async (ctx, _args, opts) => {
  const interrupt = opts.bool("forever") ? ctx.io.trapInterrupt() : undefined;
  // Like etcdctl: no member-list sync first, since the member list is what is being checked.
  const client = await ctx.client(false);
  let members: Member[];
  try {
    members = await client.members.list(ctx.call());
  } catch (error) {
    ctx.out("cluster may be unhealthy: failed to list members\n");
    return ctx.fail(handleErrorText(error), EXIT.serverError);
  }
  for (;;) {
    const healthy = await checkAll(ctx, members);
    ctx.out(healthy === members.length ? "cluster is healthy\n" : healthy === 0 ? "cluster is unavailable\n" : "cluster is degraded\n");
    if (interrupt === undefined) {
      if (healthy !== members.length) ctx.fail("", EXIT.clusterNotHealthy);
      return;
    }
    ctx.out(`\nnext check after 10 second...\n\n`);
    if (!(await pause(HEALTH_INTERVAL_MS, interrupt))) return;
  }
};

/** Checks every member (all at once, each bounded by `--timeout`), prints in member order, returns how many are healthy. */
async function checkAll(ctx: CliContext, members: readonly Member[]): Promise<number> {
  const reports = await Promise.all(members.map((m) => checkMember(ctx, m)));
  ctx.out(reports.map((r) => r.text).join(""));
  return reports.filter((r) => r.healthy).length;
}

async function checkMember(ctx: CliContext, member: Member): Promise<{ text: string; healthy: boolean }> {
  if (member.clientURLs.length === 0) return { text: `member ${member.id} is unreachable: no available published client urls\n`, healthy: false };
  let text = "";
  for (const url of member.clientURLs) {
    const verdict = await probe(ctx, url);
    if (typeof verdict === "string") {
      text += `failed to check the health of member ${member.id} on ${url}: ${verdict}\n`;
      continue;
    }
    const state = verdict ? "healthy" : "unhealthy";
    return { text: `${text}member ${member.id} is ${state}: got ${state} result from ${url}\n`, healthy: verdict };
  }
  return { text: `${text}member ${member.id} is unreachable: [${member.clientURLs.join(" ")}] are all unreachable\n`, healthy: false };
}

/** GET <url>/health on that member alone, once: true/false, or the failure as Go's HTTP client words it. */
async function probe(ctx: CliContext, url: string): Promise<boolean | string> {
  const options = await ctx.clientOptions();
  const client = new EtcdV2Client({ ...options, endpoints: [url], checkRetry: () => ({ retry: false }) });
  try {
    return (await client.health({ timeout: ctx.globals.timeoutMs })).health;
  } catch (error) {
    return goHttpErrorText(`${url}/health`, error);
  } finally {
    await client.close();
  }
}

/** Waits `ms`; false when interrupted first. */
function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve(false);
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** The member commands by name ("member list", ...), and cluster-health. */
export const MEMBER_ACTIONS: Readonly<Record<string, Action>> = {
  "member list": list,
  "member add": add,
  "member remove": remove,
  "member update": update,
  "cluster-health": clusterHealth,
};
