/**
 * What the lock and election tests share: the etcdctl v3 binaries to check interop against
 * (Debian's 3.4 and, when fetched, 3.5), a long-running `etcdctl lock`/`elect` whose output lines
 * can be awaited and which Ctrl-C stops (it then unlocks or resigns), and small timing helpers.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants } from "node:fs";

/** Each etcdctl v3 available here, by version label. */
export const ETCDCTLS: readonly { readonly label: string; readonly path: string }[] = [
  { label: "3.4", path: "/usr/bin/etcdctl" },
  { label: "3.5", path: "/var/cache/etcd-ts/etcd-3.5/root/usr/bin/etcdctl" },
].filter(({ path }) => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
});

/** A background etcdctl v3 command. */
export class Etcdctl {
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  readonly #child: ChildProcess;
  #partial = "";
  #stderr = "";
  #waiters: { test: (line: string) => boolean; resolve: (line: string) => void }[] = [];

  constructor(binary: string, endpoints: readonly string[], args: readonly string[]) {
    this.#child = spawn(binary, [`--endpoints=${endpoints.join(",")}`, ...args], {
      env: { PATH: "/usr/bin:/bin", HOME: process.env["HOME"] ?? "/tmp", ETCDCTL_API: "3" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.#child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      this.#onData(chunk);
    });
    this.#child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (this.#stderr += chunk));
    this.exited = new Promise((resolve) => this.#child.on("exit", (code) => {
      resolve(code);
    }));
  }

  /** What it wrote to stderr so far. */
  get stderr(): string {
    return this.#stderr;
  }

  /** Resolves with the first output line (past or future) that passes `test`; rejects after `ms`. */
  line(test: (line: string) => boolean, ms = 20_000): Promise<string> {
    const found = this.lines.find(test);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`etcdctl printed no matching line within ${ms} ms; stdout: ${JSON.stringify(this.lines)}, stderr: ${this.#stderr}`));
      }, ms);
      this.#waiters.push({ test, resolve: (line) => {
        clearTimeout(timer);
        resolve(line);
      } });
    });
  }

  /** Ctrl-C (etcdctl then unlocks or resigns) and waits for the exit. */
  async interrupt(): Promise<number | null> {
    this.#child.kill("SIGINT");
    return this.exited;
  }

  /** SIGKILL by PID, for cleanup after a failure. */
  kill(): void {
    if (this.#child.exitCode === null) this.#child.kill("SIGKILL");
  }

  #onData(chunk: string): void {
    this.#partial += chunk;
    const parts = this.#partial.split("\n");
    this.#partial = parts.pop() ?? "";
    for (const line of parts) {
      this.lines.push(line);
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.test(line)) return true;
        w.resolve(line);
        return false;
      });
    }
  }
}

/** Resolves with the promise's value, or "pending" if it has not settled within `ms`. */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | "pending"> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"pending">((resolve) => {
    timer = setTimeout(() => {
      resolve("pending");
    }, ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The performance.now() time at which `signal` aborts (resolves at once if it already has... with -1). */
export function abortTime(signal: AbortSignal): Promise<number> {
  if (signal.aborted) return Promise.resolve(-1);
  return new Promise((resolve) => {
    signal.addEventListener("abort", () => {
      resolve(performance.now());
    }, { once: true });
  });
}

/** Resolves once `signal` has aborted. */
export function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    signal.addEventListener("abort", () => {
      resolve();
    }, { once: true });
  });
}
