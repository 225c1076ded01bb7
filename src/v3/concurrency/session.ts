/**
 * A concurrency session: one lease, kept alive on the client's shared keep-alive stream, whose
 * `signal` aborts no later than the moment etcd could expire the lease.
 *
 * Why the signal is safe: etcd keeps a lease at least TTL seconds after it applied a renewal, and
 * it applied it no earlier than the client sent it, so `send time of the last acknowledged
 * renewal + TTL` (the keep-alive handle's `expiresAt`) is a time the lease certainly lives to.
 * The session aborts at that deadline less a margin (a timer on a busy event loop fires late),
 * and at once when etcd answers that the lease is gone, when this client revokes it, or on
 * `close()`. Go's `concurrency.Session` only reports loss once its keep-alive channel closes,
 * which can be after the server expired the lease (etcd-io/etcd#11456).
 *
 * States: `live` → `lost` (the signal aborted for a loss; keep-alive stopped, lease revoked in
 * the background so whatever it holds is freed sooner) or `closed` (by `close()`).
 */
import { EtcdError } from "../../errors.js";
import { DEFAULTS } from "../../options.js";
import { invalid, leaseHex } from "../convert.js";
import type { LeaseKeepAlive } from "../lease.js";
import type { KvClient } from "./kv.js";

/** Options of `etcd.session`. */
export interface SessionOptions {
  /** The lease's TTL in whole seconds (default 60, as Go's concurrency package). */
  readonly ttl?: number | undefined;
  /** Aborts the lease grant. */
  readonly signal?: AbortSignal | undefined;
  /**
   * How many ms before the lease's certain deadline the signal aborts (default: 1 s, at most a
   * quarter of the TTL); raise it where the event loop can stall longer than that.
   */
  readonly margin?: number | undefined;
}

/** Where a session is in its life. */
type SessionState = "live" | "lost" | "closed";

/** A lease kept alive for locks and elections; see the file comment for what `signal` promises. */
export class Session implements AsyncDisposable {
  /** The lease's ID. */
  readonly lease: bigint;
  /** The TTL etcd granted, in seconds. */
  readonly ttl: number;
  /**
   * Aborted, with an EtcdError as its reason, as soon as the lease may be gone: LEASE_LOST
   * (no renewal acknowledged within the TTL less a margin, or etcd said the lease is gone),
   * SESSION_CLOSED (`close()`) or CLIENT_DESTROYED (the client's `destroy()`).
   */
  readonly signal: AbortSignal;
  readonly #client: KvClient;
  readonly #keepAlive: LeaseKeepAlive;
  readonly #controller = new AbortController();
  readonly #margin: number;
  #state: SessionState = "live";
  #timer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;

  /** Grants a lease of `options.ttl` seconds and starts keeping it alive. */
  static async open(client: KvClient, options: SessionOptions = {}): Promise<Session> {
    const ttl = options.ttl ?? DEFAULTS.sessionTtl;
    if (typeof ttl !== "number" || !Number.isSafeInteger(ttl) || ttl < 1) throw invalid(`a session TTL must be a positive whole number of seconds, got ${String(ttl)}`);
    const margin = options.margin;
    if (margin !== undefined && (typeof margin !== "number" || !Number.isFinite(margin) || margin < 0)) throw invalid(`a session margin must be a number of ms >= 0, got ${String(margin)}`);
    const granted = await client.lease.grant(ttl, { signal: options.signal });
    let keepAlive: LeaseKeepAlive;
    try {
      keepAlive = client.lease.keepAlive(granted.id);
    } catch (error) {
      await client.lease.revoke(granted.id).catch(() => undefined);
      throw error;
    }
    return new Session(client, granted.id, granted.ttl, keepAlive, margin ?? Math.min(DEFAULTS.sessionMargin, (granted.ttl * 1000) / 4));
  }

  private constructor(client: KvClient, lease: bigint, ttl: number, keepAlive: LeaseKeepAlive, margin: number) {
    this.#client = client;
    this.lease = lease;
    this.ttl = ttl;
    this.#keepAlive = keepAlive;
    this.signal = this.#controller.signal;
    this.#margin = margin;
    void keepAlive.lost.then((error) => {
      this.#lose(error);
    });
    this.#check();
  }

  /** `performance.now()` time (ms) until which the lease certainly lives, as far as this client knows. */
  get expiresAt(): number {
    return this.#keepAlive.expiresAt;
  }

  /** True until the signal aborts. */
  get live(): boolean {
    return this.#state === "live";
  }

  /**
   * Throws the signal's reason if the session is lost or closed, or if the safe deadline has
   * passed even though the timer has not fired yet (a stalled event loop): call it right before
   * an action that must not happen after a loss.
   */
  throwIfLost(): void {
    this.#check();
    this.signal.throwIfAborted();
  }

  /** Stops keeping the lease alive and revokes it (deleting every lock and candidate key on it); idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** `await using session = await etcd.session()` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    this.#end("closed", new EtcdError("SESSION_CLOSED", `session of lease ${leaseHex(this.lease)} was closed`));
    try {
      await this.#client.lease.revoke(this.lease);
    } catch (error) {
      // Already gone (expired, or revoked by another client): what close() wants.
      if (!(error instanceof EtcdError && error.code === "LEASE_NOT_FOUND")) throw error;
    }
  }

  /** Aborts the session for a loss; the lease is revoked in the background so that what it holds is freed now. */
  #lose(error: EtcdError): void {
    if (!this.#end("lost", error)) return;
    this.#client.lease.revoke(this.lease).catch(() => undefined);
  }

  /** Leaves the `live` state once: stops the timer and the keep-alive and aborts the signal. */
  #end(state: Exclude<SessionState, "live">, reason: EtcdError): boolean {
    if (this.#state !== "live") return false;
    this.#state = state;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#keepAlive.close();
    this.#controller.abort(reason);
    return true;
  }

  /** Aborts once the certain deadline less the margin has passed; otherwise looks again then. */
  readonly #check = (): void => {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#state !== "live") return;
    const now = performance.now();
    const limit = this.#keepAlive.expiresAt - this.#margin;
    if (now >= limit) {
      const late = Math.round(now - this.#keepAlive.expiresAt + this.#margin);
      this.#lose(new EtcdError("LEASE_LOST", `no keep-alive of lease ${leaseHex(this.lease)} was acknowledged in time: etcd may expire it within ${this.#margin} ms (checked ${late} ms past the safe limit)`));
      return;
    }
    this.#timer = setTimeout(this.#check, Math.max(1, Math.ceil(limit - now)));
    this.#timer.unref();
  };
}
