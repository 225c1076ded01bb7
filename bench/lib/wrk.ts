/**
 * The raw HTTP ceiling: wrk (a C load generator that does not parse JSON) on the same v2 URLs.
 * wrk is bounded by time only; its CPU comes from bash's `times` for its child.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runMeasured, type CpuWindow } from "./machine.js";
import type { PhaseResult } from "./phase.js";
import { VALUE, paths, type Workload } from "./workloads.js";

/** Where Debian's wrk package puts it. */
export const WRK = "/usr/bin/wrk";

/** A PUT script: the same 1,000 keys and form body as the Node clients send. */
function putScript(prefix: string): string {
  const base = paths(prefix).writeKey(0).replace(/0$/, "");
  return [
    'wrk.method = "PUT"',
    `wrk.body = "value=${VALUE}"`,
    'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"',
    "local i = 0",
    "request = function()",
    "  i = i + 1",
    `  return wrk.format(nil, "/v2/keys${base}" .. (i % 1000))`,
    "end",
  ].join("\n");
}

function url(endpoint: string, prefix: string, workload: Workload): string {
  const key = `${endpoint}/v2/keys${paths(prefix).readKey}`;
  return workload === "get-quorum" ? `${key}?quorum=true` : key;
}

/** Parses "1.23ms", "870.00us", "1.02s" into milliseconds. */
function duration(text: string | undefined): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text ?? "");
  if (m === null) return Number.NaN;
  const n = Number(m[1]);
  return m[2] === "us" ? n / 1000 : m[2] === "ms" ? n : m[2] === "s" ? n * 1000 : n * 60_000;
}

/** Runs wrk for `seconds` with `concurrency` connections on one thread. */
export async function runWrk(endpoint: string, prefix: string, workload: Workload, concurrency: number, seconds: number, serverPids: readonly number[]): Promise<PhaseResult> {
  const dir = mkdtempSync(join(tmpdir(), "etcd-ts-wrk-"));
  try {
    const args = ["-t1", `-c${concurrency}`, `-d${seconds}s`, "--latency", "--timeout", "10s"];
    if (workload === "set") {
      const script = join(dir, "put.lua");
      writeFileSync(script, putScript(prefix));
      args.push("-s", script);
    }
    args.push(url(endpoint, prefix, workload));
    const { stdout, cpuSeconds, used } = await runMeasured(WRK, args, (seconds + 30) * 1000, serverPids);
    return parse(stdout, cpuSeconds, used);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function parse(out: string, wrkCpu: number, used: ReturnType<CpuWindow["stop"]>): PhaseResult {
  const total = Number(/(\d+) requests in/.exec(out)?.[1]);
  const perSec = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? "0";
  const socket = /Socket errors: (.*)/.exec(out)?.[1];
  const server = used.server;
  return {
    ops: total,
    errors: Number(errors),
    firstError: socket,
    opsPerSec: perSec,
    p50Ms: duration(/^\s+50%\s+(\S+)/m.exec(out)?.[1]),
    p99Ms: duration(/^\s+99%\s+(\S+)/m.exec(out)?.[1]),
    cpuUsPerOp: (wrkCpu * 1e6) / total,
    serverUsPerOp: server === undefined ? undefined : (server * 1e6) / total,
    // Our own process sleeps while wrk runs, so the window's "self" is ~0 and wrk counts as foreign.
    foreignCores: used.foreignCores === undefined ? undefined : Math.max(0, used.foreignCores - wrkCpu / used.seconds),
  };
}
