import { spawnSync } from "node:child_process";
import { findOnPath } from "./etcd-bin.js";
import { deleteRuleSync, flushConntrackMark, insertRule, iptablesBin, ruleComment, type IptablesRule } from "./iptables.js";
import { trackRule, untrackRule } from "./registry.js";

/** Error thrown by isolate() where network partitions cannot be simulated; `code` is EPARTITION_UNSUPPORTED. */
export class PartitionUnsupportedError extends Error {
  /** Always "EPARTITION_UNSUPPORTED". */
  readonly code = "EPARTITION_UNSUPPORTED";
  constructor(why: string) {
    super(`network partitions are not supported here: ${why}`);
    this.name = "PartitionUnsupportedError";
  }
}

/** Whether partitions can be simulated; `why` explains a `false`, ready for `t.skip(why)`. */
export interface PartitionSupport {
  ok: boolean;
  why?: string;
}

let cached: PartitionSupport | undefined;

function probe(): PartitionSupport {
  if (process.platform !== "linux") return { ok: false, why: "partitions use Linux iptables" };
  if (process.getuid?.() !== 0) return { ok: false, why: "partitions need root (iptables rules and per-member gids)" };
  if (iptablesBin === undefined) return { ok: false, why: "iptables is not installed" };
  if (findOnPath("setpriv", ["/usr/bin", "/bin"]) === undefined) {
    return { ok: false, why: "setpriv (util-linux) is not installed; members need their own gid" };
  }
  // -C parses the rule (loading the owner/connmark/CONNMARK extensions) without changing anything:
  // exit 1 means "valid rule, not present", exit 2+ means the kernel or binary cannot do it.
  const check = spawnSync(iptablesBin, ["-w", "-t", "mangle", "-C", "OUTPUT", "-o", "lo", "-p", "tcp",
    "-m", "owner", "--gid-owner", "1", "-m", "multiport", "!", "--ports", "1", "-m", "connmark", "--mark", "1", "-j", "CONNMARK", "--set-mark", "1"],
  { encoding: "utf8", timeout: 10_000 });
  if (check.status === 0 || check.status === 1) return { ok: true };
  return { ok: false, why: `iptables cannot load owner/multiport/connmark rules: ${(check.stderr || String(check.error)).trim()}` };
}

/** Reports whether isolate() can work on this machine (root, iptables with owner/connmark, setpriv). */
export function partitionSupport(): PartitionSupport {
  cached ??= probe();
  return cached;
}

/** What isolation needs to know about a member. */
export interface PartitionTarget {
  gid: number | undefined;
  clientPort: number;
  peerPort: number;
}

/**
 * The rules that cut one member off from its peers while its client port stays reachable.
 *
 * Matching on the member's gid alone is not enough: etcd peers stream raft messages over
 * connections the *receiver* dialed, so a peer's packets to the isolated member travel on a
 * connection whose packets the peer sends (gid of the peer, source port = peer's peer port). The
 * connmark rule labels every connection the isolated member sends a packet on (including its ACKs
 * for such streams), and the filter rule then drops that connection's packets in both directions.
 * All members share loopback, so OUTPUT is the only hook every packet passes through.
 */
export function isolationRules(t: PartitionTarget & { gid: number }): { rules: IptablesRule[]; mark: number } {
  const mark = t.peerPort;
  const tag = ["-m", "comment", "--comment", ruleComment(t.peerPort)];
  // "Neither port is the client port", as one multiport match rather than `! --sport C ! --dport C`:
  // iptables-nft 1.8.9 merges that pair into a single 4-byte compare of (sport, dport) != (C, C),
  // which then matches the member's replies from its client port and cut clients off too
  // (observed here with `nft monitor trace`). multiport stays an xtables match, evaluated as written.
  const notClient = ["-m", "multiport", "!", "--ports", String(t.clientPort)];
  const owner = ["-o", "lo", "-p", "tcp", "-m", "owner", "--gid-owner", String(t.gid), ...notClient];
  const rules: IptablesRule[] = [
    { table: "mangle", chain: "OUTPUT", spec: [...owner, ...tag, "-j", "CONNMARK", "--set-mark", String(mark)] },
    { table: "filter", chain: "OUTPUT", spec: ["-o", "lo", "-p", "tcp", "--dport", String(t.peerPort), ...tag, "-j", "DROP"] },
    { table: "filter", chain: "OUTPUT", spec: ["-o", "lo", "-p", "tcp", "-m", "connmark", "--mark", String(mark), ...tag, "-j", "DROP"] },
    { table: "filter", chain: "OUTPUT", spec: [...owner, ...tag, "-j", "DROP"] },
  ];
  return { rules, mark };
}

/** Installs the isolation rules for `t`; returns a function that removes exactly those rules. */
export async function isolateMember(t: PartitionTarget): Promise<() => void> {
  const support = partitionSupport();
  if (!support.ok) throw new PartitionUnsupportedError(support.why ?? "unknown reason");
  const gid = t.gid;
  if (gid === undefined) throw new PartitionUnsupportedError("this member was started without its own gid");
  const { rules, mark } = isolationRules({ ...t, gid });
  const installed: IptablesRule[] = [];
  const heal = (): void => {
    for (const rule of installed.splice(0)) {
      deleteRuleSync(rule);
      untrackRule(rule);
    }
    // Established connections keep their mark in conntrack; with the DROP rule gone the mark is
    // harmless, but clearing it (when the CLI exists) leaves no trace of the partition at all.
    flushConntrackMark(mark);
  };
  try {
    for (const rule of rules) {
      trackRule(rule);
      installed.push(rule);
      await insertRule(rule);
    }
  } catch (err) {
    heal();
    throw err;
  }
  return heal;
}
