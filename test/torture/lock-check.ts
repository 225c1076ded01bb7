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
          `${(latest.end - h.start).toFixed(1)} ms of overlap`,
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
