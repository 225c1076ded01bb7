/**
 * The lock and election torture workloads (`npm run torture -- --workload lock|election`), under
 * the same seeded nemesis as the register workload, plus two ways to lose a lease in every run,
 * not only when a fault happens to outlast a TTL: a "cutter" that closes the holder's client
 * every 2-5 s (its keep-alives stop; the lease expires a TTL later and a waiter takes over), and
 * a "freezer" that SIGSTOPs every member for TTL + 1 s every 10-15 s (no keep-alive is
 * acknowledged meanwhile). A revoke by a third client would not do: nobody can learn of it
 * before it is applied, so a waiter may act on it first.
 *
 * lock: N workers, each on its own client and session, take one mutex in turn, hold it a random
 * time, and do a read-modify-write of a register key fenced by the lock's revision: a txn that
 * writes only if the fence key's value (the revision of the last fenced write, zero-padded so that
 * etcd's bytewise comparison is numeric) is below ours + 1, and writes the fence along with the
 * register. Checked: believed holdings never overlap; the register's history is linearizable.
 *
 * election: N workers campaign, lead a random time (proclaiming once), and resign; one observer
 * follows with observe(). Checked: believed leaderships never overlap; observe() reports leaders
 * in order and misses none that led long enough (see lock-check.ts).
 *
 * `unsafeLossDeadline` is the deliberately wrong variant: workers notice a loss one TTL after the
 * signal says so (a loss deadline of 2 x TTL), go on holding and writing meanwhile; the exclusion
 * check must then fail (the fence still keeps the register linearizable).
 */
import { EtcdError, EtcdV3Client } from "../../src/index.js";
import type { Session } from "../../src/v3/concurrency/session.js";
import { partitionSupport, startCluster, type Cluster } from "../harness/index.js";
import type { HistoryOp } from "./checker.js";
import { overlaps, observationProblems, type Holding, type Observation } from "./lock-check.js";
import { planFaults, runNemesis, type FaultRecord } from "./nemesis.js";
import { createRandom, type Random } from "./prng.js";
import { checkRegister, type RegisterOp } from "./register.js";
import { sleep } from "./workers.js";

/** Which concurrency workload. */
export type LockWorkload = "lock" | "election";

/** How to run. */
export interface LockTortureOptions {
  readonly workload: LockWorkload;
  readonly durationMs: number;
  readonly seed: number;
  readonly workers: number;
  readonly members: 3 | 5;
  /** Session TTL in seconds. */
  readonly ttl: number;
  readonly unsafeLossDeadline: boolean;
  /**
   * Resume a paused leader with SIGCONT as the register workload does (default: SIGKILL and
   * restart it): shows etcd revoking a renewed lease from a stale leader (see NemesisOptions).
   */
  readonly resumePausedLeader?: boolean | undefined;
  readonly log: (line: string) => void;
}

/** What a run found. */
export interface LockTortureResult {
  readonly ok: boolean;
  readonly lines: readonly string[];
}

/** One worker's client and session; the cutter closes the client of a worker that holds (`cut`). */
interface Slot {
  readonly id: number;
  readonly endpoints: readonly string[];
  client: EtcdV3Client;
  session: Session | undefined;
  holding: boolean;
  cut: boolean;
}

interface Shared {
  readonly o: LockTortureOptions;
  readonly slots: Slot[];
  /** Every client made, to close at the end. */
  readonly clients: EtcdV3Client[];
  readonly prefix: string;
  readonly t0: number;
  readonly stop: AbortSignal;
  readonly holdings: Holding[];
  readonly history: HistoryOp<RegisterOp>[];
  readonly counts: Map<string, number>;
}

const pad = (revision: bigint): string => revision.toString().padStart(20, "0");
const now = (s: Shared): number => performance.now() - s.t0;
const count = (s: Shared, what: string): void => {
  s.counts.set(what, (s.counts.get(what) ?? 0) + 1);
};
/** Read through a call, so that the linter does not take the flag as narrowed by an earlier check. */
const stopped = (s: Shared): boolean => s.stop.aborted;
const codeOf = (error: unknown): string => (error instanceof EtcdError ? error.code : error instanceof Error ? error.name : "non-error");

/** Runs one lock or election torture on a fresh cluster and checks it. */
export async function runLockTorture(o: LockTortureOptions): Promise<LockTortureResult> {
  const support = partitionSupport();
  const plan = planFaults(createRandom(o.seed).fork(0), { members: o.members, durationMs: o.durationMs, partitions: support.ok });
  o.log(`torture: ${o.workload} workload, seed ${o.seed}, ${o.members} members, ${o.workers} workers, ${(o.durationMs / 1000).toFixed(0)} s, TTL ${o.ttl} s, unsafe loss deadline ${o.unsafeLossDeadline ? "ON (2 x TTL)" : "off"}, ` +
    `paused leader ${o.resumePausedLeader === true ? "resumed by SIGCONT (etcd may revoke renewed leases)" : "restarted"}`);
  const cluster = await startCluster({ size: o.members, name: "torture-locks" });
  try {
    return await exercise(cluster, o, plan);
  } finally {
    await cluster.stop();
  }
}

async function exercise(cluster: Cluster, o: LockTortureOptions, plan: ReturnType<typeof planFaults>): Promise<LockTortureResult> {
  const endpoints = cluster.endpoints();
  const admin = new EtcdV3Client({ endpoints });
  const controller = new AbortController();
  const s: Shared = { o, slots: [], clients: [], prefix: `${cluster.prefix(`torture-${o.workload}`)}/`, t0: performance.now(), stop: controller.signal, holdings: [], history: [], counts: new Map() };
  await admin.put(`${s.prefix}fence`, pad(0n));
  for (let i = 0; i < o.workers; i++) {
    const mine = [...endpoints.slice(i % endpoints.length), ...endpoints.slice(0, i % endpoints.length)];
    const client = new EtcdV3Client({ endpoints: mine });
    s.clients.push(client);
    s.slots.push({ id: i, endpoints: mine, client, session: undefined, holding: false, cut: false });
  }
  const random = createRandom(o.seed);
  const observed: Observation[] = [];
  const tasks = s.slots.map((slot) => (o.workload === "lock" ? lockWorker(s, slot, random.fork(100 + slot.id)) : electionWorker(s, slot, random.fork(100 + slot.id))));
  if (o.workload === "election") tasks.push(observer(s, admin, observed));
  tasks.push(freezer(s, cluster, random.fork(99)), cutter(s, random.fork(98)));
  o.log("faults injected:");
  let stopped = false;
  const nemesis = runNemesis(cluster, plan, { startedAt: s.t0, stopped: () => stopped, log: o.log, restartPausedLeader: !o.resumePausedLeader });
  await sleep(o.durationMs);
  stopped = true;
  controller.abort(new Error("torture over"));
  const faults: FaultRecord[] = await nemesis;
  await Promise.all(tasks);
  await Promise.all([...s.clients.map((c) => c.close()), admin.close()]);
  return verdict(s, observed, faults);
}

function verdict(s: Shared, observed: readonly Observation[], faults: readonly FaultRecord[]): LockTortureResult {
  const lines: string[] = [];
  const exclusion = overlaps(s.holdings);
  const counts = [...s.counts].map(([k, v]) => `${k} ${v}`).join(", ");
  lines.push(`${s.holdings.length} ${s.o.workload === "lock" ? "holdings" : "leaderships"}, ${faults.length} faults; ${counts}`);
  lines.push(`exclusion: ${exclusion.length === 0 ? "OK (no two believed holdings overlap)" : `${exclusion.length} OVERLAPS`}`);
  for (const p of exclusion.slice(0, 5)) lines.push(`  ${p}`);
  let ok = exclusion.length === 0;
  if (s.o.workload === "lock") {
    const register = checkRegister(s.history, { maxSteps: 20_000_000 });
    lines.push(`fenced register: ${register.verdict} (${s.history.length} operations, ${register.steps} steps)`);
    ok &&= register.verdict === "linearizable";
  } else {
    const problems = observationProblems(observed, s.holdings, 2000);
    lines.push(`observe: ${observed.length} reports; ${problems.length === 0 ? "OK (in order, none missed that led >= 2 s)" : `${problems.length} PROBLEMS`}`);
    for (const p of problems.slice(0, 5)) lines.push(`  ${p}`);
    ok &&= problems.length === 0;
  }
  lines.push(`== torture ${s.o.workload}: ${ok ? "OK" : "FAILED"} (seed ${s.o.seed})`);
  return { ok, lines };
}

/** The worker's client (a new one after a cut) and a live session on it (a new one after a loss). */
async function ready(s: Shared, slot: Slot): Promise<{ client: EtcdV3Client; session: Session }> {
  if (slot.cut) {
    slot.client = new EtcdV3Client({ endpoints: [...slot.endpoints] });
    s.clients.push(slot.client);
    slot.session = undefined;
    slot.cut = false;
  }
  const current = slot.session;
  if (current !== undefined && !current.signal.aborted) return { client: slot.client, session: current };
  if (current !== undefined) await current.close().catch(() => undefined);
  slot.session = await slot.client.session({ ttl: s.o.ttl, signal: s.stop });
  return { client: slot.client, session: slot.session };
}

/**
 * Tracks one believed holding: from now until `release()` or, unless the variant is unsafe, the
 * signal's abort; the unsafe variant notices the abort one TTL late.
 */
function belief(s: Shared, signal: AbortSignal, session: Session): { readonly start: number; lostAt: () => number | undefined; held: () => boolean; loss: () => Holding["loss"] } {
  const start = now(s);
  let abortedAt: number | undefined;
  let loss: Holding["loss"];
  const onAbort = (): void => {
    abortedAt ??= now(s);
    loss ??= { reason: describe(signal.reason), certainUntil: session.expiresAt - s.t0 };
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  const lag = s.o.unsafeLossDeadline ? s.o.ttl * 1000 : 0;
  const lostAt = (): number | undefined => (abortedAt === undefined ? undefined : abortedAt + lag);
  return { start, lostAt, held: () => (lostAt() ?? Infinity) > now(s), loss: () => loss };
}

/** A loss reason in one short line: code, the cause's code, the message. */
function describe(reason: unknown): string {
  if (!(reason instanceof EtcdError)) return String(reason).slice(0, 160);
  const cause = reason.cause instanceof EtcdError ? ` (cause ${reason.cause.code})` : "";
  return `${reason.code}${cause}: ${reason.message.slice(0, 160)}`;
}

function record(s: Shared, worker: number, key: string, revision: bigint, b: ReturnType<typeof belief>, releasedAt: number): void {
  const lost = b.lostAt();
  const endedBy = lost !== undefined && lost < releasedAt ? "signal" : s.stop.aborted ? "stop" : "release";
  s.holdings.push({ worker, key, revision: revision.toString(), start: b.start, end: Math.min(releasedAt, lost ?? Infinity), endedBy, loss: endedBy === "signal" ? b.loss() : undefined });
}

async function lockWorker(s: Shared, slot: Slot, random: Random): Promise<void> {
  const worker = slot.id;
  for (let n = 0; !s.stop.aborted; n++) {
    try {
      const { client, session } = await ready(s, slot);
      const lock = await client.mutex(`${s.prefix}lock`, { session }).lock({ signal: s.stop });
      const b = belief(s, lock.signal, session);
      slot.holding = true;
      count(s, "acquired");
      const hold = random.between(200, 4000);
      const at = random.between(0, hold);
      await sleep(at);
      if (b.held()) await fencedWrite(s, client, lock.revision, `w${worker}-${n}`, b);
      await sleep(hold - at);
      record(s, worker, lock.key, lock.revision, b, now(s));
      slot.holding = false;
      await lock.unlock().catch((error: unknown) => { count(s, `unlock ${codeOf(error)}`); });
    } catch (error) {
      slot.holding = false;
      if (stopped(s)) break;
      count(s, `lock ${codeOf(error)}`);
      await sleep(100);
    }
  }
  await slot.session?.close().catch(() => undefined);
}

/** Read the register, then write a new value fenced by the lock's revision; both recorded in the register's history. */
async function fencedWrite(s: Shared, client: EtcdV3Client, revision: bigint, value: string, b: ReturnType<typeof belief>): Promise<void> {
  const register = `${s.prefix}register`;
  const readCall = now(s);
  try {
    const read = await client.get(register);
    s.history.push({ call: readCall, ret: now(s), op: { kind: "read", outcome: "ok", observed: read.kvs[0]?.value.toString() ?? null } });
  } catch {
    count(s, "failed read");
    return;
  }
  if (!b.held()) return;
  const call = now(s);
  try {
    const r = await client.txn({
      compare: [{ key: `${s.prefix}fence`, target: "value", result: "<", value: pad(revision + 1n) }],
      success: [{ put: { key: register, value, prevKv: true } }, { put: { key: `${s.prefix}fence`, value: pad(revision) } }],
      failure: [{ get: { key: register } }],
    });
    const first = r.responses[0];
    const observed = first === undefined ? undefined : "put" in first ? (first.put.prevKv?.value.toString() ?? null) : "get" in first ? (first.get.kvs[0]?.value.toString() ?? null) : undefined;
    count(s, r.succeeded ? "fenced write" : "fenced out");
    s.history.push({ call, ret: now(s), op: r.succeeded ? { kind: "put", value, outcome: "ok", observed } : { kind: "read", outcome: "ok", observed } });
  } catch (error) {
    count(s, `write ${codeOf(error)}`);
    // Only a write that certainly was not applied may be left out of the history.
    if (!(error instanceof EtcdError && error.delivery === "unsent")) s.history.push({ call, ret: Infinity, op: { kind: "put", value, outcome: "unknown" } });
  }
}

async function electionWorker(s: Shared, slot: Slot, random: Random): Promise<void> {
  const worker = slot.id;
  for (let n = 0; !s.stop.aborted; n++) {
    try {
      const { client, session } = await ready(s, slot);
      const leadership = await client.election(`${s.prefix}election`, { session }).campaign(`w${worker}-${n}`, { signal: s.stop });
      const b = belief(s, leadership.signal, session);
      slot.holding = true;
      count(s, "elected");
      await sleep(random.between(100, 2000));
      if (b.held()) await leadership.proclaim(`w${worker}-${n}-proclaimed`).catch((error: unknown) => { count(s, `proclaim ${codeOf(error)}`); });
      await sleep(random.between(100, 2000));
      record(s, worker, leadership.key, leadership.revision, b, now(s));
      slot.holding = false;
      await leadership.resign().catch((error: unknown) => { count(s, `resign ${codeOf(error)}`); });
    } catch (error) {
      slot.holding = false;
      if (stopped(s)) break;
      count(s, `campaign ${codeOf(error)}`);
      await sleep(100);
    }
  }
  await slot.session?.close().catch(() => undefined);
}

async function observer(s: Shared, client: EtcdV3Client, observed: Observation[]): Promise<void> {
  while (!s.stop.aborted) {
    try {
      for await (const l of client.election(`${s.prefix}election`).observe({ signal: s.stop })) {
        const last = observed.at(-1);
        if (last?.key !== l.key || last.revision !== l.revision.toString()) observed.push({ at: now(s), key: l.key, revision: l.revision.toString() });
      }
    } catch (error) {
      if (stopped(s)) return;
      count(s, `observe ${codeOf(error)}`);
      await sleep(200);
    }
  }
}

/**
 * Every 2-5 s, closes the client of the worker that holds (as if its process were cut off from
 * the cluster): its keep-alives stop, its lease expires one TTL after the last renewal, and a
 * waiter takes over; the worker goes on with a new client.
 */
async function cutter(s: Shared, random: Random): Promise<void> {
  while (!s.stop.aborted) {
    await sleep(random.between(2000, 5000));
    const slot = s.slots.find((w) => w.holding && !w.cut);
    if (slot === undefined || stopped(s)) continue;
    slot.cut = true;
    count(s, "cuts");
    void slot.client.close().catch(() => undefined);
  }
}

/** Every 10-15 s, SIGSTOPs every running member for TTL + 1 s, then thaws them: leases held through it expire. */
async function freezer(s: Shared, cluster: Cluster, random: Random): Promise<void> {
  while (!s.stop.aborted) {
    await sleep(random.between(10000, 15000));
    if (stopped(s)) return;
    const frozen = cluster.members.filter((m) => m.running && !m.paused);
    try {
      for (const m of frozen) await m.pause();
      count(s, "freezes");
      await sleep(s.o.ttl * 1000 + 1000);
    } catch (error) {
      count(s, `freeze ${codeOf(error)}`);
    } finally {
      for (const m of frozen) if (m.paused) await m.resume().catch(() => undefined);
    }
  }
}
