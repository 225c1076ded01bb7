/**
 * `run(argv, io)`: one `etcd-ts` invocation, from the words typed to the exit code. As etcdctl
 * does, `ETCDCTL_API` picks the command set: v3 unless it says 2. Each set is imported only
 * when chosen, so a v3 command never loads the v2 commands (or commander) and vice versa.
 */
import { VERSION } from "../version.js";
import type { CliIo } from "./shared/io.js";
import { API_VERSION, PROGRAM_NAME } from "./v3/names.js";

/** Runs one invocation (`argv` without the node and script paths) and resolves with its exit code. */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  // The migration has its own flags and two clusters, in both API modes; it is loaded only when asked for.
  if (argv[0] === "migrate") return (await import("./migrate.js")).runMigrate(argv.slice(1), io, io.isTerminal === true);
  const api = io.env["ETCDCTL_API"] ?? "";
  if (api === "2") return (await import("./v2/run.js")).run(argv, io);
  if (api === "" || api === "3") {
    // Answered before the v3 runner loads: scripts ask for it often, and it needs two constants
    // (the `version` command prints the same; with any other word or flag it goes the long way).
    if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "version")) {
      io.stdout(`${PROGRAM_NAME} version: ${VERSION}\nAPI version: ${API_VERSION}\n`);
      return 0;
    }
    return (await import("./v3/run.js")).run(argv, io);
  }
  // etcdctl 3.5's wording (3.4 prints the same without the colon).
  io.stderr(`unsupported API version: ${api}\n`);
  return 1;
}
