/**
 * What the CLI tests share: running `ETCDCTL_API=2 etcdctl` and `etcd-ts` (in-process through
 * `run`, or as a real process) with captured output, and the normalisation that lets the two
 * be compared when they worked on different keys at different indexes.
 */
import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import type { Writable } from "node:stream";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { run } from "../../src/cli/run.js";
import type { CliIo } from "../../src/cli/shared/io.js";
import { CLI_BIN, oursCommand, runBin, runProgram } from "./cli-bin.js";

/** What one command printed and how it ended. */
export interface Outcome {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

/** How to run one command. */
export interface RunOptions {
  /** Sent on standard input. */
  readonly stdin?: string;
  /** The environment (ours sees only this; etcdctl sees it on top of a minimal PATH/HOME). */
  readonly env?: Readonly<Record<string, string>>;
  /** Aborting it is Ctrl-C. */
  readonly interrupt?: AbortSignal;
}

/** The etcdctl binary (Debian's etcd-client package), or undefined when it is not installed. */
export const ETCDCTL: string | undefined = [...(process.env["PATH"] ?? "").split(delimiter), "/usr/bin"]
  .filter((dir) => dir !== "")
  .map((dir) => join(dir, "etcdctl"))
  .find((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });

/** Why the comparison tests are skipped, or false when they can run. */
export const NO_ETCDCTL: string | false = ETCDCTL === undefined ? "etcdctl is not installed (apt-get install etcd-client); skipping the comparison with it" : false;

const REPO = fileURLToPath(new URL("../..", import.meta.url));

function baseEnv(env: Readonly<Record<string, string>> | undefined): NodeJS.ProcessEnv {
  return { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: process.env["HOME"] ?? "/tmp", ETCDCTL_API: "2", ...env };
}

/** Sends `text` (or nothing) and closes stdin; a child that exits without reading it is fine. */
function writeStdin(stdin: Writable | null, text: string | undefined): void {
  stdin?.on("error", () => undefined);
  stdin?.end(text);
}

/** Runs etcdctl v2 to completion. */
export function runEtcdctl(args: readonly string[], options: RunOptions = {}): Promise<Outcome> {
  if (ETCDCTL === undefined) return Promise.reject(new Error("etcdctl is not installed"));
  return runProgram(ETCDCTL, args, baseEnv(options.env), options.stdin, 30_000);
}

/** Runs etcd-ts in this process through `run`, with captured output. */
export async function runOurs(args: readonly string[], options: RunOptions = {}): Promise<Outcome> {
  if (CLI_BIN !== undefined) return runBin(args, { ETCDCTL_API: "2", ...options.env }, { stdin: options.stdin, interrupt: options.interrupt });
  let stdout = "";
  let stderr = "";
  const stdin = options.stdin ?? "";
  const io: CliIo = {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    env: { ETCDCTL_API: "2", ...options.env },
    readStdin: () => Promise.resolve(stdin),
    readSecret: () => Promise.resolve(stdin.split("\n")[0] ?? ""),
    trapInterrupt: () => options.interrupt ?? new AbortController().signal,
  };
  const code = await run(args, io);
  return { stdout, stderr, code };
}

/** Runs etcd-ts as a real process, the way users do (`node --import tsx src/cli/main.ts`). */
export function runOursProcess(args: readonly string[], options: RunOptions = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...oursCommand(), ...args], { cwd: REPO, env: { ...baseEnv(options.env) } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    writeStdin(child.stdin, options.stdin);
    child.on("close", (code) => {
      resolve({ stdout, stderr, code: code ?? 1 });
    });
  });
}

/** A long-running etcdctl (watch --forever, exec-watch), stopped with Ctrl-C once it printed enough. */
export async function runEtcdctlUntil(args: readonly string[], done: (stdout: string) => boolean, timeoutMs = 10_000): Promise<Outcome> {
  if (ETCDCTL === undefined) throw new Error("etcdctl is not installed");
  const child = spawn(ETCDCTL, [...args], { env: baseEnv(undefined) });
  let stdout = "";
  let stderr = "";
  const closed = new Promise<number>((resolve) => {
    child.on("close", (code) => {
      resolve(code ?? 1);
    });
  });
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      if (done(stdout)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.kill("SIGINT");
  const code = await closed;
  return { stdout, stderr, code };
}

/** Our long-running command, interrupted once it printed enough. */
export async function runOursUntil(args: readonly string[], done: (stdout: string) => boolean, timeoutMs = 10_000): Promise<Outcome> {
  const interrupt = new AbortController();
  if (CLI_BIN !== undefined) {
    const timer = setTimeout(() => {
      interrupt.abort();
    }, timeoutMs);
    const outcome = await runBin(args, { ETCDCTL_API: "2" }, { interrupt: interrupt.signal, until: done });
    clearTimeout(timer);
    return outcome;
  }
  let stdout = "";
  let stderr = "";
  const timer = setTimeout(() => {
    interrupt.abort();
  }, timeoutMs);
  const io: CliIo = {
    stdout: (text) => {
      stdout += text;
      if (done(stdout)) interrupt.abort();
    },
    stderr: (text) => (stderr += text),
    env: { ETCDCTL_API: "2" },
    readStdin: () => Promise.resolve(""),
    readSecret: () => Promise.resolve(""),
    trapInterrupt: () => interrupt.signal,
  };
  const code = await run(args, io);
  clearTimeout(timer);
  return { stdout, stderr, code };
}

/**
 * Makes two runs comparable: each side's own names become placeholders, and the numbers that
 * depend on when a command ran (indexes, TTLs, expirations, in-order key names) become N.
 */
export function normalize(outcome: Outcome, names: Readonly<Record<string, string>>): Outcome {
  const text = (s: string): string => {
    let out = s;
    // Longest first, so a name that contains another is replaced whole.
    for (const [from, to] of Object.entries(names).sort((a, b) => b[0].length - a[0].length)) out = out.split(from).join(to);
    return out
      .replace(/^(Created-Index|Modified-Index|Index|TTL): \d+$/gm, "$1: N")
      .replace(/"(createdIndex|modifiedIndex|ttl)":\d+/g, '"$1":N')
      .replace(/"expiration":"[^"]*"/g, '"expiration":"E"')
      .replace(/\[\d+\]$/gm, "[N]")
      .replace(/\[(\d+) != \d+\]/g, "[$1 != N]")
      .replace(/\/\d{20}\b/g, "/ORDERED");
  };
  return { stdout: text(outcome.stdout), stderr: text(outcome.stderr), code: outcome.code };
}
