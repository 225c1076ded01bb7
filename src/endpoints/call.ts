/**
 * The lifetime of one engine call across its attempts: the caller's signal, the overall
 * deadline, and the attempt currently in flight (which either ends).
 */
import { EtcdError } from "../errors.js";

/** How a call ended early, when it did. */
export type CallEnd = { readonly kind: "aborted"; readonly reason: unknown } | { readonly kind: "deadline"; readonly ms: number };

/**
 * Deadlines at most this far off get their timer when the call starts; later ones only when the
 * engine's tick (every 50 ms) finds the call still running. Most calls end within a few ms, and a
 * timer each (created, listed, cleared and collected) cost 8–13 % of a v3 range's client CPU
 * (docs/performance.md, "Client CPU per call, round 3").
 */
export const EAGER_DEADLINE_MS = 200;

/** Tracks a call's signal and deadline, and aborts its current attempt when either fires. */
export class CallScope {
  private end: CallEnd | undefined;
  /** The controller of the attempt in flight, if one is. */
  current: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly signal: AbortSignal | undefined;
  private readonly timeoutMs: number;
  private readonly deadlineAt: number;
  private wake: (() => void) | undefined;
  private onAbort: (() => void) | undefined;

  /** Listens to the caller's signal and starts the deadline (its timer at once when it is near, else on `arm`). */
  constructor(signal: AbortSignal | undefined, timeoutMs: number, now = performance.now()) {
    this.signal = signal;
    this.timeoutMs = timeoutMs > 0 && Number.isFinite(timeoutMs) ? timeoutMs : 0;
    this.deadlineAt = now + this.timeoutMs;
    if (signal?.aborted) {
      this.end = { kind: "aborted", reason: signal.reason };
      return;
    }
    if (signal !== undefined) {
      const onAbort = (): void => {
        this.finish({ kind: "aborted", reason: signal.reason });
      };
      this.onAbort = onAbort;
      signal.addEventListener("abort", onAbort, { once: true });
    }
    if (this.timeoutMs > 0 && this.timeoutMs <= EAGER_DEADLINE_MS) this.arm(now);
  }

  /** Starts the deadline's timer if the call has one and it is not running yet (the engine's tick calls this). */
  arm(now = performance.now()): void {
    if (this.timer !== undefined || this.timeoutMs === 0 || this.end !== undefined) return;
    const ms = this.timeoutMs;
    this.timer = setTimeout(
      () => {
        this.finish({ kind: "deadline", ms });
      },
      Math.max(0, this.deadlineAt - now),
    );
  }

  private finish(end: CallEnd): void {
    if (this.end !== undefined) return;
    this.end = end;
    this.current?.abort(endError(end, false, "", []));
    this.wake?.();
  }

  /** Ends the call now with `reason` (the client was destroyed); its attempt in flight is aborted. */
  abort(reason: unknown): void {
    this.finish({ kind: "aborted", reason });
  }

  /** Waits `ms`, returning early when the call ends. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  /** Ends a `sleep` early (something the call waits for happened). */
  wakeUp(): void {
    this.wake?.();
  }

  /** How the call ended early, or undefined while it runs (a method, so callers re-read it after awaits). */
  ended(): CallEnd | undefined {
    return this.end;
  }

  /** Releases the timer and the signal listener. */
  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.onAbort !== undefined) this.signal?.removeEventListener("abort", this.onAbort);
  }
}

/**
 * The error a call ends with when the caller aborted (the signal's reason, unchanged) or the
 * deadline passed (TIMEOUT, or OUTCOME_UNKNOWN when an unrepeatable request was in flight).
 */
export function endError(end: CallEnd, inFlightUnsafe: boolean, name: string, errors: readonly EtcdError[]): unknown {
  if (end.kind === "aborted") return end.reason;
  const timeout = new EtcdError("TIMEOUT", `${name || "request"} timed out after ${end.ms} ms`, {
    delivery: "pending",
    errors,
  });
  if (!inFlightUnsafe) return timeout;
  return new EtcdError("OUTCOME_UNKNOWN", `${name} timed out after ${end.ms} ms; it may or may not have been applied`, {
    delivery: "pending",
    errors,
    cause: timeout,
  });
}
