/**
 * What the v3 admin compatibility suites share: `ETCDCTL_API=3 etcdctl` of the etcd under test
 * (3.5's beside ETCD_BIN when that is set, else Debian's 3.4), etcd-ts run in-process, and the
 * masking of what must differ between two runs (IDs, revisions, raft indexes, timings, sizes,
 * hashes, and etcdctl's zap log lines on stderr, which are its gRPC client's retry noise).
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { run } from "../../src/cli/run.js";
import type { CliIo } from "../../src/cli/shared/io.js";
import { etcdBin } from "../harness/index.js";
import { CLI_BIN, runBin } from "./cli-bin.js";
import type { Outcome } from "./cli-kit.js";

/** The etcdctl that matches the server under test. */
export function etcdctl3(): string {
  const sibling = join(dirname(etcdBin()), "etcdctl");
  return existsSync(sibling) ? sibling : "/usr/bin/etcdctl";
}

/** "3.4" or "3.5": the etcdctl (and etcd) version under test, from the binary's path. */
export function version(): "3.4" | "3.5" {
  return etcdctl3().includes("etcd-3.5") ? "3.5" : "3.4";
}

/** Runs `ETCDCTL_API=3 etcdctl args` to completion. */
export function etcdctl(args: readonly string[], stdin?: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = execFile(etcdctl3(), [...args], { env: { PATH: "/usr/bin:/bin", HOME: "/tmp", ETCDCTL_API: "3" }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ stdout, stderr, code: error === null ? 0 : typeof error.code === "number" ? error.code : 1 });
    });
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(stdin);
  });
}

/** Runs etcd-ts's v3 command set in this process, stdin given as text. */
export async function ours(args: readonly string[], stdin = ""): Promise<Outcome> {
  if (CLI_BIN !== undefined) return runBin(args, { ETCDCTL_API: "3" }, { stdin });
  let stdout = "";
  let stderr = "";
  const lines = stdin.split("\n");
  const io: CliIo = {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    env: { ETCDCTL_API: "3" },
    readStdin: () => Promise.resolve(stdin),
    readSecret: () => Promise.resolve(lines.shift() ?? ""),
    trapInterrupt: () => new AbortController().signal,
  };
  const code = await run(args, io);
  return { stdout, stderr, code };
}

/** How to make two outcomes comparable. */
export interface Mask {
  /** Each side's own names, replaced by placeholders (longest first). */
  readonly names?: Readonly<Record<string, string>>;
  /** Compare the lines in sorted order (results listed as they arrive). */
  readonly sort?: boolean;
  /** Collapse table padding (a column whose width follows a timing). */
  readonly loose?: boolean;
}

const MASKS: readonly [RegExp, string][] = [
  // Header and status numbers that follow the cluster's history (3.5's --hex JSON has IDs as hex strings).
  [/"(cluster_id|member_id|ID)":"[0-9a-f]+"/g, '"$1":"X"'],
  [/"(cluster_id|member_id|revision|raft_term|raftIndex|raftTerm|raftAppliedIndex|dbSize|dbSizeInUse|leader|ID|id|memberID|hash|authRevision|ttl|TTL)":"?-?\d+"?/g, '"$1":N'],
  [/"(ClusterID|MemberID|Revision|RaftTerm|RaftIndex|RaftAppliedIndex|DBSize|Leader|ID|Hash|TTL)" : \d+/g, '"$1" : N'],
  [/"Took" : \S+/g, '"Took" : T'],
  [/"took":"[^"]*"/g, '"took":"T"'],
  [/took = \S+/g, "took = T"],
  [/\b\d+(\.\d+)?(ns|µs|ms|s)\b/g, "T"],
  [/\b\d+(\.\d)? (B|kB|MB|GB)\b/g, "SIZE"],
  [/remaining\(\d+s\)/g, "remaining(Ns)"],
  [/AuthRevision: \d+/g, "AuthRevision: N"],
  // `%16x` pads a shorter member or cluster ID with spaces.
  [/(Member|cluster) +[0-9a-f]{12,16}\b/g, "$1 X"],
  // Member and lease IDs in hex (member IDs may be shorter than 16 digits), and big decimals.
  [/\b[0-9a-f]{12,16}\b/g, "X"],
  [/\b\d{9,}\b/g, "N"],
  // endpoint status rows: raft term, index and applied index.
  [/, (true|false), (true|false), \d+, \d+, \d+, /g, ", $1, $2, N, N, N, "],
  [/\| +\d+ \| +\d+ \| +\d+ \|/g, "| N | N | N |"],
];

/** The outcome with what must differ masked. */
export function masked(outcome: Outcome, mask: Mask = {}): Outcome {
  const text = (s: string, isErr: boolean): string => {
    let out = s;
    for (const [from, to] of Object.entries(mask.names ?? {}).sort((a, b) => b[0].length - a[0].length)) out = out.split(from).join(to);
    if (isErr) out = out.split("\n").filter((line) => !line.startsWith('{"level":')).join("\n");
    for (const [re, to] of MASKS) out = out.replace(re, to);
    if (mask.loose === true) out = out.replace(/-{2,}/g, "-").replace(/ {2,}/g, " ");
    if (mask.sort === true) {
      // A JSON array of results listed as they arrived: its elements in sorted order.
      out = out.replace(/^\[\{(.*)\}\]$/gm, (_, inner: string) => `[{${inner.split("},{").sort().join("},{")}}]`);
      out = out.split("\n").sort().join("\n");
    }
    return out;
  };
  return { stdout: text(outcome.stdout, false), stderr: text(outcome.stderr, true), code: outcome.code };
}
