import { readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deleteRuleSync, sweepStaleRules, type IptablesRule } from "./iptables.js";
import { isAlive, pidNamespace } from "./proc.js";

/*
 * Everything the harness creates outside this process (member processes, iptables rules, temp
 * dirs) is recorded here, so that however this process ends, nothing of it survives:
 *  - normal exit, process.exit(), and a fatal uncaught exception all emit 'exit', where cleanup
 *    runs synchronously;
 *  - SIGINT/SIGTERM/SIGHUP would kill us without 'exit', so they are caught (see onSignal);
 *  - SIGKILL cannot be caught: members die by their parent-death signal (setpriv --pdeathsig), and
 *    rules and dirs are swept by the next process that loads the harness (sweepStale).
 * 'uncaughtException' is deliberately not hooked: node:test installs its own handler and keeps
 * running other tests, so killing every cluster there would break tests that did nothing wrong.
 */

const children = new Set<number>();
const dirs = new Set<string>();
const rules = new Map<string, IptablesRule>();
let hooked = false;

/** Temp-dir name prefix; PID namespace and PID let a later run recognise leftovers of a dead process. */
export const TEMP_PREFIX = `etcd-ts-${pidNamespace}-${process.pid}-`;

const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;

/** Kills every tracked member, deletes every tracked rule and temp dir, synchronously. */
export function cleanupSync(): void {
  for (const pid of children) {
    try {
      // SIGKILL also ends a SIGSTOPped member, which SIGTERM would not.
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  children.clear();
  for (const rule of rules.values()) deleteRuleSync(rule);
  rules.clear();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  dirs.clear();
}

function onSignal(signal: keyof typeof SIGNAL_EXIT_CODES): void {
  // A program with its own handler (the `npm run cluster` CLI, the node:test runner) decides how to
  // stop; it ends with process.exit, which still runs cleanupSync via 'exit'. Only when we are the
  // sole listener would the signal otherwise be swallowed, so we must exit ourselves.
  if (process.listenerCount(signal) > 1) return;
  cleanupSync();
  process.exit(SIGNAL_EXIT_CODES[signal]);
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", cleanupSync);
  for (const signal of Object.keys(SIGNAL_EXIT_CODES) as (keyof typeof SIGNAL_EXIT_CODES)[]) {
    process.on(signal, onSignal);
  }
}

/** Records a spawned member process so it is killed when this process ends. */
export function trackChild(pid: number): void {
  hook();
  children.add(pid);
}

/** Forgets a member process that has exited. */
export function untrackChild(pid: number): void {
  children.delete(pid);
}

/** Records a temp dir to remove when this process ends. */
export function trackDir(dir: string): void {
  hook();
  dirs.add(dir);
}

/** Forgets a temp dir that has been removed. */
export function untrackDir(dir: string): void {
  dirs.delete(dir);
}

/** Records an installed iptables rule so it is deleted when this process ends. */
export function trackRule(rule: IptablesRule): void {
  hook();
  rules.set(ruleKey(rule), rule);
}

/** Forgets an iptables rule that has been deleted. */
export function untrackRule(rule: IptablesRule): void {
  rules.delete(ruleKey(rule));
}

function ruleKey(rule: IptablesRule): string {
  return JSON.stringify(rule);
}

/** Removes temp dirs left by dead harness processes of this PID namespace; returns how many. */
function sweepStaleDirs(): number {
  const pattern = new RegExp(`^etcd-ts-${pidNamespace}-(\\d+)-`);
  let removed = 0;
  let names: string[];
  try {
    names = readdirSync(tmpdir());
  } catch {
    return 0;
  }
  for (const name of names) {
    const pid = pattern.exec(name)?.[1];
    if (pid === undefined || Number(pid) === process.pid || isAlive(Number(pid))) continue;
    try {
      rmSync(join(tmpdir(), name), { recursive: true, force: true });
      removed++;
    } catch {
      // Someone else's permissions or a concurrent sweep; leave it for the next run.
    }
  }
  return removed;
}

/**
 * Removes iptables rules and temp dirs left by harness processes that were SIGKILLed; runs once at
 * harness load, and tests may call it again. Never touches resources of a live process.
 */
export function sweepStale(): { rules: number; dirs: number } {
  try {
    return { rules: sweepStaleRules(), dirs: sweepStaleDirs() };
  } catch {
    // Best effort: a failed sweep must not stop tests from running.
    return { rules: 0, dirs: 0 };
  }
}

sweepStale();
