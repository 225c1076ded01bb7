/**
 * The nemesis: a fault schedule drawn from a seeded PRNG (so `--seed N` replays it), and the loop
 * that injects each fault into a real cluster, holds it, repairs it and waits for the cluster to
 * be healthy before the next one. One fault at a time, on at most a minority of members, so the
 * cluster keeps a quorum between elections and every operation can eventually succeed.
 */
import type { Cluster } from "../harness/index.js";
import type { Random } from "./prng.js";

/** The faults the nemesis knows. */
export type FaultKind = "kill" | "pause" | "isolate" | "leader-kill" | "rolling-restart";

/** One planned fault: wait `gapMs`, inject on `targets` (member indices), hold `holdMs`, repair. */
export interface PlannedFault {
  readonly n: number;
  readonly kind: FaultKind;
  /** Member indices; empty for leader-kill (resolved when it happens) and rolling-restart (all). */
  readonly targets: readonly number[];
  readonly gapMs: number;
  readonly holdMs: number;
}

/** What actually happened, in ms since the run started. */
export interface FaultRecord {
  readonly fault: PlannedFault;
  readonly at: number;
  targets: readonly number[];
  repairedAt: number;
  error?: string | undefined;
  /** Set when a paused leader was repaired by SIGKILL and restart rather than SIGCONT (see `NemesisOptions`). */
  restartedLeader?: number | undefined;
}

/** How the nemesis runs. */
export interface NemesisOptions {
  readonly startedAt: number;
  readonly stopped: () => boolean;
  readonly log: (line: string) => void;
  /**
   * Repair a paused leader by SIGKILL and restart instead of SIGCONT. A leader that resumes after
   * a stall longer than a lease's TTL still believes it leads, finds the lease expired by its own
   * stale view and revokes it, although clients renewed it through the new leader meanwhile: etcd
   * ends a lease early, and no client can learn of that before a waiter does. etcd 3.4.31/3.5.13
   * made the revoke check leadership (etcd-io/etcd#15247), but 3.4.34/3.5.16 skip that check while
   * the member's raft ticks are recent (etcd-io/etcd#18428), and a process resumed by SIGCONT ticks
   * at once: seen here on 3.4.23 and on 3.5.16. The lock and election workloads, whose checks
   * assume etcd keeps a renewed lease for its TTL, set this; a restarted member's lessor starts
   * as a follower's.
   */
  readonly restartPausedLeader?: boolean | undefined;
}

/** Inputs of the plan. */
export interface PlanOptions {
  readonly members: number;
  readonly durationMs: number;
  /** False where `partitionSupport()` says isolation cannot be done: isolate faults are left out. */
  readonly partitions: boolean;
}

const WEIGHTS: readonly (readonly [FaultKind, number])[] = [
  ["pause", 30],
  ["kill", 25],
  ["isolate", 20],
  ["leader-kill", 15],
  ["rolling-restart", 10],
];
const MAX_FAULTS = 2_000;

/** Draws the whole schedule up front, so that it depends on the seed alone. */
export function planFaults(random: Random, o: PlanOptions): PlannedFault[] {
  const kinds = WEIGHTS.filter(([kind]) => o.partitions || kind !== "isolate");
  const total = kinds.reduce((sum, [, w]) => sum + w, 0);
  const plan: PlannedFault[] = [];
  // Restarts and elections take time the schedule cannot know; ~1.5 s per fault is typical here.
  for (let elapsed = 0, n = 1; elapsed < o.durationMs && n <= MAX_FAULTS; n++) {
    let roll = random.int(total);
    const kind = kinds.find(([, w]) => (roll -= w) < 0)?.[0] ?? "pause";
    const gapMs = random.between(1_000, 4_000);
    const holdMs = kind === "rolling-restart" ? 0 : random.between(500, 5_000);
    plan.push({ n, kind, targets: targetsFor(random, kind, o.members), gapMs, holdMs });
    elapsed += gapMs + holdMs + (kind === "rolling-restart" ? 2_000 * o.members : 1_500);
  }
  return plan;
}

function targetsFor(random: Random, kind: FaultKind, members: number): number[] {
  if (kind === "leader-kill" || kind === "rolling-restart") return [];
  const count = random.between(1, Math.floor((members - 1) / 2));
  const all = Array.from({ length: members }, (_, i) => i);
  const chosen: number[] = [];
  while (chosen.length < count) chosen.push(...all.splice(random.int(all.length), 1));
  return chosen.sort((a, b) => a - b);
}

/** A one-line description, e.g. "pause member 1 for 3.1 s". */
export function describeFault(f: PlannedFault): string {
  const who = f.targets.length === 1 ? `member ${f.targets[0] ?? "?"}` : `members ${f.targets.join(",")}`;
  const hold = `for ${(f.holdMs / 1000).toFixed(1)} s`;
  switch (f.kind) {
    case "kill":
      return `SIGKILL ${who}, restart after ${(f.holdMs / 1000).toFixed(1)} s`;
    case "pause":
      return `SIGSTOP ${who} ${hold}, then SIGCONT`;
    case "isolate":
      return `isolate ${who} from its peers ${hold}`;
    case "leader-kill":
      return `SIGKILL the leader, restart after ${(f.holdMs / 1000).toFixed(1)} s`;
    case "rolling-restart":
      return "rolling restart of every member (SIGTERM, start, wait healthy)";
  }
}

/** Runs the schedule until it ends or `stopped()`; every fault is repaired before this resolves. */
export async function runNemesis(cluster: Cluster, plan: readonly PlannedFault[], o: NemesisOptions): Promise<FaultRecord[]> {
  const records: FaultRecord[] = [];
  const since = (): number => performance.now() - o.startedAt;
  try {
    for (const fault of plan) {
      if (await pauseUnless(fault.gapMs, o.stopped)) break;
      const record: FaultRecord = { fault, at: since(), targets: fault.targets, repairedAt: 0 };
      records.push(record);
      try {
        await inject(cluster, record, o);
        await cluster.waitHealthy(undefined, 30_000);
      } catch (error) {
        record.error = error instanceof Error ? error.message.split("\n")[0] : String(error);
      }
      record.repairedAt = since();
      o.log(`  fault #${fault.n} at ${(record.at / 1000).toFixed(1)} s: ${describeFault({ ...fault, targets: record.targets })}` +
        ` (targets ${record.targets.join(",") || "-"}; repaired at ${(record.repairedAt / 1000).toFixed(1)} s)` +
        (record.restartedLeader === undefined ? "" : `; member ${record.restartedLeader} was the leader: SIGKILL and restart instead of SIGCONT`) +
        (record.error === undefined ? "" : `: ${record.error}`));
    }
  } finally {
    await repairAll(cluster);
  }
  return records;
}

async function inject(cluster: Cluster, record: FaultRecord, o: NemesisOptions): Promise<void> {
  const { fault } = record;
  const { stopped } = o;
  const members = (): ReturnType<Cluster["member"]>[] => record.targets.map((i) => cluster.member(i));
  switch (fault.kind) {
    case "leader-kill":
      record.targets = [await cluster.leader(10_000)];
      return killHoldStart(members(), fault.holdMs, stopped);
    case "kill":
      return killHoldStart(members(), fault.holdMs, stopped);
    case "pause": {
      // Unknown leadership counts as leading: restarting a follower costs only a rejoin.
      const leader = o.restartPausedLeader === true ? await cluster.leader(2_000).catch(() => -1) : undefined;
      for (const m of members()) await m.pause();
      await pauseUnless(fault.holdMs, stopped);
      for (const m of members()) {
        if (leader === undefined || (leader !== -1 && leader !== m.index)) {
          await m.resume();
          continue;
        }
        record.restartedLeader = m.index;
        await m.kill();
        await m.start(30_000);
      }
      return;
    }
    case "isolate":
      for (const m of members()) await m.isolate();
      await pauseUnless(fault.holdMs, stopped);
      for (const m of members()) m.heal();
      return;
    case "rolling-restart":
      record.targets = cluster.members.map((m) => m.index);
      for (const m of cluster.members) {
        if (stopped()) return;
        await m.restart(30_000);
        await cluster.waitHealthy(undefined, 30_000);
      }
      return;
  }
}

async function killHoldStart(members: readonly ReturnType<Cluster["member"]>[], holdMs: number, stopped: () => boolean): Promise<void> {
  for (const m of members) await m.kill();
  await pauseUnless(holdMs, stopped);
  for (const m of members) await m.start(30_000);
}

/** Undoes whatever a failed or interrupted fault left behind. */
export async function repairAll(cluster: Cluster): Promise<void> {
  for (const m of cluster.members) {
    m.heal();
    if (m.paused) await m.resume();
    if (!m.running) await m.start(30_000).catch(() => undefined);
  }
  await cluster.waitHealthy(undefined, 30_000).catch(() => undefined);
}

/** Waits `ms`, checking `stopped` every 100 ms; true if it was stopped. */
async function pauseUnless(ms: number, stopped: () => boolean): Promise<boolean> {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    if (stopped()) return true;
    await new Promise((resolve) => setTimeout(resolve, Math.min(100, until - performance.now())));
  }
  return stopped();
}
