/**
 * A bounded mixed workload for fault tests, and the checks every fault must pass:
 * operations keep succeeding (or fail with a typed error), nothing is written twice, acknowledged
 * writes are present, and no strong read returns data older than a write acknowledged before it.
 */
import { EtcdV2Client } from "../../src/index.js";
import { EtcdError } from "../../src/errors.js";
import type { Cluster } from "../harness/index.js";

/** One recorded operation. */
export interface OpRecord {
  readonly kind: "set" | "get" | "createInOrder";
  readonly start: number;
  readonly end: number;
  readonly ok: boolean;
  readonly code?: string | undefined;
}

/** What a workload run produced. */
export interface WorkloadResult {
  readonly ops: OpRecord[];
  readonly violations: string[];
  /** Values createInOrder acknowledged, and those whose outcome is unknown. */
  readonly acked: Set<string>;
  readonly unknown: Set<string>;
  /** Per writer key, the last value acknowledged. */
  readonly lastAck: Map<string, number>;
  /** `key=value` of sets whose outcome is unknown: they may land at any later time, legitimately. */
  readonly unknownSets: Set<string>;
}

/** A client pinned to member `i` first (the engine keeps the pin while that member works). */
export function clientOn(cluster: Cluster, i: number, extra: Partial<ConstructorParameters<typeof EtcdV2Client>[0]> = {}): EtcdV2Client {
  const client = new EtcdV2Client({ endpoints: [cluster.clientUrl(i)], ...extra });
  client.setEndpoints(cluster.endpoints());
  return client;
}

/** Runs `writers` loops of set → strong get → createInOrder until `until()` says stop. */
export async function runWorkload(client: EtcdV2Client, prefix: string, writers: number, until: () => boolean): Promise<WorkloadResult> {
  const result: WorkloadResult = { ops: [], violations: [], acked: new Set(), unknown: new Set(), lastAck: new Map(), unknownSets: new Set() };
  const loops = Array.from({ length: writers }, (_, w) => writerLoop(client, prefix, w, until, result));
  await Promise.all(loops);
  return result;
}

async function writerLoop(client: EtcdV2Client, prefix: string, w: number, until: () => boolean, r: WorkloadResult): Promise<void> {
  const key = `${prefix}/w${w}`;
  for (let seq = 1; !until(); seq++) {
    await record(r, "set", async () => {
      try {
        await client.set(key, String(seq));
        r.lastAck.set(key, seq);
      } catch (error) {
        if (error instanceof EtcdError && error.code === "OUTCOME_UNKNOWN") r.unknownSets.add(`${key}=${seq}`);
        throw error;
      }
    });
    const floor = r.lastAck.get(key) ?? 0;
    await record(r, "get", async () => {
      const got = await client.get(key);
      const value = Number(got.node?.value ?? "0");
      if (value < floor && !r.unknownSets.has(`${key}=${value}`)) r.violations.push(`stale read of ${key}: ${value} after ${floor} was acknowledged`);
    });
    const item = `${w}-${seq}`;
    await record(r, "createInOrder", async () => {
      try {
        await client.createInOrder(`${prefix}/q`, item);
        r.acked.add(item);
      } catch (error) {
        if (error instanceof EtcdError && error.code === "OUTCOME_UNKNOWN") r.unknown.add(item);
        throw error;
      }
    });
  }
}

async function record(r: WorkloadResult, kind: OpRecord["kind"], fn: () => Promise<void>): Promise<void> {
  const start = performance.now();
  try {
    await fn();
    r.ops.push({ kind, start, end: performance.now(), ok: true });
  } catch (error) {
    const code = error instanceof EtcdError ? error.code : undefined;
    if (code === undefined) r.violations.push(`${kind} failed with an untyped error: ${String(error)}`);
    r.ops.push({ kind, start, end: performance.now(), ok: false, code });
    // Keep a failing loop from spinning: the client has already retried what it could.
    await new Promise((res) => setTimeout(res, 20));
  }
}

/** Reads the in-order queue back and reports duplicates and lost acknowledged items. */
export async function checkQueue(client: EtcdV2Client, prefix: string, r: WorkloadResult): Promise<string[]> {
  const problems: string[] = [];
  let nodes: readonly { value?: string }[] = [];
  try {
    nodes = (await client.get(`${prefix}/q`, { sorted: true })).node?.nodes ?? [];
  } catch (error) {
    if (!(error instanceof EtcdError && error.code === "KEY_NOT_FOUND")) throw error;
  }
  const counts = new Map<string, number>();
  for (const node of nodes) counts.set(node.value ?? "", (counts.get(node.value ?? "") ?? 0) + 1);
  for (const [value, count] of counts) if (count > 1) problems.push(`${value} was written ${count} times`);
  for (const value of r.acked) if (!counts.has(value)) problems.push(`${value} was acknowledged but is missing`);
  for (const value of counts.keys()) {
    if (!r.acked.has(value) && !r.unknown.has(value)) problems.push(`${value} is present but was reported as failed`);
  }
  for (const [key, seq] of r.lastAck) {
    const now = Number((await client.get(key)).node?.value ?? "0");
    // A set reported as of unknown outcome may land after later ones; an acknowledged one may not.
    if (now < seq && !r.unknownSets.has(`${key}=${now}`)) problems.push(`${key} holds ${now}, but ${seq} was acknowledged`);
  }
  return problems;
}

/** Milliseconds from `at` to the end of the first successful operation started at or after it. */
export function recoveryMs(ops: readonly OpRecord[], at: number): number | undefined {
  let best: number | undefined;
  for (const op of ops) if (op.ok && op.start >= at && (best === undefined || op.end < best)) best = op.end;
  return best === undefined ? undefined : best - at;
}

/** The slowest successful operation started at or after `from`. */
export function worstLatencyAfter(ops: readonly OpRecord[], from: number): number {
  let worst = 0;
  for (const op of ops) if (op.ok && op.start >= from) worst = Math.max(worst, op.end - op.start);
  return worst;
}

/** Counts by kind and outcome, for diagnostics. */
export function summary(ops: readonly OpRecord[]): string {
  const counts = new Map<string, number>();
  for (const op of ops) {
    const k = `${op.kind}:${op.ok ? "ok" : (op.code ?? "?")}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${k}=${n}`).join(" ");
}
