import { existsSync, readFileSync, readlinkSync } from "node:fs";

/**
 * True when `pid` names a live process. `kill(pid, 0)` alone is not enough: PID 1 in some
 * containers reaps orphans lazily, so a killed member can linger as a zombie that still "exists".
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM means the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    // Without /proc, kill(pid, 0) is all we have; with it, the process vanished between the checks.
    return !existsSync("/proc/self");
  }
}

/**
 * Identifies this process's PID namespace, so that resource names tagged with a PID are only
 * judged stale by processes that see the same PID numbering.
 */
export const pidNamespace: string = (() => {
  try {
    return /\[(\d+)\]/.exec(readlinkSync("/proc/self/ns/pid"))?.[1] ?? "0";
  } catch {
    return "0";
  }
})();

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
