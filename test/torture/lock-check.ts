/**
 * Checkers of the lock and election torture workloads (pure: they read a recorded run).
 * - Exclusion: the intervals in which clients believed they held the lock (or led), from the
 *   moment `lock()`/`campaign()` resolved to the earlier of the `unlock()`/`resign()` call and the
 *   abort of the lock's signal, never overlap. All times are `performance.now()` of this one process,
 *   so they share one clock.
 * - Observation: the leaders `observe()` reported came in election order (create revisions only
 *   grow), and every leader that led at least `mustSeeMs` was reported. A shorter reign may be
 *   skipped, as by Go's Observe: after a leader's key is deleted, the observer reads whoever
 *   leads at that moment.
 */

/** One interval of believed ownership. */
export interface Holding {
  readonly worker: number;
  /** The lock or leader key. */
  readonly key: string;
  /** Its create revision, as a decimal string (records are JSON). */
  readonly revision: string;
  readonly start: number;
  readonly end: number;
  /** How the belief ended: unlock/resign, the signal's abort, or the run's end. */
  readonly endedBy: "release" | "signal" | "stop";
  /** For a belief ended by the signal: its reason, and the session's certain deadline then (ms), to tell a late timer from a lease etcd ended early. */
  readonly loss?: { readonly reason: string; readonly certainUntil: number } | undefined;
}

/**
 * Why a belief ended by its signal ended when it did: if the newcomer acquired before the old
 * holder's certain deadline, etcd let the lease go before TTL after a renewal it acknowledged
 * (no client timer could have helped); otherwise the holder's timer fired late.
 */
function lossDetail(h: Holding, newcomerAt: number): string {
  if (h.loss === undefined) return "";
  const before = h.loss.certainUntil - newcomerAt;
  const verdict = before > 0 ? `the newcomer acquired ${before.toFixed(1)} ms BEFORE the old lease's certain deadline: etcd ended the lease early` : `the newcomer acquired ${(-before).toFixed(1)} ms after the old lease's certain deadline: the holder's loss timer fired late`;
  return `; the old holder's signal said "${h.loss.reason}"; ${verdict}`;
}

/** One report of `observe()`. */
export interface Observation {
  readonly at: number;
  readonly key: string;
  readonly revision: string;
}

/** Pairs of holdings whose intervals overlap (each described in one line). */
export function overlaps(holdings: readonly Holding[]): string[] {
  const sorted = [...holdings].filter((h) => h.end > h.start).sort((a, b) => a.start - b.start);
  const problems: string[] = [];
  let latest: Holding | undefined;
  for (const h of sorted) {
    if (latest !== undefined && h.start < latest.end) {
      problems.push(
        `worker ${h.worker} (${h.key}, revision ${h.revision}) believed it held from ${h.start.toFixed(1)} ms, ` +
          `while worker ${latest.worker} (${latest.key}, revision ${latest.revision}) still did until ${latest.end.toFixed(1)} ms (ended by ${latest.endedBy}): ` +
          `${(latest.end - h.start).toFixed(1)} ms of overlap${lossDetail(latest, h.start)}`,
      );
    }
    if (latest === undefined || h.end > latest.end) latest = h;
  }
  return problems;
}

/** Problems with what `observe()` reported, given the leaderships that were held. */
export function observationProblems(observed: readonly Observation[], leaders: readonly Holding[], mustSeeMs: number): string[] {
  const problems: string[] = [];
  let last = -1n;
  for (const o of observed) {
    const revision = BigInt(o.revision);
    if (revision < last) problems.push(`observe reported ${o.key} (revision ${o.revision}) at ${o.at.toFixed(1)} ms after a leader of revision ${last}`);
    if (revision > last) last = revision;
  }
  const seen = new Set(observed.map((o) => `${o.key}@${o.revision}`));
  for (const l of leaders) {
    if (l.end - l.start >= mustSeeMs && !seen.has(`${l.key}@${l.revision}`)) {
      problems.push(`observe never reported worker ${l.worker}'s leadership ${l.key} (revision ${l.revision}), held ${(l.end - l.start).toFixed(0)} ms`);
    }
  }
  return problems;
}
