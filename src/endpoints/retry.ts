/**
 * The retry policy: go-etcd's CheckRetry hook, and the default that replaces its fixed sleeps.
 */
import { canRetry, type EtcdError, type Repeat } from "../errors.js";
import { DEFAULTS } from "../options.js";

/** What a retry policy sees after a failed attempt. */
export interface RetryContext {
  /** How many attempts this call has made so far (1 after the first failure). */
  readonly attempt: number;
  /**
   * How many of those failed because their member had no leader (an election under way): the
   * default policy does not count them, since every member fails so until the new leader is
   * up, and the call's deadline bounds the wait anyway.
   */
  readonly leaderless: number;
  /** The member the failed attempt went to. */
  readonly endpoint: string;
  /** Why it failed. */
  readonly error: EtcdError;
  /** The raw reply, when one arrived (an HTTP status, headers and body for v2). */
  readonly response: unknown;
  /** How many members the client knows. */
  readonly members: number;
  /** How safely the operation can be sent again (see `Repeat`). */
  readonly repeat: Repeat;
  /** `canRetry(error, repeat)`: false when re-sending could apply the operation twice. */
  readonly safe: boolean;
}

/** A retry policy's answer: try again after `delay` ms, or give up. */
export type RetryDecision =
  | {
      /** Try again. */
      readonly retry: true;
      /** Milliseconds to wait first. */
      readonly delay: number;
    }
  | {
      /** Give up: the call fails. */
      readonly retry: false;
    };

/** Decides whether a failed attempt is retried (go-etcd's `CheckRetry`). */
export type CheckRetry = (context: RetryContext) => RetryDecision;

/**
 * The default policy: retry what is safe, up to 2 × members attempts. The first pass over the
 * members is immediate (a dead member should cost nothing), then exponential backoff with jitter.
 */
export const defaultCheckRetry: CheckRetry = (context) => {
  if (!context.safe) return { retry: false };
  const counted = context.attempt - context.leaderless;
  if (counted >= 2 * context.members) return { retry: false };
  return { retry: true, delay: backoffDelay(counted, context.members) };
};

/** The delay before attempt `attempt + 1`: zero during the first pass, then capped exponential with jitter. */
export function backoffDelay(attempt: number, members: number, random: () => number = Math.random): number {
  const beyond = attempt - members;
  if (beyond < 0) return 0;
  const ceiling = Math.min(DEFAULTS.backoffCap, DEFAULTS.backoffBase * 2 ** beyond);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Builds the context the policy sees. */
export function retryContext(attempt: number, endpoint: string, error: EtcdError, members: number, repeat: Repeat, leaderless: number): RetryContext {
  return { attempt, endpoint, error, response: error.response, members, repeat, safe: canRetry(error, repeat), leaderless };
}

/** True when an attempt failed because its member had no leader: etcd said so, or a probe found it so. */
export function isLeaderless(error: EtcdError): boolean {
  return error.code === "NO_LEADER" || error.health === "no-leader";
}

/**
 * The wait before a long-lived poll or stream (watch, lease keep-alive) reconnects after failing
 * `step` times in a row: capped exponential with jitter, so that many clients do not reconnect
 * in step after a member dies.
 */
export function reconnectDelay(step: number, base: number, cap: number, random: () => number = Math.random): number {
  const ceiling = Math.min(cap, base * 2 ** Math.min(Math.max(step, 0), 10));
  return ceiling / 2 + random() * (ceiling / 2);
}

/** Waits `ms`, or less once `signal` aborts; never rejects, so a stopped loop just sees its signal. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
