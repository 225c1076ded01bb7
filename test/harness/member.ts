import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { findOnPath } from "./etcd-bin.js";
import { request, type RequestTls } from "./http.js";
import { isolateMember } from "./partition.js";
import { sleep } from "./proc.js";
import { trackChild, untrackChild } from "./registry.js";

/** Error from starting a member; `code` is EADDRINUSE when a port was taken by someone else. */
export class MemberStartError extends Error {
  /** "EADDRINUSE" when the member lost a race for its port, otherwise "EMEMBERSTART". */
  readonly code: "EADDRINUSE" | "EMEMBERSTART";
  constructor(message: string, addressInUse: boolean) {
    super(message);
    this.name = "MemberStartError";
    this.code = addressInUse ? "EADDRINUSE" : "EMEMBERSTART";
  }
}

/** Everything needed to (re)start one member process. */
export interface MemberSpec {
  index: number;
  name: string;
  clientPort: number;
  peerPort: number;
  scheme: "http" | "https";
  /** The member's temp dir; holds data/, etcd.log and etcd.stderr. */
  dir: string;
  /** Full etcd argument list. */
  args: string[];
  /** Dedicated gid the member runs with (root only); what partition rules match on. */
  gid: number | undefined;
  /** TLS material the harness uses for its own health checks. */
  tls: RequestTls | undefined;
  etcd: string;
}

const setprivBin = findOnPath("setpriv", ["/usr/bin", "/bin"]);

/** Scheduler state letter of every thread of `pid` (empty when /proc is unavailable). */
function threadStates(pid: number): string[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map((tid) => {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      return stat.charAt(stat.lastIndexOf(")") + 2);
    });
  } catch {
    return [];
  }
}

/** One etcd member process that tests can kill, pause, stop, restart and isolate. */
export class Member {
  readonly index: number;
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dir: string;
  readonly dataDir: string;
  readonly logPath: string;
  readonly #spec: MemberSpec;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #paused = false;
  #heal: (() => void) | undefined;

  constructor(spec: MemberSpec) {
    this.#spec = spec;
    this.index = spec.index;
    this.name = spec.name;
    this.clientUrl = `${spec.scheme}://127.0.0.1:${spec.clientPort}`;
    this.peerUrl = `http://127.0.0.1:${spec.peerPort}`;
    this.dir = spec.dir;
    this.dataDir = join(spec.dir, "data");
    this.logPath = join(spec.dir, "etcd.log");
  }

  /** PID of the running member, if any. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** True from spawn until the process has exited (also while paused). */
  get running(): boolean {
    return this.#child !== undefined;
  }

  /** True between pause() and resume(). */
  get paused(): boolean {
    return this.#paused;
  }

  /** True between isolate() and heal(). */
  get isolated(): boolean {
    return this.#heal !== undefined;
  }

  /** Spawns the process without waiting for it to become healthy; used to start members together. */
  spawn(): void {
    if (this.#child !== undefined) throw new Error(`member ${this.name} is already running`);
    const { etcd, args, gid } = this.#spec;
    // setpriv makes the kernel SIGKILL the member when this process dies, even by SIGKILL, which no
    // handler in this process could catch. The gid is what the partition rules match on.
    const gidArgs = gid === undefined ? [] : ["--regid", String(gid), "--clear-groups"];
    const [cmd, argv] = setprivBin === undefined
      ? [etcd, args]
      : [setprivBin, ["--pdeathsig", "KILL", ...gidArgs, "--", etcd, ...args]];
    // stdout/stderr go to a file: tests stay quiet, and flag errors printed before etcd's logger
    // exists are still there for the start-failure message.
    const out = openSync(join(this.dir, "etcd.stderr"), "a");
    let child: ChildProcess;
    try {
      child = spawn(cmd, argv, { stdio: ["ignore", out, out] });
    } finally {
      closeSync(out);
    }
    this.#track(child);
  }

  #track(child: ChildProcess): void {
    this.#child = child;
    // Unref'd so a test that forgets stop() still lets the process exit (the exit hook kills us).
    child.unref();
    const pid = child.pid;
    if (pid !== undefined) trackChild(pid);
    this.#exited = new Promise((resolve) => {
      const done = (): void => {
        if (pid !== undefined) untrackChild(pid);
        if (this.#child === child) {
          this.#child = undefined;
          this.#paused = false;
        }
        resolve();
      };
      child.once("exit", done);
      child.once("error", done);
    });
  }

  /** Resolves true once the process has exited, false if `ms` passed first. */
  async #waitExit(ms: number): Promise<boolean> {
    if (this.#child === undefined) return true;
    let timer: NodeJS.Timeout | undefined;
    // The timer is deliberately ref'd: the child is unref'd, so without it Node could exit mid-wait.
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(resolve, ms, false)));
    const exited = await Promise.race([this.#exited.then(() => true), timeout]);
    clearTimeout(timer);
    return exited;
  }

  #signal(signal: NodeJS.Signals): void {
    const pid = this.pid;
    if (pid === undefined) throw new Error(`member ${this.name} is not running`);
    process.kill(pid, signal);
  }

  /** Starts the member (same data dir and ports as before) and resolves once its /health is 200. */
  async start(timeoutMs = 15_000): Promise<void> {
    this.spawn();
    await this.waitHealthy(timeoutMs);
  }

  /** SIGKILLs the member and resolves once it has exited. */
  async kill(): Promise<void> {
    if (this.#child === undefined) return;
    this.#signal("SIGKILL");
    if (!(await this.#waitExit(10_000))) throw new Error(`member ${this.name} survived SIGKILL for 10 s`);
  }

  /**
   * Freezes the member with SIGSTOP (its sockets stay open but nothing answers) and resolves once
   * every thread has stopped.
   */
  async pause(): Promise<void> {
    this.#signal("SIGSTOP");
    this.#paused = true;
    // kill() returns once the signal is queued, but each of etcd's threads stops only when it next
    // enters the kernel. On this loaded VM a "paused" member once answered a request sent right
    // after kill(); waiting until every thread shows state T closes that window.
    await this.#waitThreads(true);
  }

  /** Thaws a paused member with SIGCONT and resolves once it is running again. */
  async resume(): Promise<void> {
    this.#signal("SIGCONT");
    this.#paused = false;
    await this.#waitThreads(false);
  }

  async #waitThreads(stopped: boolean): Promise<void> {
    const pid = this.pid;
    const deadline = Date.now() + 2_000;
    while (pid !== undefined && Date.now() < deadline) {
      const states = threadStates(pid);
      if (states.length === 0 || states.every((s) => (s === "T" || s === "t") === stopped)) return;
      await sleep(5);
    }
  }

  /** Stops the member gracefully (SIGTERM), escalating to SIGKILL after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.#child === undefined) return;
    // A stopped process cannot act on SIGTERM until it is continued.
    if (this.#paused) await this.resume();
    this.#signal("SIGTERM");
    if (await this.#waitExit(graceMs)) return;
    await this.kill();
  }

  /** Stops the member if it is running, starts it again, and resolves once its /health is 200. */
  async restart(timeoutMs = 15_000): Promise<void> {
    await this.stop();
    await this.start(timeoutMs);
  }

  /** Cuts the member off from its peers in both directions; its client port stays reachable. */
  async isolate(): Promise<void> {
    if (this.#heal !== undefined) return;
    this.#heal = await isolateMember({ gid: this.#spec.gid, clientPort: this.#spec.clientPort, peerPort: this.#spec.peerPort });
  }

  /** Removes exactly the rules isolate() added; a no-op when not isolated. */
  heal(): void {
    const heal = this.#heal;
    this.#heal = undefined;
    heal?.();
  }

  /** One /health probe: true when it answers 200 with health "true" within `timeoutMs`. */
  async healthy(timeoutMs = 1_000): Promise<boolean> {
    try {
      const res = await request(`${this.clientUrl}/health`, { timeoutMs, tls: this.#spec.tls });
      return res.status === 200 && (JSON.parse(res.body) as { health?: unknown }).health === "true";
    } catch {
      return false;
    }
  }

  /** Polls /health until it is 200; fails early, with the log tail, if the process exits. */
  async waitHealthy(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let healthy = false;
    let onHealthy = (): void => undefined;
    const becameHealthy = new Promise<void>((resolve) => (onHealthy = resolve));
    // Probes overlap instead of running back to back: until the leader has committed an entry etcd
    // holds /health for up to 1 s (its internal QGET timeout) before answering 503, so a sequential
    // poll that starts a probe just before the cluster is ready would report it a second late.
    while (!healthy) {
      if (this.#child === undefined) throw this.#startError("exited before becoming healthy");
      if (Date.now() >= deadline) throw this.#startError(`was not healthy after ${timeoutMs} ms`);
      void this.healthy(1_500).then((ok) => {
        if (!ok) return;
        healthy = true;
        onHealthy();
      });
      await Promise.race([becameHealthy, sleep(150)]);
    }
  }

  /** The last `lines` lines of the member's log and stderr, for error messages. */
  logTail(lines = 15): string {
    const read = (file: string): string => {
      try {
        return readFileSync(join(this.dir, file), "utf8").trimEnd().split("\n").slice(-lines).join("\n");
      } catch {
        return "";
      }
    };
    return [read("etcd.stderr"), read("etcd.log")].filter((s) => s !== "").join("\n");
  }

  #startError(what: string): MemberStartError {
    const tail = this.logTail();
    return new MemberStartError(
      `etcd member ${this.name} (${this.clientUrl}) ${what}; log ${this.logPath}:\n${tail || "(empty)"}`,
      tail.includes("address already in use"),
    );
  }
}
