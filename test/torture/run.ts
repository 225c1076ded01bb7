/**
 * One torture run: a real cluster, N workers of one API (v2 or v3), a seeded nemesis and a watch
 * of the run's prefix (recursive v2, or v3 prefix); then every key's history is checked for
 * linearizability, the watch for completeness, and for v3 the revisions across keys. Callable
 * in-process (the CI test does) as well as from main.ts.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EtcdV2Client, EtcdV3Client } from "../../src/index.js";
import type { CheckRetry } from "../../src/endpoints/retry.js";
import { partitionSupport, startCluster, type Cluster } from "../harness/index.js";
import { partition, type CheckResult, type HistoryOp } from "./checker.js";
import { describeFault, planFaults, runNemesis, type FaultRecord, type PlannedFault } from "./nemesis.js";
import { createRandom } from "./prng.js";
import { checkRegister, type RegisterOp } from "./register.js";
import { checkRevisions } from "./revisions.js";
import { shrinkViolation, type ShrinkResult } from "./shrink.js";
import { checkWatch, WatchRecorder, type Gap, type Recorder, type SeenEvent, type WatchReport } from "./watch-check.js";
import { WatchRecorderV3 } from "./watch-v3.js";
import { perform, runWorker, sleep, v2Driver, type Planned, type TortureOp, type WorkloadContext } from "./workers.js";
import { performV3, v3Driver } from "./workers-v3.js";

/** Which client a run exercises. */
export type TortureApi = "v2" | "v3";

/** How to run. */
export interface TortureOptions {
  readonly durationMs: number;
  readonly seed: number;
  readonly workers: number;
  readonly members: 3 | 5;
  /** The client the workers and the watch use (default v2). */
  readonly api?: TortureApi | undefined;
  /** Pass a `checkRetry` that re-sends everything, even writes that may have been applied (deliberately unsafe). */
  readonly unsafeRetry: boolean;
  readonly keys?: number | undefined;
  readonly generationMs?: number | undefined;
  readonly thinkMs?: number | undefined;
  /** Search budget per key. */
  readonly checkSteps?: number | undefined;
  /** Time budget of the shrinker, per violating key. */
  readonly shrinkMs?: number | undefined;
  readonly log?: ((line: string) => void) | undefined;
}

/** The checker's verdict on one key. */
export interface KeyVerdict {
  readonly key: string;
  readonly history: readonly HistoryOp<RegisterOp>[];
  readonly result: CheckResult;
  /** For a violation: true when it disappears once what writes observed (prevNode, prevKv, a refused txn's read) is ignored. */
  readonly prevNodeOnly?: boolean | undefined;
  readonly shrunk?: ShrinkResult | undefined;
}

/** What a run recorded: enough to check it again later (`--check FILE`). */
export interface RunRecord {
  /** As given (a saved record has no `log`: JSON drops functions). */
  readonly options: TortureOptions;
  readonly plan: readonly PlannedFault[];
  readonly faults: readonly FaultRecord[];
  readonly ops: readonly TortureOp[];
  readonly events: readonly SeenEvent[];
  readonly gaps: readonly Gap[];
  /** `performance.now()` when the workload started: operation times are on that clock, fault times relative to it. */
  readonly startedAt: number;
  /** The workload's key prefix and the index range the watch had to cover. */
  readonly prefix: string;
  readonly range: Gap;
  readonly watchError: string | undefined;
  readonly partitionsSkipped: string | undefined;
}

/** A run and what the checks concluded. */
export interface TortureResult extends RunRecord {
  readonly verdicts: readonly KeyVerdict[];
  readonly watch: WatchReport;
  /** v3 only: operations whose revision contradicts real-time order across keys (see revisions.ts). */
  readonly revisions: readonly string[] | undefined;
  readonly ok: boolean;
}

/**
 * The deliberately unsafe policy behind `--unsafe-retry`: every failure is re-sent at once, even a
 * write that may already have been applied or may still be applied later, up to 2 × members attempts.
 */
export const unsafeCheckRetry: CheckRetry = (ctx) => (ctx.attempt < 2 * ctx.members ? { retry: true, delay: 0 } : { retry: false });

/** Runs the whole torture test and checks its results. */
export async function runTorture(options: TortureOptions): Promise<TortureResult> {
  return analyze(await recordRun(options), options);
}

/** Checks a recorded run: every key's history, then the watch. */
export function analyze(run: RunRecord, budgets: Pick<TortureOptions, "checkSteps" | "shrinkMs"> = {}): TortureResult {
  const verdicts = checkKeys(run.ops, budgets);
  const isWorkload = (key: string): boolean => key.startsWith(`${run.prefix}/g`);
  const watch = checkWatch(run.events, run.gaps, run.ops, isWorkload, run.range);
  const revisions = (run.options.api ?? "v2") === "v3" ? checkRevisions(run.ops) : undefined;
  const ok =
    verdicts.every((v) => v.result.verdict === "linearizable") && watch.problems.length === 0 && run.watchError === undefined && (revisions?.length ?? 0) === 0;
  return { ...run, verdicts, watch, revisions, ok };
}

/** Starts a cluster, runs the workload under the nemesis with the watch on, and records it all. */
export async function recordRun(options: TortureOptions): Promise<RunRecord> {
  const log = options.log ?? ((): void => undefined);
  const support = partitionSupport();
  const partitionsSkipped = support.ok ? undefined : (support.why ?? "unsupported");
  const plan = planFaults(createRandom(options.seed).fork(0), { members: options.members, durationMs: options.durationMs, partitions: support.ok });
  log(`torture: ${options.api ?? "v2"}, seed ${options.seed}, ${options.members} members, ${options.workers} workers, ${(options.durationMs / 1000).toFixed(0)} s, unsafe retry ${options.unsafeRetry ? "ON" : "off"}`);
  if (partitionsSkipped !== undefined) log(`isolate faults skipped: ${partitionsSkipped}`);
  log(`fault schedule (replay with --seed ${options.seed}; times drift with restarts):`);
  let at = 0;
  for (const f of plan) {
    at += f.gapMs;
    if (at > options.durationMs) break;
    log(`  #${f.n} ~${(at / 1000).toFixed(1)} s: ${describeFault(f)}`);
    at += f.holdMs + 1_500;
  }
  const cluster = await startCluster({ size: options.members, name: "torture" });
  try {
    return { options, plan, partitionsSkipped, ...(await exercise(cluster, options, plan, log)) };
  } finally {
    await cluster.stop();
  }
}

/** What `exercise` records. */
type Exercised = Omit<RunRecord, "options" | "plan" | "partitionsSkipped">;

/** Runs the workload, the nemesis and the watch; then the final reads. */
function exercise(cluster: Cluster, options: TortureOptions, plan: readonly PlannedFault[], log: (line: string) => void): Promise<Exercised> {
  return (options.api ?? "v2") === "v3" ? exerciseV3(cluster, options, plan, log) : exerciseV2(cluster, options, plan, log);
}

/** The v2 run: a recursive watch from the index after a start marker to an end marker's. */
async function exerciseV2(cluster: Cluster, options: TortureOptions, plan: readonly PlannedFault[], log: (line: string) => void): Promise<Exercised> {
  const endpoints = cluster.endpoints();
  const admin = new EtcdV2Client({ endpoints });
  const watcher = new EtcdV2Client({ endpoints });
  const recorder = new WatchRecorder();
  const prefix = cluster.prefix("torture");
  try {
    // Markers must not start with "_": etcd v2 hides such keys from recursive watches of their parent.
    const startIndex = (await admin.set(`${prefix}/marker-start`, "start")).etcdIndex + 1;
    recorder.start(watcher, prefix, startIndex);
    return await finish(recorder, startIndex, prefix, await underFaults(cluster, options, plan, prefix, log), {
      read: (p) => perform(admin, p),
      mark: async () => (await admin.set(`${prefix}/marker-end`, "end")).etcdIndex,
    });
  } finally {
    await recorder.stop();
    await Promise.all([admin.close(), watcher.close()]);
  }
}

/** The v3 run: a prefix watch from the revision after a start marker's to an end marker's. */
async function exerciseV3(cluster: Cluster, options: TortureOptions, plan: readonly PlannedFault[], log: (line: string) => void): Promise<Exercised> {
  const endpoints = cluster.endpoints();
  const admin = new EtcdV3Client({ endpoints });
  const watcher = new EtcdV3Client({ endpoints });
  const recorder = new WatchRecorderV3();
  const prefix = cluster.prefix("torture-v3");
  try {
    const startRevision = Number((await admin.put(`${prefix}/marker-start`, "start")).header.revision) + 1;
    // The trailing "/" keeps the watch off sibling prefixes that merely start with the same text.
    recorder.start(watcher, `${prefix}/`, startRevision);
    return await finish(recorder, startRevision, prefix, await underFaults(cluster, options, plan, prefix, log), {
      read: (p) => performV3(admin, p),
      mark: async () => Number((await admin.put(`${prefix}/marker-end`, "end")).header.revision),
    });
  } finally {
    await recorder.stop();
    await Promise.all([admin.close(), watcher.close()]);
  }
}

/**
 * After the faults: the final reads, an end marker, and the watch run up to it. `read` performs
 * a strong read with the run's API; `mark` writes the end marker and returns its index.
 */
async function finish(
  recorder: Recorder,
  from: number,
  prefix: string,
  run: { ops: TortureOp[]; faults: FaultRecord[]; startedAt: number },
  api: { read: (p: Planned) => Promise<TortureOp>; mark: () => Promise<number> },
): Promise<Exercised> {
  const { ops, faults, startedAt } = run;
  // A write frozen in a paused member's socket may land a little after the repair: give it time,
  // so the final reads below can see it.
  await sleep(1_000);
  await finalReads(api.read, ops);
  const endIndex = await api.mark();
  await recorder.reach(endIndex, 60_000);
  await recorder.stop();
  const watchError = recorder.error ?? (recorder.lastIndex < endIndex ? `the watch reached index ${recorder.lastIndex}, not ${endIndex}` : undefined);
  return { ops, faults, startedAt, events: [...recorder.events], gaps: [...recorder.gaps], prefix, range: { from, to: endIndex }, watchError };
}

/** The workers and the nemesis together for the run's duration; resolves once both are done and repaired. */
async function underFaults(cluster: Cluster, options: TortureOptions, plan: readonly PlannedFault[], prefix: string, log: (line: string) => void) {
  let stop = false;
  const ctx: WorkloadContext = {
    endpoints: cluster.endpoints(),
    prefix,
    keys: options.keys ?? 5,
    generationMs: options.generationMs ?? 15_000,
    startedAt: performance.now(),
    thinkMs: options.thinkMs ?? 10,
    clientOptions: options.unsafeRetry ? { checkRetry: unsafeCheckRetry } : {},
    ops: [],
    recent: new Map(),
    stopped: () => stop,
  };
  const random = createRandom(options.seed);
  const driver = (options.api ?? "v2") === "v3" ? v3Driver : v2Driver;
  const workers = Array.from({ length: options.workers }, (_, i) => runWorker(ctx, i, random.fork(100 + i), driver));
  log("faults injected:");
  const nemesis = runNemesis(cluster, plan, { startedAt: ctx.startedAt, stopped: () => stop, log });
  await sleep(options.durationMs);
  stop = true;
  const faults = await nemesis;
  await Promise.all(workers);
  return { ops: ctx.ops, faults, startedAt: ctx.startedAt };
}

/** One strong read of every key used, recorded in its history (a few tries each: reads may fail). */
async function finalReads(read: (p: Planned) => Promise<TortureOp>, ops: TortureOp[]): Promise<void> {
  const keys = [...new Set(ops.map((op) => op.key))].sort();
  for (const key of keys) {
    for (let attempt = 0; attempt < 5; attempt++) {
      const op = await read({ worker: -1, key, kind: "read" });
      if (op.outcome === "failed-read") continue;
      ops.push(op);
      break;
    }
  }
}

/** The register history of each key: operations that certainly had no effect are left out. */
export function histories(ops: readonly TortureOp[]): Map<string, HistoryOp<RegisterOp>[]> {
  const relevant = ops.filter((op) => op.outcome !== "not-applied" && op.outcome !== "failed-read");
  const byKey = partition(relevant, (op) => op.key);
  return new Map(
    [...byKey].map(([key, list]) => [
      key,
      list.map((op) => ({
        call: op.call,
        ret: op.ret,
        op: { kind: op.kind, value: op.value, expect: op.expect, outcome: op.outcome as RegisterOp["outcome"], observed: op.observed },
      })),
    ]),
  );
}

/** Saves a record as JSON (to `path`, or a temp file) and returns where. */
export function saveRecord(record: RunRecord, path?: string): string {
  const where = path ?? join(tmpdir(), `etcd-ts-torture-${record.options.seed}-${Date.now()}.json`);
  const { options, plan, faults, ops, startedAt, events, gaps, prefix, range, watchError, partitionsSkipped } = record;
  writeFileSync(where, JSON.stringify({ options, plan, faults, ops, startedAt, events, gaps, prefix, range, watchError, partitionsSkipped }));
  return where;
}

/** Reads a saved record; JSON has no Infinity, so unknown outcomes' return times come back as null. */
export function loadRecord(path: string): RunRecord {
  const record = JSON.parse(readFileSync(path, "utf8")) as Omit<RunRecord, "startedAt"> & { startedAt?: number };
  for (const op of record.ops) if ((op.ret as number | null) === null) op.ret = Infinity;
  // Records saved before startedAt was kept: the first call is within milliseconds of it.
  return { ...record, startedAt: record.startedAt ?? record.ops.reduce((min, op) => Math.min(min, op.call), Infinity) };
}

/** How many violating keys get a shrunk witness; the rest are listed with their verdict only. */
const MAX_SHRUNK = 3;

/** Checks every key; violations are re-checked without writes' observations, then shrunk. */
export function checkKeys(ops: readonly TortureOp[], options: Pick<TortureOptions, "checkSteps" | "shrinkMs">): KeyVerdict[] {
  const verdicts: KeyVerdict[] = [];
  const maxSteps = options.checkSteps ?? 20_000_000;
  let shrinks = 0;
  for (const [key, history] of histories(ops)) {
    const result = checkRegister(history, { maxSteps });
    if (result.verdict !== "violation") {
      verdicts.push({ key, history, result });
      continue;
    }
    const blind = history.map((h) => (h.op.kind === "read" ? h : { ...h, op: { ...h.op, observed: undefined } }));
    const prevNodeOnly = checkRegister(blind, { maxSteps }).verdict === "linearizable";
    const shrunk = shrinks++ < MAX_SHRUNK ? shrinkViolation(history, options.shrinkMs ?? 20_000) : undefined;
    verdicts.push({ key, history, result, prevNodeOnly, shrunk });
  }
  return verdicts;
}
