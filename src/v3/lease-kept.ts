/**
 * The two halves of a kept lease (lease-keepalive.ts): `KeptLease`, the one record per lease ID
 * that the keep-alive stream renews, and `Handle`, what each `keepAlive()` caller holds. A lease
 * is kept alive while it has a handle; each handle learns of a loss once, unless it was closed.
 */
import type { EtcdError } from "../errors.js";
import type { LeaseKeepAlive } from "./lease-keepalive.js";

/** One kept lease, shared by every handle of it. */
export class KeptLease {
  readonly id: bigint;
  readonly handles = new Set<Handle>();
  /** The TTL etcd granted last, in seconds; 0 while unknown. */
  ttl: number;
  /** Until when (performance.now ms) the lease certainly lives. */
  deadline: number;
  /** When the next renewal is due. */
  dueAt: number;
  /** When the renewal unanswered on the current stream was sent, if one is. */
  sentAt: number | undefined;

  constructor(id: bigint, ttl: number, deadline: number) {
    this.id = id;
    this.ttl = ttl;
    this.deadline = deadline;
    this.dueAt = performance.now();
  }

  /**
   * A renewal unanswered for this long means the stream's member is hung or cut off: a third of
   * the TTL, so that a second member is tried well before the deadline, within [0.5 s, 1.5 s]
   * so that a healthy member forwarding to a leader under load is not left needlessly.
   */
  get hungAfter(): number {
    return this.ttl === 0 ? 1500 : Math.min(1500, Math.max(500, (this.ttl * 1000) / 3));
  }
}

/** The caller's handle on a kept lease. */
export class Handle implements LeaseKeepAlive {
  readonly id: bigint;
  readonly lost: Promise<EtcdError>;
  readonly #lease: KeptLease;
  readonly #release: (handle: Handle) => void;
  readonly #signal: AbortSignal | undefined;
  #resolve!: (error: EtcdError) => void;
  #ended = false;

  constructor(lease: KeptLease, release: (handle: Handle) => void, signal: AbortSignal | undefined) {
    this.id = lease.id;
    this.#lease = lease;
    this.#release = release;
    this.#signal = signal;
    this.lost = new Promise((resolve) => (this.#resolve = resolve));
    signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  readonly #onAbort = (): void => {
    this.close();
  };

  get ttl(): number {
    return this.#lease.ttl;
  }

  get expiresAt(): number {
    return this.#lease.deadline;
  }

  close(): void {
    if (!this.end()) return;
    this.#release(this);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** Marks the handle ended without telling its lease; false if it already was. */
  end(): boolean {
    if (this.#ended) return false;
    this.#ended = true;
    this.#signal?.removeEventListener("abort", this.#onAbort);
    return true;
  }

  /** Reports the loss, unless the handle was closed. */
  report(error: EtcdError): void {
    if (this.end()) this.#resolve(error);
  }
}
