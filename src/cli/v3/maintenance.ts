/**
 * `etcdctl alarm list|disarm`, `defrag`, `move-leader` and `snapshot save|status|restore`.
 * `snapshot status` and `restore` (and `defrag --data-dir`) read and write bbolt files, which is
 * etcdutl's work; they print where to turn instead of pretending.
 */
import type { AlarmResult } from "../../v3/maintenance.js";
import type { SnapshotProgress } from "../../v3/snapshot.js";
import { CliExit } from "../shared/exit.js";
import { goDuration, goParse } from "./admin-args.js";
import type { V3Context } from "./context.js";
import { EXIT, errorText } from "./errors.js";
import { clusterEndpoints } from "./endpoint.js";
import { alarmRendering, humanBytes, moveLeaderRendering } from "./print-cluster.js";
import type { CommandSpec, Flags, FlagSpec } from "./spec.js";

async function alarmList(ctx: V3Context, args: readonly string[]): Promise<void> {
  if (args.length !== 0) ctx.fail("alarm list command accepts no arguments", EXIT.badArgs);
  const client = await ctx.client();
  let result: AlarmResult;
  try {
    result = await client.maintenance.alarms(await ctx.call());
  } catch (error) {
    return ctx.failWith(error);
  }
  await ctx.print(alarmRendering(result));
}

async function alarmDisarm(ctx: V3Context, args: readonly string[]): Promise<void> {
  if (args.length !== 0) ctx.fail("alarm disarm command accepts no arguments", EXIT.badArgs);
  const client = await ctx.client();
  let result: AlarmResult;
  try {
    result = await client.maintenance.disarm(undefined, await ctx.call());
  } catch (error) {
    return ctx.failWith(error);
  }
  // clientv3's disarm-all builds its reply itself, without a header.
  const rendering = alarmRendering({ ...result, header: { clusterId: 0n, memberId: 0n, revision: 0n, raftTerm: 0n } });
  // Its fields printer would dereference that missing header (etcdctl panics); we refuse the format instead.
  await ctx.print({ ...(rendering.simple === undefined ? {} : { simple: rendering.simple }), ...(rendering.json === undefined ? {} : { json: rendering.json }) });
}

const ETCDUTL = "reads and writes etcd's bbolt files, which is etcdutl's work";

async function defrag(ctx: V3Context, _args: readonly string[], flags: Flags): Promise<void> {
  const dataDir = flags.string("data-dir");
  if (dataDir !== "") ctx.fail(`defrag --data-dir ${ETCDUTL}: run \`etcdutl defrag --data-dir ${dataDir}\``);
  const client = await ctx.client();
  let failures = 0;
  for (const ep of await clusterEndpoints(ctx, flags)) {
    try {
      await client.maintenance.defragment(ep, await ctx.call());
      ctx.out(`Finished defragmenting etcd member[${ep}]\n`);
    } catch (error) {
      ctx.err(`Failed to defragment etcd member[${ep}] (${errorText(error)})\n`);
      failures++;
    }
  }
  // etcdctl exits 1 after the per-member lines, without an Error line.
  if (failures !== 0) throw new CliExit(EXIT.error);
}

async function moveLeader(ctx: V3Context, args: readonly string[]): Promise<void> {
  if (args.length !== 1) ctx.fail("move-leader command needs 1 argument", EXIT.badArgs);
  const target = goParse(args[0] ?? "", 16, false);
  if (target.error !== undefined) return ctx.fail(target.error, EXIT.badArgs);
  const client = await ctx.client();
  const endpoints = (await ctx.settings()).endpoints;
  let leader: bigint | undefined;
  for (const ep of endpoints) {
    try {
      const status = await client.maintenance.status(ep, await ctx.call());
      if (status.header.memberId === status.leader) {
        leader = status.leader;
        break;
      }
    } catch (error) {
      ctx.failWith(error);
    }
  }
  if (leader === undefined) return ctx.fail(`no leader endpoint given at [${endpoints.join(" ")}]`, EXIT.badArgs);
  try {
    const moved = await client.maintenance.moveLeader(target.value, await ctx.call());
    await ctx.print(moveLeaderRendering(leader, target.value, moved.header));
  } catch (error) {
    ctx.failWith(error);
  }
}

async function snapshotSave(ctx: V3Context, args: readonly string[], flags: Flags): Promise<void> {
  if (args.length !== 1) ctx.fail("snapshot save expects one argument", EXIT.badArgs);
  const path = args[0] ?? "";
  const settings = await ctx.settings();
  if (settings.endpoints.length !== 1) ctx.fail(`snapshot must be requested to one selected node, not multiple [${settings.endpoints.join(" ")}]`, EXIT.interrupted);
  // As etcdctl: no deadline for a snapshot unless --command-timeout was given.
  const timed = flags.changed("command-timeout") || ctx.io.env["ETCDCTL_COMMAND_TIMEOUT"] !== undefined;
  const signal = timed ? AbortSignal.timeout(settings.commandTimeoutMs) : undefined;
  const client = await ctx.client();
  const bar = ctx.io.isTerminal === true ? progressBar(ctx) : undefined;
  try {
    await client.maintenance.snapshotToFile(path, { endpoint: settings.endpoints[0], signal, onProgress: bar?.update });
  } catch (error) {
    bar?.clear();
    return ctx.failWith(signal?.aborted === true ? new Error("context deadline exceeded") : error, EXIT.interrupted);
  }
  bar?.clear();
  ctx.out(`Snapshot saved at ${path}\n`);
}

/** A one-line progress bar (bytes, share, rate) redrawn in place on a terminal, at most 10 times a second. */
function progressBar(ctx: V3Context): { update: (p: SnapshotProgress) => void; clear: () => void } {
  const started = performance.now();
  let drawn = 0;
  let width = 0;
  return {
    update: (p) => {
      const now = performance.now();
      if (now - drawn < 100 && p.bytes !== p.total) return;
      drawn = now;
      const seconds = Math.max((now - started) / 1000, 0.001);
      const share = p.total === undefined || p.total === 0 ? "" : ` ${Math.floor((p.bytes / p.total) * 100)}%`;
      const line = `Downloading snapshot: ${humanBytes(BigInt(p.bytes))}${share} at ${humanBytes(BigInt(Math.round(p.bytes / seconds)))}/s (${goDuration(now - started)})`;
      width = Math.max(width, line.length);
      ctx.out(`\r${line.padEnd(width)}`);
    },
    clear: () => {
      if (width > 0) ctx.out(`\r${" ".repeat(width)}\r`);
    },
  };
}

function etcdutlOnly(what: "status" | "restore", usage: string): (ctx: V3Context) => Promise<void> {
  return (ctx) =>
    Promise.resolve(
      ctx.fail(`snapshot ${what} ${ETCDUTL}: run "etcdutl snapshot ${what} ${usage}" (etcd 3.5) or "ETCDCTL_API=3 etcdctl snapshot ${what} ${usage}" (etcd 3.4)`),
    );
}

const str = (name: string, defaultValue: string, usage: string): FlagSpec => ({ name, kind: "string", defaultValue, usage });

/** `snapshot restore`'s flags, accepted so that the pointer to etcdutl is what a restore command line gets. */
const RESTORE_FLAGS: readonly FlagSpec[] = [
  str("data-dir", "", "Path to the data directory"),
  str("wal-dir", "", "Path to the WAL directory (use --data-dir if none given)"),
  str("initial-cluster", "default=http://localhost:2380", "Initial cluster configuration for restore bootstrap"),
  str("initial-cluster-token", "etcd-cluster", "Initial cluster token for the etcd cluster during restore bootstrap"),
  str("initial-advertise-peer-urls", "http://localhost:2380", "List of this member's peer URLs to advertise to the rest of the cluster"),
  str("name", "default", "Human-readable name for this member"),
  { name: "skip-hash-check", kind: "bool", defaultValue: "false", usage: "Ignore snapshot integrity hash value (required if copied from data directory)" },
  { name: "bump-revision", kind: "uint", defaultValue: "0", usage: "How much to increase the latest revision after restore" },
  {
    name: "mark-compacted",
    kind: "bool",
    defaultValue: "false",
    usage: "Mark the latest revision after restore as the point of scheduled compaction (required if --bump-revision > 0, disallowed otherwise)",
  },
  { name: "initial-memory-map-size", kind: "uint", defaultValue: "0", usage: "Initial memory map size of the database in bytes. It uses the default value if not defined or defined to 0" },
];

const cluster: FlagSpec = { name: "cluster", kind: "bool", defaultValue: "false", usage: "use all endpoints from the cluster member list" };

/** `etcdctl alarm`. */
export const ALARM: CommandSpec = {
  name: "alarm",
  use: "<subcommand>",
  short: "Alarm related commands",
  subcommands: [
    { name: "disarm", use: "", short: "Disarms all alarms", action: alarmDisarm },
    { name: "list", use: "", short: "Lists all alarms", action: alarmList },
  ],
};

/** `etcdctl defrag`. */
export const DEFRAG: CommandSpec = {
  name: "defrag",
  use: "",
  short: "Defragments the storage of the etcd members with given endpoints",
  flags: [cluster, { name: "data-dir", kind: "string", defaultValue: "", usage: "Optional. If present, defragments a data directory not in use by etcd." }],
  action: defrag,
};

/** `etcdctl move-leader`. */
export const MOVE_LEADER: CommandSpec = {
  name: "move-leader",
  use: "<transferee-member-id>",
  short: "Transfers leadership to another etcd cluster member.",
  action: moveLeader,
};

/** `etcdctl snapshot`. */
export const SNAPSHOT: CommandSpec = {
  name: "snapshot",
  use: "<subcommand>",
  short: "Manages etcd node snapshots",
  subcommands: [
    { name: "save", use: "<filename>", short: "Stores an etcd node backend snapshot to a given file", action: snapshotSave },
    { name: "restore", use: "<filename> [options]", short: "Restores an etcd member snapshot to an etcd directory", long: "Moved to `etcdctl snapshot restore ...`\n", flags: RESTORE_FLAGS, action: etcdutlOnly("restore", "<filename> --data-dir <dir>") },
    {
      name: "status",
      use: "<filename>",
      short: "[deprecated] Gets backend snapshot status of a given file",
      long: "When --write-out is set to simple, this command prints out comma-separated status lists for each endpoint.\nThe items in the lists are hash, revision, total keys, total size.\n\nMoved to 'etcdctl snapshot status ...'\n",
      action: etcdutlOnly("status", "<filename>"),
    },
  ],
};
