/** One cluster member as the engine sees it: its state and the attempts in flight to it. */
import type { SetAsideReason } from "./events.js";

/**
 * A member's states:
 * - `active`: may be chosen for new requests;
 * - `set-aside`: failed, hung, leaderless or stale; not chosen while another member is active,
 *   and probed in the background until it answers healthy again;
 * - `removed`: no longer in the member list; attempts in flight finish, nothing new goes there.
 */
export type MemberState = "active" | "set-aside" | "removed";

/** One attempt in flight: the engine may abort it when a probe finds its member hung or leaderless. */
export interface Attempt {
  readonly controller: AbortController;
  readonly longPoll: boolean;
  readonly startedAt: number;
  /** For raft proposals: the highest term the client had seen when it was sent (0: none yet). */
  readonly proposalTerm: number | undefined;
}

/** The engine's record of one member. */
export class Member {
  /** The member's client URL. */
  readonly url: string;
  /** See `MemberState`. */
  state: MemberState = "active";
  /** Why it was set aside, while it is. */
  reason: SetAsideReason | undefined;
  /**
   * Whether the member's process answered when it was set aside (leaderless, a server error, a
   * stale reply) rather than being unreachable: a living member usually comes back after an
   * election, so calls wait for it instead of spending their attempts.
   */
  answered = false;
  /** Ordinary attempts in flight, oldest first (a Set keeps insertion order). */
  readonly inflight = new Set<Attempt>();
  /** Long polls (watches) in flight, kept apart so their age never counts against the member. */
  readonly polls = new Set<Attempt>();
  /** The probe in flight, if any: probes of one member are never run twice at once. */
  probing = false;
  /** When a request to this member last succeeded: a member that answers is slow, not hung. */
  lastSuccessAt = 0;
  /** When the last probe started; a new member counts as just probed, so nothing is sent at start-up. */
  lastProbeAt = performance.now();

  /** Creates a member record for a client URL. */
  constructor(url: string) {
    this.url = url;
  }

  /** How long the oldest ordinary attempt in flight has waited, or 0. */
  oldestWait(now: number): number {
    for (const attempt of this.inflight) return now - attempt.startedAt;
    return 0;
  }

  /** The set an attempt belongs in. */
  setFor(attempt: Attempt): Set<Attempt> {
    return attempt.longPoll ? this.polls : this.inflight;
  }
}
