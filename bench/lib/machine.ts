/**
 * CPU accounting from /proc, so that a result taken while other work ran on this shared 2-core
 * machine can be recognised (and avoided: `waitQuiet`). Linux only; elsewhere the readers return
 * undefined and the benchmarks simply do not report foreign load.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { sleep } from "./stats.js";

const execFileAsync = promisify(execFile);

const TICK_S = 0.01; // USER_HZ is 100 on every Linux this runs on.

/** Busy CPU seconds of the whole machine since boot (everything but idle and iowait). */
export function machineBusy(): number | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return (total - (f[3] ?? 0) - (f[4] ?? 0)) * TICK_S;
  } catch {
    return undefined;
  }
}

/** User + system CPU seconds of process `pid` (its threads included), or undefined when gone. */
export function processCpu(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) * TICK_S;
  } catch {
    return undefined;
  }
}

/** This process's CPU seconds, all threads (GC helpers included). */
export function selfCpu(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** CPU spent between `start()` and `stop()`, split into ours, the servers' and everyone else's. */
export class CpuWindow {
  readonly #pids: readonly (number | undefined)[];
  #t0 = 0;
  #self0 = 0;
  #busy0: number | undefined;
  #server0: number | undefined;

  /** Watches this process and the given server processes. */
  constructor(serverPids: readonly (number | undefined)[]) {
    this.#pids = serverPids;
  }

  /** Starts the window. */
  start(): void {
    this.#t0 = performance.now();
    this.#self0 = selfCpu();
    this.#busy0 = machineBusy();
    this.#server0 = this.#serverCpu();
  }

  /** Ends the window: CPU seconds of this process and the servers, and foreign load in cores. */
  stop(): { seconds: number; self: number; server: number | undefined; foreignCores: number | undefined } {
    const seconds = (performance.now() - this.#t0) / 1000;
    const self = selfCpu() - this.#self0;
    const busy1 = machineBusy();
    const server1 = this.#serverCpu();
    const server = server1 === undefined || this.#server0 === undefined ? undefined : server1 - this.#server0;
    let foreignCores: number | undefined;
    if (busy1 !== undefined && this.#busy0 !== undefined && server !== undefined && seconds > 0) {
      foreignCores = Math.max(0, (busy1 - this.#busy0 - self - server) / seconds);
    }
    return { seconds, self, server, foreignCores };
  }

  #serverCpu(): number | undefined {
    let sum = 0;
    for (const pid of this.#pids) {
      const cpu = processCpu(pid);
      if (cpu === undefined) return undefined;
      sum += cpu;
    }
    return sum;
  }
}

/**
 * Waits until the rest of the machine uses less than `maxForeignCores` (other engineers' clusters
 * and tests share these 2 cores), for at most `maxWaitMs`; returns the last foreign load seen.
 */
export async function waitQuiet(serverPids: readonly (number | undefined)[], maxForeignCores: number, maxWaitMs: number): Promise<number | undefined> {
  const deadline = performance.now() + maxWaitMs;
  let foreign: number | undefined;
  do {
    const window = new CpuWindow(serverPids);
    window.start();
    await sleep(250);
    foreign = window.stop().foreignCores;
    if (foreign === undefined || foreign < maxForeignCores) return foreign;
  } while (performance.now() < deadline);
  return foreign;
}

/**
 * Runs a load generator (wrk, h2load) to completion: its stdout, its own CPU seconds (user +
 * system, from bash's `times` for its child) and the CPU window around it.
 */
export async function runMeasured(
  binary: string,
  args: readonly string[],
  timeoutMs: number,
  serverPids: readonly number[],
): Promise<{ stdout: string; cpuSeconds: number; used: ReturnType<CpuWindow["stop"]> }> {
  const cpu = new CpuWindow(serverPids);
  cpu.start();
  // bash's `times` prints its children's user and system time on its second (last) line.
  const { stdout } = await execFileAsync("bash", ["-c", `"$0" "$@" && times`, binary, ...args], { timeout: timeoutMs });
  const used = cpu.stop();
  const times = stdout.trim().split("\n").slice(-1)[0]?.split(/\s+/) ?? [];
  const cpuSeconds = times.map((t) => /^(\d+)m([\d.]+)s$/.exec(t)).reduce((sum, m) => sum + (m === null ? 0 : Number(m[1]) * 60 + Number(m[2])), 0);
  return { stdout, cpuSeconds, used };
}
