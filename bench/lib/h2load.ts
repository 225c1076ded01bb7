/**
 * The raw gRPC ceiling for v3: h2load (nghttp2's C load generator, Debian package nghttp2-client)
 * sending one pre-encoded etcd request over and over on one HTTP/2 connection with C streams, as
 * etcd-ts uses one connection per member. It parses no replies, so it is what the server can take
 * at that concurrency, the v3 counterpart of wrk for v2.
 *
 * h2load sees only HTTP statuses, and a gRPC error travels in the trailers of an HTTP 200, so each
 * run is checked around it through etcd-ts's own transport: one call before (it must succeed),
 * and for puts the key's version before and after (it must grow by at least the number of puts
 * h2load counted as done; any shortfall is reported as errors). No warm-up: a C program has no JIT to warm, and wrk has none.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { putRequest, rangeRequest } from "../../src/v3/convert.js";
import { PutRequest, RangeRequest, RangeResponse } from "../../src/v3/gen/etcdserverpb.js";
import { METHODS } from "../../src/v3/methods.js";
import { GrpcTransport } from "../../src/transport/grpc.js";
import { encodeFrame } from "../../src/transport/grpc-frame.js";
import { runMeasured, type CpuWindow } from "./machine.js";
import type { PhaseResult } from "./phase.js";
import { quantile } from "./stats.js";
import { VALUE, v3Paths, type V3Workload } from "./workloads.js";

/** Where Debian's nghttp2-client package puts it. */
export const H2LOAD = "/usr/bin/h2load";

interface Call {
  readonly path: string;
  /** The protobuf request, before gRPC framing. */
  readonly message: Uint8Array;
}

/** A Range of one key, encoded as etcd-ts's own get encodes it. */
function rangeCall(key: string, serializable: boolean): Call {
  return { path: METHODS.range, message: RangeRequest.encode(rangeRequest(key, {}, serializable)).finish() };
}

/**
 * The request h2load repeats. Puts go to one key, not the Node clients' 1,000: h2load sends one
 * body; etcd's cost per put does not depend on the key (each put is a new revision either way).
 */
function workloadCall(workload: V3Workload, prefix: string): Call {
  const { readKey, writeKey } = v3Paths(prefix);
  if (workload === "v3-put") return { path: METHODS.put, message: PutRequest.encode(putRequest(writeKey(1000), VALUE, {})).finish() };
  return rangeCall(readKey, workload === "v3-range-serializable");
}

/** The current version of `key` (0 when absent), read serializably through etcd-ts's transport. */
async function version(transport: GrpcTransport, endpoint: string, key: string): Promise<bigint> {
  const call = rangeCall(key, true);
  const reply = await transport.unary(endpoint, call.path, call.message, { signal: AbortSignal.timeout(10_000) });
  return RangeResponse.decode(reply).kvs[0]?.version ?? 0n;
}

/** Runs h2load for `seconds` with one connection and `concurrency` streams. */
export async function runH2load(endpoint: string, prefix: string, workload: V3Workload, concurrency: number, seconds: number, serverPids: readonly number[]): Promise<PhaseResult> {
  const call = workloadCall(workload, prefix);
  const putKey = v3Paths(prefix).writeKey(1000);
  // The checks go through etcd-ts's own gRPC transport, which rejects any non-zero grpc-status.
  const transport = new GrpcTransport({ dialTimeout: 2000, keepAlive: 10_000 });
  const dir = mkdtempSync(join(tmpdir(), "etcd-ts-h2load-"));
  try {
    await transport.unary(endpoint, call.path, call.message, { signal: AbortSignal.timeout(10_000) });
    const before = workload === "v3-put" ? await version(transport, endpoint, putKey) : 0n;
    const bodyFile = join(dir, "body");
    const log = join(dir, "log");
    writeFileSync(bodyFile, encodeFrame(call.message));
    const args = ["-c1", `-m${concurrency}`, `-D${seconds}`, `--log-file=${log}`, "-d", bodyFile, "-H", "content-type: application/grpc", "-H", "te: trailers", `${endpoint}${call.path}`];
    const { stdout, cpuSeconds, used } = await runMeasured(H2LOAD, args, (seconds + 30) * 1000, serverPids);
    const after = workload === "v3-put" ? await version(transport, endpoint, putKey) : 0n;
    return parse(stdout, readFileSync(log, "utf8"), cpuSeconds, used, workload === "v3-put" ? Number(after - before) : undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await transport.close();
  }
}

/**
 * h2load's summary and per-request log (one line per request done) into a cell. `applied` (puts
 * only) is how far the key's version moved: the puts done plus any still in flight when h2load
 * stopped, so fewer than succeeded means some 200s carried a gRPC error.
 */
function parse(out: string, log: string, h2loadCpu: number, used: ReturnType<CpuWindow["stop"]>, applied: number | undefined): PhaseResult {
  const counts = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  const succeeded = Number(counts?.[4] ?? Number.NaN);
  // h2load's "failed" already counts the errored and timed-out requests.
  const failed = Number(counts?.[5] ?? 0);
  const perSec = Number(/finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(out)?.[1]);
  const durations: number[] = [];
  for (const line of log.split("\n")) {
    const f = line.split("\t");
    if (f.length >= 3) durations.push(Number(f[2]) / 1000);
  }
  const unapplied = applied === undefined ? 0 : Math.max(0, succeeded - applied);
  return {
    ops: succeeded,
    errors: failed + unapplied,
    firstError: unapplied > 0 ? `${unapplied} puts answered 200 but not applied (a gRPC error in the trailers)` : undefined,
    opsPerSec: perSec,
    p50Ms: quantile(durations, 0.5),
    p99Ms: quantile(durations, 0.99),
    cpuUsPerOp: (h2loadCpu * 1e6) / succeeded,
    serverUsPerOp: used.server === undefined ? undefined : (used.server * 1e6) / succeeded,
    foreignCores: used.foreignCores === undefined ? undefined : Math.max(0, used.foreignCores - h2loadCpu / used.seconds),
  };
}
