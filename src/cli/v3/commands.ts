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
 * Adding a command is adding its module and one line below, in any order (help sorts).
 */
import type { CommandSpec } from "./spec.js";

/** A top-level command and how to load it. */
export interface CommandEntry {
  /** The word typed (cobra also accepts a unique prefix of it). */
  readonly name: string;
  readonly load: () => Promise<CommandSpec>;
}

/** Every v3 command. */
export const COMMANDS: readonly CommandEntry[] = [
  { name: "get", load: async () => (await import("./kv.js")).GET },
  { name: "put", load: async () => (await import("./kv.js")).PUT },
  { name: "del", load: async () => (await import("./kv.js")).DEL },
  { name: "compaction", load: async () => (await import("./kv.js")).COMPACTION },
  { name: "txn", load: async () => (await import("./txn.js")).TXN },
  { name: "watch", load: async () => (await import("./watch.js")).WATCH },
  { name: "version", load: async () => (await import("./version.js")).VERSION_COMMAND },
  { name: "lease", load: async () => (await import("./lease.js")).LEASE },
  { name: "member", load: async () => (await import("./member.js")).MEMBER },
  { name: "endpoint", load: async () => (await import("./endpoint.js")).ENDPOINT },
  { name: "alarm", load: async () => (await import("./maintenance.js")).ALARM },
  { name: "defrag", load: async () => (await import("./maintenance.js")).DEFRAG },
  { name: "move-leader", load: async () => (await import("./maintenance.js")).MOVE_LEADER },
  { name: "snapshot", load: async () => (await import("./maintenance.js")).SNAPSHOT },
  { name: "auth", load: async () => (await import("./auth.js")).AUTH },
  { name: "role", load: async () => (await import("./auth.js")).ROLE },
  { name: "user", load: async () => (await import("./user.js")).USER },
  { name: "make-mirror", load: async () => (await import("./mirror.js")).MAKE_MIRROR },
  { name: "check", load: async () => (await import("./check.js")).CHECK },
  { name: "lock", load: async () => (await import("./lock.js")).LOCK },
  { name: "elect", load: async () => (await import("./lock.js")).ELECT },
];
