/**
 * The table of etcd-ts's v3 commands: one line per top-level command, each naming the module
 * that defines it. Only the module of the command typed is imported (help imports them all), so
 * start-up does not grow with the number of commands.
 *
 * The contract for a command module (`src/cli/v3/<group>.ts`):
 * - it exports one `CommandSpec` per top-level command (see spec.ts): `name` and `use` as in
 *   etcdctl's cobra `Use` ("get [options] <key> [range_end]" is name "get", use "[options] <key>
 *   [range_end]"), `short` and `long` texts verbatim from etcdctl, its own `flags` (the global
 *   ones and `-h` are added by the runner), and either an `action` or `subcommands` (a group);
 * - an action receives the run's `V3Context` (context.ts), its positional arguments and its
 *   `Flags`; it gets the client with `await ctx.client()`, per-call options (the command
 *   timeout) with `await ctx.call()`, prints a result with `await ctx.print(rendering)`
 *   (printers.ts: one function per output format it supports, shared header/kv pieces there),
 *   and ends a failure with `ctx.fail(text, EXIT.x)` or `ctx.failWith(error)` (errors.ts), which
 *   print etcdctl's `Error: …` line;
 * - it imports the library (`../../v3/…`) itself; nothing here or in run.ts loads it.
 * Adding a command is adding its module and one line below, in any order (help sorts), with the
 * root help's lines for it (`summary`; test/unit/cli-v3.test.ts says what they must be).
 */
import type { CommandSpec } from "./spec.js";

/** A top-level command and how to load it. */
export interface CommandEntry {
  /** The word typed (cobra also accepts a unique prefix of it). */
  readonly name: string;
  readonly load: () => Promise<CommandSpec>;
  /**
   * What the root's help lists for it, so that `--help` loads no command module: each runnable
   * command at or below it, as its words and `short` text (a unit test checks them against the module).
   */
  readonly summary: readonly (readonly [string, string])[];
}

/** Every v3 command. */
export const COMMANDS: readonly CommandEntry[] = [
  { name: "get", load: async () => (await import("./kv.js")).GET, summary: [["get", "Gets the key or a range of keys"]] },
  { name: "put", load: async () => (await import("./kv.js")).PUT, summary: [["put", "Puts the given key into the store"]] },
  { name: "del", load: async () => (await import("./kv.js")).DEL, summary: [["del", "Removes the specified key or range of keys [key, range_end)"]] },
  { name: "compaction", load: async () => (await import("./kv.js")).COMPACTION, summary: [["compaction", "Compacts the event history in etcd"]] },
  { name: "txn", load: async () => (await import("./txn.js")).TXN, summary: [["txn", "Txn processes all the requests in one transaction"]] },
  { name: "watch", load: async () => (await import("./watch.js")).WATCH, summary: [["watch", "Watches events stream on keys or prefixes"]] },
  { name: "version", load: async () => (await import("./version.js")).VERSION_COMMAND, summary: [["version", "Prints the version of etcd-ts"]] },
  {
    name: "lease",
    load: async () => (await import("./lease.js")).LEASE,
    summary: [
      ["lease grant", "Creates leases"],
      ["lease revoke", "Revokes leases"],
      ["lease timetolive", "Get lease information"],
      ["lease list", "List all active leases"],
      ["lease keep-alive", "Keeps leases alive (renew)"],
    ],
  },
  {
    name: "member",
    load: async () => (await import("./member.js")).MEMBER,
    summary: [
      ["member add", "Adds a member into the cluster"],
      ["member remove", "Removes a member from the cluster"],
      ["member update", "Updates a member in the cluster"],
      ["member list", "Lists all members in the cluster"],
      ["member promote", "Promotes a non-voting member in the cluster"],
    ],
  },
  {
    name: "endpoint",
    load: async () => (await import("./endpoint.js")).ENDPOINT,
    summary: [
      ["endpoint health", "Checks the healthiness of endpoints specified in `--endpoints` flag"],
      ["endpoint status", "Prints out the status of endpoints specified in `--endpoints` flag"],
      ["endpoint hashkv", "Prints the KV history hash for each endpoint in --endpoints"],
    ],
  },
  { name: "alarm", load: async () => (await import("./maintenance.js")).ALARM, summary: [["alarm disarm", "Disarms all alarms"], ["alarm list", "Lists all alarms"]] },
  { name: "defrag", load: async () => (await import("./maintenance.js")).DEFRAG, summary: [["defrag", "Defragments the storage of the etcd members with given endpoints"]] },
  { name: "move-leader", load: async () => (await import("./maintenance.js")).MOVE_LEADER, summary: [["move-leader", "Transfers leadership to another etcd cluster member."]] },
  {
    name: "snapshot",
    load: async () => (await import("./maintenance.js")).SNAPSHOT,
    summary: [
      ["snapshot save", "Stores an etcd node backend snapshot to a given file"],
      ["snapshot restore", "Restores an etcd member snapshot to an etcd directory"],
      ["snapshot status", "[deprecated] Gets backend snapshot status of a given file"],
    ],
  },
  {
    name: "auth",
    load: async () => (await import("./auth.js")).AUTH,
    summary: [
      ["auth status", "Returns authentication status"],
      ["auth enable", "Enables authentication"],
      ["auth disable", "Disables authentication"],
    ],
  },
  {
    name: "role",
    load: async () => (await import("./auth.js")).ROLE,
    summary: [
      ["role add", "Adds a new role"],
      ["role delete", "Deletes a role"],
      ["role get", "Gets detailed information of a role"],
      ["role list", "Lists all roles"],
      ["role grant-permission", "Grants a key to a role"],
      ["role revoke-permission", "Revokes a key from a role"],
    ],
  },
  {
    name: "user",
    load: async () => (await import("./user.js")).USER,
    summary: [
      ["user add", "Adds a new user"],
      ["user delete", "Deletes a user"],
      ["user get", "Gets detailed information of a user"],
      ["user list", "Lists all users"],
      ["user passwd", "Changes password of user"],
      ["user grant-role", "Grants a role to a user"],
      ["user revoke-role", "Revokes a role from a user"],
    ],
  },
  { name: "make-mirror", load: async () => (await import("./mirror.js")).MAKE_MIRROR, summary: [["make-mirror", "Makes a mirror at the destination etcd cluster"]] },
  {
    name: "check",
    load: async () => (await import("./check.js")).CHECK,
    summary: [
      ["check perf", "Check the performance of the etcd cluster"],
      ["check datascale", "Check the memory usage of holding data for different workloads on a given server endpoint."],
    ],
  },
  { name: "lock", load: async () => (await import("./lock.js")).LOCK, summary: [["lock", "Acquires a named lock"]] },
  { name: "elect", load: async () => (await import("./lock.js")).ELECT, summary: [["elect", "Observes and participates in leader election"]] },
];
