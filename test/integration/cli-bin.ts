/**
 * Which etcd-ts the CLI suites run. By default the sources: in-process through `run`, or as a
 * process with `node --import tsx src/cli/main.ts`. With `ETCD_TS_CLI=dist` (after `npm run
 * build`) every such run spawns the built bin instead, dist/esm/cli/main.js, the bundle npm
 * installs, so the same suites prove the bundle behaves as the sources do. `ETCD_TS_CLI` may
 * also name another built main.js.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("../..", import.meta.url));

/** The built bin the suites run, or undefined to run the sources. */
export const CLI_BIN: string | undefined = ((): string | undefined => {
  const chosen = process.env["ETCD_TS_CLI"];
  if (chosen === undefined || chosen === "" || chosen === "src") return undefined;
  const path = chosen === "dist" ? join(REPO, "dist/esm/cli/main.js") : isAbsolute(chosen) ? chosen : join(REPO, chosen);
  if (!existsSync(path)) throw new Error(`ETCD_TS_CLI: ${path} does not exist (run npm run build)`);
  return path;
})();

/** The node arguments that start etcd-ts as a process: the built bin, or the sources through tsx. */
export function oursCommand(): string[] {
  return CLI_BIN === undefined ? ["--import", "tsx", join(REPO, "src/cli/main.ts")] : [CLI_BIN];
}

/** What a run of the bin printed (stdout decoded as UTF-8, as execFile decodes etcdctl's) and its exit code. */
export interface BinOutcome {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

/** How to run the bin once. */
export interface BinOptions {
  /** Sent on stdin, which is then closed. */
  readonly stdin?: string | undefined;
  /** Aborting it is Ctrl-C (SIGINT), as the in-process runs' trapInterrupt. */
  readonly interrupt?: AbortSignal | undefined;
  /** Ctrl-C once stdout satisfies it (a long-running command that printed enough). */
  readonly until?: (stdout: string) => boolean;
}

/** Runs the built bin to completion, with `env` on top of PATH and HOME. */
export function runBin(args: readonly string[], env: Readonly<Record<string, string>>, options: BinOptions = {}): Promise<BinOutcome> {
  if (CLI_BIN === undefined) return Promise.reject(new Error("runBin needs ETCD_TS_CLI"));
  const child = spawn(process.execPath, [CLI_BIN, ...args], { cwd: REPO, env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: process.env["HOME"] ?? "/tmp", ...env } });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const interrupt = (): void => {
    child.kill("SIGINT");
  };
  child.stdout.on("data", (chunk: Buffer) => {
    out.push(chunk);
    if (options.until?.(Buffer.concat(out).toString("utf8")) === true) interrupt();
  });
  child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
  child.stdin.on("error", () => undefined);
  child.stdin.end(options.stdin ?? "");
  options.interrupt?.addEventListener("abort", interrupt, { once: true });
  return new Promise((resolve) => {
    child.on("close", (code, signal) => {
      options.interrupt?.removeEventListener("abort", interrupt);
      const exit = code ?? (signal === "SIGINT" ? 130 : 137);
      resolve({ stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), code: exit });
    });
  });
}

/**
 * Runs another program (Go's etcdctl) to completion with `env` as its whole environment and
 * `stdin` sent then closed (a program that exits without reading it is fine).
 */
export function runProgram(file: string, args: readonly string[], env: NodeJS.ProcessEnv, stdin: string | undefined, timeoutMs: number): Promise<BinOutcome> {
  return new Promise((resolve) => {
    const child = execFile(file, [...args], { env, timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
      resolve({ stdout, stderr, code });
    });
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(stdin);
  });
}
