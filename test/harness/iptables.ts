import { execFile, execFileSync } from "node:child_process";
import { findOnPath } from "./etcd-bin.js";
import { isAlive, pidNamespace } from "./proc.js";

/** One iptables rule, as the arguments that follow `-I <chain>` / `-D <chain>`. */
export interface IptablesRule {
  table: "filter" | "mangle";
  chain: string;
  spec: string[];
}

const SBIN = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];
const COMMENT_PREFIX = "etcd-ts:";

/** Path of the iptables binary, if there is one. */
export const iptablesBin: string | undefined = findOnPath("iptables", SBIN);

/** Path of the conntrack CLI, if there is one. */
export const conntrackBin: string | undefined = findOnPath("conntrack", SBIN);

/**
 * The comment every rule of ours carries: PID and PID namespace say whose rule it is (so a later run
 * can tell leftovers of a dead process from rules of a live one); the peer port says which member.
 */
export function ruleComment(peerPort: number): string {
  return `${COMMENT_PREFIX}${process.pid}:${peerPort}:${pidNamespace}`;
}

function args(op: "-I" | "-D", rule: IptablesRule): string[] {
  // -w: other engineers' runs change the ruleset concurrently; wait for the xtables lock, don't fail.
  return ["-w", "-t", rule.table, op, rule.chain, ...rule.spec];
}

/** Inserts `rule` at the top of its chain. */
export function insertRule(rule: IptablesRule): Promise<void> {
  const bin = iptablesBin;
  if (bin === undefined) return Promise.reject(new Error("iptables not found"));
  return new Promise((resolve, reject) => {
    execFile(bin, args("-I", rule), { timeout: 10_000 }, (err, _stdout, stderr) => {
      if (err === null) resolve();
      else reject(new Error(`iptables ${args("-I", rule).join(" ")} failed: ${stderr.trim() || err.message}`));
    });
  });
}

/** Deletes `rule`; returns false when it could not (usually because it is already gone). */
export function deleteRuleSync(rule: IptablesRule): boolean {
  if (iptablesBin === undefined) return false;
  try {
    execFileSync(iptablesBin, args("-D", rule), { stdio: "ignore", timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/** Splits one `iptables -S` line into arguments, honouring the double quotes around comments. */
function splitRuleLine(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) out.push(m[1]?.replace(/\\(.)/g, "$1") ?? m[2] ?? "");
  return out;
}

/** Lists the rules in `table` whose comment starts with `etcd-ts:`, with their comment. */
export function listOurRules(table: IptablesRule["table"]): { rule: IptablesRule; comment: string }[] {
  if (iptablesBin === undefined) return [];
  let text: string;
  try {
    text = execFileSync(iptablesBin, ["-w", "-t", table, "-S"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return [];
  }
  const found: { rule: IptablesRule; comment: string }[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("-A ") || !line.includes(COMMENT_PREFIX)) continue;
    const words = splitRuleLine(line);
    const comment = words[words.indexOf("--comment") + 1] ?? "";
    const chain = words[1];
    if (!comment.startsWith(COMMENT_PREFIX) || chain === undefined) continue;
    found.push({ rule: { table, chain, spec: words.slice(2) }, comment });
  }
  return found;
}

/**
 * Deletes rules left behind by harness processes that died without cleaning up (SIGKILL).
 * Only rules from our PID namespace whose owner PID is gone are touched.
 */
export function sweepStaleRules(): number {
  if (process.getuid?.() !== 0) return 0;
  let removed = 0;
  for (const table of ["filter", "mangle"] as const) {
    for (const { rule, comment } of listOurRules(table)) {
      const [, pid, , ns] = comment.split(":");
      if (ns !== undefined && ns !== pidNamespace) continue;
      if (pid === undefined || !/^\d+$/.test(pid) || isAlive(Number(pid))) continue;
      if (deleteRuleSync(rule)) removed++;
    }
  }
  return removed;
}

/** Deletes conntrack entries carrying `mark`, when the conntrack CLI exists; returns whether it ran. */
export function flushConntrackMark(mark: number): boolean {
  if (conntrackBin === undefined) return false;
  try {
    execFileSync(conntrackBin, ["-D", "--mark", String(mark)], { stdio: "ignore", timeout: 10_000 });
  } catch {
    // conntrack exits non-zero when nothing matched; that is fine.
  }
  return true;
}
