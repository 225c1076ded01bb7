/**
 * What the v3 CLI tests share: `ETCDCTL_API=3 etcdctl` (the one matching the server under test)
 * and etcd-ts (in-process through `run`, or as a real process) run with captured output, and the
 * normalisation that lets two runs be compared when they worked on different keys at different
 * revisions: each side's key prefix becomes {K}, also inside base64 keys and values of -w json,
 * revisions become N, and etcdctl's own name and its client-side zap warnings are set aside.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Writable } from "node:stream";
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
  readonly stdin?: string;
  /** `start` only: leave stdin open after `stdin` so that `write` can send more lines. */
  readonly keepStdinOpen?: boolean;
  readonly env?: Readonly<Record<string, string>>;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The etcdctl to compare with: $ETCDCTL_BIN, else the etcdctl beside $ETCD_BIN (so the 3.5
 * server is compared with the 3.5 etcdctl), else Debian's /usr/bin/etcdctl.
 */
export const ETCDCTL: string | undefined = ((): string | undefined => {
  const explicit = process.env["ETCDCTL_BIN"];
  if (explicit !== undefined && explicit !== "") return executable(explicit) ? explicit : undefined;
  const etcd = process.env["ETCD_BIN"];
  if (etcd !== undefined && etcd !== "" && executable(join(dirname(etcd), "etcdctl"))) return join(dirname(etcd), "etcdctl");
  return executable("/usr/bin/etcdctl") ? "/usr/bin/etcdctl" : undefined;
})();

/** Why the comparison tests are skipped, or false when they can run. */
export const NO_ETCDCTL: string | false = ETCDCTL === undefined ? "no etcdctl (install etcd-client or set ETCDCTL_BIN); skipping the comparison" : false;

const REPO = fileURLToPath(new URL("../..", import.meta.url));

function baseEnv(env: Readonly<Record<string, string>> | undefined): NodeJS.ProcessEnv {
  return { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: process.env["HOME"] ?? "/tmp", ETCDCTL_API: "3", ...env };
}

function writeStdin(stdin: Writable | null, text: string | undefined): void {
  stdin?.on("error", () => undefined);
  stdin?.end(text);
}

/** Runs etcdctl v3 to completion. */
export function runEtcdctl(args: readonly string[], options: RunOptions = {}): Promise<Outcome> {
  if (ETCDCTL === undefined) return Promise.reject(new Error("etcdctl is not installed"));
  return runProgram(ETCDCTL, args, baseEnv(options.env), options.stdin, 60_000);
}

/** Runs etcd-ts v3 in this process through `run`. */
export async function runOurs(args: readonly string[], options: RunOptions = {}): Promise<Outcome> {
  if (CLI_BIN !== undefined) return runBin(args, { ETCDCTL_API: "3", ...options.env }, { stdin: options.stdin });
  let stdout = "";
  let stderr = "";
  const stdin = options.stdin ?? "";
  const io: CliIo = {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    env: { ETCDCTL_API: "3", ...options.env },
    readStdin: () => Promise.resolve(stdin),
    readSecret: () => Promise.resolve(stdin.split("\n")[0] ?? ""),
    trapInterrupt: () => new AbortController().signal,
    // Decoded as execFile decodes etcdctl's output, so -w protobuf compares byte for byte where UTF-8 allows.
    stdoutBytes: (bytes) => (stdout += Buffer.from(bytes).toString("utf8")),
  };
  const code = await run(args, io);
  return { stdout, stderr, code };
}

/** A running command line (etcdctl's or ours as a real process). */
export interface Running {
  /** Resolves once stdout satisfies `done` (or after `timeoutMs`). */
  readonly until: (done: (stdout: string) => boolean, timeoutMs?: number) => Promise<void>;
  /** Interrupts it (Ctrl-C) and resolves with what it printed and how it ended (a signal is code 128 + n). */
  readonly stop: () => Promise<Outcome>;
  /** Resolves when it ends by itself. */
  readonly ended: Promise<Outcome>;
  /** Writes more input (with `keepStdinOpen`). */
  readonly write: (text: string) => void;
}

/** Starts etcdctl, or etcd-ts as a real process (`node --import tsx src/cli/main.ts`). */
export function start(which: "etcdctl" | "ours", args: readonly string[], options: RunOptions = {}): Running {
  const child: ChildProcess =
    which === "etcdctl"
      ? spawn(ETCDCTL ?? "etcdctl", [...args], { env: baseEnv(options.env) })
      : spawn(process.execPath, [...oursCommand(), ...args], { cwd: REPO, env: baseEnv(options.env) });
  let stdout = "";
  let stderr = "";
  const listeners = new Set<() => void>();
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    for (const l of listeners) l();
  });
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  if (options.keepStdinOpen === true) {
    child.stdin?.on("error", () => undefined);
    if (options.stdin !== undefined) child.stdin?.write(options.stdin);
  } else writeStdin(child.stdin, options.stdin);
  const ended = new Promise<Outcome>((resolve) => {
    child.on("close", (code, signal) => {
      resolve({ stdout, stderr, code: code ?? (signal === "SIGINT" ? 130 : signal === "SIGTERM" ? 143 : 137) });
    });
  });
  const until = (done: (out: string) => boolean, timeoutMs = 20_000): Promise<void> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (!done(stdout)) return;
        listeners.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        resolve();
      }, timeoutMs);
      listeners.add(check);
      check();
    });
  const stop = (): Promise<Outcome> => {
    child.kill("SIGINT");
    return ended;
  };
  const write = (text: string): void => {
    child.stdin?.write(text);
  };
  return { until, stop, ended, write };
}

/** Makes two runs comparable (see the file's header); `names` maps each side's prefix to its placeholder. */
export function normalize(outcome: Outcome, names: Readonly<Record<string, string>>): Outcome {
  const rename = (s: string): string => {
    let out = s;
    for (const [from, to] of Object.entries(names).sort((a, b) => b[0].length - a[0].length)) out = out.split(from).join(to);
    return out;
  };
  const text = (s: string): string =>
    rename(s)
      .replace(/"(key|value)":"([A-Za-z0-9+/=]*)"/g, (_, field: string, b64: string) => `"${field}":b64(${JSON.stringify(rename(Buffer.from(b64, "base64").toString("latin1")))})`)
      .replace(/(?:\\x[0-9a-f]{2})+/g, (hex: string) => `hex(${JSON.stringify(rename(Buffer.from(hex.replaceAll("\\x", ""), "hex").toString("latin1")))})`)
      .replace(/"(revision|create_revision|mod_revision|CompactRevision)":\d+/g, '"$1":N')
      .replace(/^"(Revision|CreateRevision|ModRevision|PrevCreateRevision|PrevModRevision)" : \d+$/gm, '"$1" : N')
      .replace(/^compacted revision \d+$/gm, "compacted revision N")
      .replace(/\betcdctl\b/g, "etcd-ts");
  // etcdctl's client logs retries as JSON lines on stderr (timestamps, random client ids); etcd-ts has no such log.
  const stderr = text(outcome.stderr)
    .split("\n")
    .filter((line) => !line.startsWith('{"level":') && !/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ [DIWN] \| /.test(line))
    .join("\n");
  return { stdout: text(outcome.stdout), stderr, code: outcome.code };
}
