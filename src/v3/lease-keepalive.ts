/**
 * Lease keep-alive: every kept lease of a client on ONE LeaseKeepAlive stream, run as an
 * endpoint-engine long poll so that the engine's health checks (hung, leaderless, isolated
 * member) and member moves apply to it.
 *
 * States of the shared stream are the supervisor's (stream-supervisor.ts, `state`):
 * - `idle`: no lease kept alive, no stream, no timer; the first `keepAlive` starts it;
 * - `opening`: the engine picks a member, the token is fetched, the stream is opened with
 *   require-leader (`hasleader`), and every kept lease is due at once;
 * - `open` (a KeepAliveStream): each lease is renewed a third of its TTL after its last
 *   acknowledged renewal was sent; a renewal unanswered for `hungAfter` means the member is hung
 *   or cut off, and the stream moves;
 * - `backing-off`: the engine gave up on every member, or streams made no progress; wait
 *   briefly (25-50 ms doubling to 500 ms), then open again, for as long as a lease is kept
 *   alive; a stream that got a renewal acknowledged reconnects at once;
 * - `closed`: `close()`.
 * No stream failure ends a lease: only its deadline or etcd's answer does.
 * States of one kept lease (KeptLease): `due` → `awaiting` (one renewal unanswered on the
 * stream) → `renewed` → `due` …, ending `lost` or `released` (every handle closed). A stream
 * failure puts every lease back to `due` on the next stream.
 *
 * Loss is decided locally, as Go's clientv3 deadline loop does it, but at 1×TTL (etcd3 on npm
 * notices at 2×TTL): etcd keeps a lease at least TTL seconds after it renewed it, and it renewed
 * it no earlier than the client sent the renewal, so `sent time + TTL` is a deadline the lease
 * certainly lives to. Once it passes without a newer acknowledgement, the lease may be gone and
 * `lost` resolves at once. A server answer of TTL <= 0 (lease not found) is final.
 */
import { EtcdError, type EtcdErrorCode } from "../errors.js";
import type { Metadata } from "../transport/grpc.js";
import { invalid, leaseHex, optionsOf, toInt64 } from "./convert.js";
import { LeaseKeepAliveRequest, LeaseKeepAliveResponse } from "./gen/etcdserverpb.js";
import { METHODS } from "./methods.js";
import { decode, type V3Rpc } from "./rpc.js";
import { Handle, KeptLease } from "./lease-kept.js";
import { StreamSupervisor, SupervisedStream, asEtcdError, type SupervisorState } from "./stream-supervisor.js";

export { REQUIRE_LEADER, asEtcdError, movable } from "./stream-supervisor.js";

/** Options of `lease.keepAlive`. */
export interface LeaseKeepAliveOptions {
  /** Aborting it is `close()`: the lease is no longer kept alive (and not revoked). */
  readonly signal?: AbortSignal | undefined;
}

/** A lease being kept alive, as `lease.keepAlive` returns it. */
export interface LeaseKeepAlive extends Disposable {
  /** The lease's ID. */
  readonly id: bigint;
  /**
   * Resolves (never rejects) with a LEASE_LOST error as soon as the lease may have expired: no
   * renewal acknowledged within its TTL (the cause is the last stream failure, if any), etcd
   * answered that the lease is gone (cause LEASE_NOT_FOUND), or this client revoked it; with
   * CLIENT_DESTROYED (cause: the reason given) when the client is destroyed. It never resolves
   * after `close()`, nor after the client is closed: stopping on purpose is not a loss.
   */
  readonly lost: Promise<EtcdError>;
  /** The TTL etcd granted at the last renewal, in seconds (the grant's TTL, or 0 if unknown, before the first). */
  readonly ttl: number;
  /** `performance.now()` time (ms) until which the lease is certainly alive, as far as the client knows. */
  readonly expiresAt: number;
  /** Stops keeping the lease alive (it expires after its TTL unless revoked); idempotent. */
  close(): void;
}

/** A keep-alive stream ends as it is for no code: leases are lost only by their deadline or etcd's answer. */
const NOTHING_FATAL: ReadonlySet<EtcdErrorCode> = new Set();
const TICK_MS = 50;
const BACKOFF_BASE_MS = 50;
const BACKOFF_CAP_MS = 500;
/** Grants remembered so that a `keepAlive` right after `grant` knows the lease's deadline before any renewal. */
const KNOWN_MAX = 1024;

/** What a keep-alive stream tells its owner. */
interface StreamOwner {
  onAck(response: LeaseKeepAliveResponse, endpoint: string): void;
  onSettled(stream: KeepAliveStream, error: EtcdError | undefined): void;
}

/** One LeaseKeepAlive stream on one member; its life (abort, writes, how it ended) is the supervisor's. */
class KeepAliveStream extends SupervisedStream {
  readonly #owner: StreamOwner;

  constructor(rpc: V3Rpc, endpoint: string, signal: AbortSignal, metadata: Metadata, owner: StreamOwner) {
    super(rpc, endpoint, signal, metadata, "keep-alive", NOTHING_FATAL);
    this.#owner = owner;
    this.connect(METHODS.leaseKeepAlive, metadata);
  }

  /** False once the stream has ended (a method's result, so callers re-read it after sending). */
  isOpen(): boolean {
    return !this.finished;
  }

  /** Sends one renewal. */
  send(id: bigint): void {
    this.write(LeaseKeepAliveRequest.encode({ ID: id }).finish());
  }

  protected override settled(error: EtcdError | undefined): void {
    this.#owner.onSettled(this, error);
  }

  protected onMessage(message: Uint8Array): void {
    let response: LeaseKeepAliveResponse;
    try {
      response = decode(LeaseKeepAliveResponse, message, this.endpoint);
    } catch (error) {
      this.fail(asEtcdError(error, this.endpoint));
      return;
    }
    this.#owner.onAck(response, this.endpoint);
  }
}

/** Every kept lease of one client, their one stream, and the timer that renews them and notices loss. */
export class KeepAliveManager {
  readonly #rpc: V3Rpc;
  readonly #kept = new Map<bigint, KeptLease>();
  readonly #known = new Map<bigint, { readonly ttl: number; readonly deadline: number }>();
  readonly #supervisor: StreamSupervisor<KeepAliveStream>;
  readonly #owner: StreamOwner;
  #stream: KeepAliveStream | undefined;
  #ticker: NodeJS.Timeout | undefined;
  /** Why the last stream attempt failed, since the last acknowledgement: the cause of a loss by deadline. */
  #lastError: EtcdError | undefined;
  #closed = false;

  /** Binds the client's rpc plumbing; nothing is sent until the first keepAlive. */
  constructor(rpc: V3Rpc) {
    this.#rpc = rpc;
    this.#owner = {
      onAck: (response, endpoint) => {
        this.#onAck(response, endpoint);
      },
      onSettled: (stream, error) => {
        this.#onSettled(stream, error);
      },
    };
    this.#supervisor = new StreamSupervisor<KeepAliveStream>(rpc, {
      name: "leaseKeepAlive",
      backoffBase: BACKOFF_BASE_MS,
      backoffCap: BACKOFF_CAP_MS,
      wanted: () => this.#kept.size > 0 && !this.#closed,
      open: (endpoint, signal, metadata) => this.#open(endpoint, signal, metadata),
      gaveUp: (error) => {
        // Leases are never ended by a stream failure: only their deadline decides loss.
        this.#lastError = asEtcdError(error, undefined);
        return false;
      },
    });
  }

  /** Where the keep-alive stream is in its life (the supervisor's state). */
  get state(): SupervisorState {
    return this.#supervisor.state;
  }

  /**
   * Keeps a lease alive until the handle is closed or the lease is lost: a renewal at once, then
   * every third of its TTL, on the client's one keep-alive stream. Before the first renewal is
   * acknowledged the lease is known to live until its grant's TTL ends, if this client granted
   * it, or otherwise is given `requestTimeout` for a first answer. Throws INVALID_ARGUMENT for a
   * bad ID and CLIENT_CLOSED after `close()`.
   */
  keepAlive(id: bigint, options?: LeaseKeepAliveOptions): LeaseKeepAlive {
    if (this.#closed) throw new EtcdError("CLIENT_CLOSED", "the client is closed");
    const leaseId = leaseIdOf(id);
    const o = optionsOf(options, "keepAlive");
    const signal: unknown = o.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalid("signal must be an AbortSignal");
    let lease = this.#kept.get(leaseId);
    if (lease === undefined) {
      const now = performance.now();
      const known = this.#known.get(leaseId);
      lease = known !== undefined && known.deadline > now ? new KeptLease(leaseId, known.ttl, known.deadline) : new KeptLease(leaseId, 0, now + this.#rpc.engine.requestTimeout);
    }
    const handle = new Handle(lease, (h) => {
      this.#release(h);
    }, o.signal);
    if (o.signal?.aborted === true) {
      handle.end();
      return handle;
    }
    lease.handles.add(handle);
    if (!this.#kept.has(leaseId)) {
      this.#kept.set(leaseId, lease);
      this.#start();
      this.#pump(performance.now());
    }
    return handle;
  }

  /** Stops every keep-alive (their `lost` never resolves; nothing is revoked) and the stream. Idempotent. */
  close(): Promise<void> {
    return this.#shut(undefined);
  }

  /**
   * As `close()`, but every kept lease's `lost` resolves with `error` at once: the client was
   * destroyed, so nothing renews the lease any more and it will expire after its TTL.
   */
  destroy(error: EtcdError): Promise<void> {
    return this.#shut(error);
  }

  async #shut(destroyed: EtcdError | undefined): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      for (const lease of this.#kept.values()) for (const handle of lease.handles) {
        if (destroyed === undefined) handle.end();
        else handle.report(destroyed);
      }
      this.#kept.clear();
      this.#idle();
    }
    await this.#supervisor.close();
  }

  /** Starts the timer and the stream loop unless they run. */
  #start(): void {
    if (this.#ticker === undefined) {
      this.#ticker = setInterval(() => {
        this.#tick();
      }, TICK_MS);
      this.#ticker.unref();
    }
    this.#supervisor.start();
  }

  /** No lease is kept alive any more: the timer stops and the stream ends. */
  #idle(): void {
    clearInterval(this.#ticker);
    this.#ticker = undefined;
    this.#stream?.end("idle");
  }

  /** Opens a stream on `endpoint` for the supervisor; every kept lease is due on it at once. */
  #open(endpoint: string, signal: AbortSignal, metadata: Metadata): KeepAliveStream {
    const stream = new KeepAliveStream(this.#rpc, endpoint, signal, metadata, this.#owner);
    this.#stream = stream;
    const now = performance.now();
    for (const lease of this.#kept.values()) {
      lease.sentAt = undefined;
      lease.dueAt = now;
    }
    this.#pump(now);
    return stream;
  }

  #onSettled(stream: KeepAliveStream, error: EtcdError | undefined): void {
    if (this.#stream !== stream) return;
    this.#stream = undefined;
    if (error !== undefined) this.#lastError = error;
    // Renewals unanswered on this stream are re-sent on the next one, at once.
    for (const lease of this.#kept.values()) lease.sentAt = undefined;
  }

  #tick(): void {
    const now = performance.now();
    for (const lease of this.#kept.values()) {
      if (now >= lease.deadline) this.lose(lease.id, this.#expired(lease, now));
    }
    this.#pump(now);
  }

  /** Sends the renewals that are due, and leaves a member that sits on one too long. */
  #pump(now: number): void {
    const stream = this.#stream;
    if (stream === undefined || !stream.isOpen()) return;
    for (const lease of this.#kept.values()) {
      if (lease.sentAt === undefined) {
        if (now < lease.dueAt) continue;
        lease.sentAt = now;
        stream.send(lease.id);
      } else if (now - lease.sentAt >= lease.hungAfter) {
        stream.fail(new EtcdError("UNAVAILABLE", `${stream.endpoint} did not answer a lease renewal within ${lease.hungAfter.toFixed(0)} ms`, {
          endpoint: stream.endpoint,
          delivery: "pending",
        }));
      }
      if (!stream.isOpen()) return;
    }
  }

  #onAck(response: LeaseKeepAliveResponse, endpoint: string): void {
    const lease = this.#kept.get(response.ID);
    if (lease === undefined) return;
    if (response.TTL <= 0n) {
      this.lose(lease.id, gone(lease.id, new EtcdError("LEASE_NOT_FOUND", `etcd has no lease ${leaseHex(lease.id)}`, { endpoint })));
      return;
    }
    const sentAt = lease.sentAt;
    if (sentAt === undefined) return;
    this.#supervisor.progressed();
    this.#lastError = undefined;
    const ttl = Number(response.TTL);
    lease.sentAt = undefined;
    lease.ttl = ttl;
    lease.deadline = sentAt + ttl * 1000;
    lease.dueAt = sentAt + (ttl * 1000) / 3;
  }

  #expired(lease: KeptLease, now: number): EtcdError {
    const last = this.#lastError;
    const why = last === undefined ? "" : ` (last keep-alive stream failure: ${last.message})`;
    const what =
      lease.ttl === 0
        ? `no renewal of lease ${leaseHex(lease.id)} was acknowledged within ${this.#rpc.engine.requestTimeout} ms of keepAlive()`
        : `lease ${leaseHex(lease.id)} was not renewed within its ${lease.ttl} s TTL: no renewal acknowledged for ${(now - lease.deadline + lease.ttl * 1000).toFixed(0)} ms`;
    return new EtcdError("LEASE_LOST", `${what}, so etcd may have expired it${why}`, { endpoint: last?.endpoint, cause: last });
  }

  /** Reports a lease lost to every handle of it and stops keeping it alive (revoked, or found gone). */
  lose(id: bigint, error: EtcdError): void {
    this.#known.delete(id);
    const lease = this.#kept.get(id);
    if (lease === undefined) return;
    this.#kept.delete(id);
    for (const handle of lease.handles) handle.report(error);
    if (this.#kept.size === 0) this.#idle();
  }

  /** A handle was closed: the lease stops being kept alive once it has none, and its deadline is remembered. */
  #release(handle: Handle): void {
    const lease = this.#kept.get(handle.id);
    if (lease === undefined || !lease.handles.delete(handle) || lease.handles.size > 0) return;
    this.#kept.delete(lease.id);
    this.remember(lease.id, lease.ttl, lease.deadline);
    if (this.#kept.size === 0) this.#idle();
  }

  /** Remembers until when a lease certainly lives (a grant, a released keep-alive), for a later keepAlive of it. */
  remember(id: bigint, ttl: number, deadline: number): void {
    this.#known.delete(id);
    this.#known.set(id, { ttl, deadline });
    if (this.#known.size > KNOWN_MAX) {
      const oldest = this.#known.keys().next();
      if (oldest.done !== true) this.#known.delete(oldest.value);
    }
  }
}

/** A lease ID argument: a positive 64-bit integer. */
export function leaseIdOf(id: bigint): bigint {
  const value = toInt64(id, "lease ID");
  if (value === 0n) throw invalid("a lease ID must be above 0");
  return value;
}

/** The LEASE_LOST that a final answer from etcd (lease not found) becomes. */
export function gone(id: bigint, cause: EtcdError): EtcdError {
  return new EtcdError("LEASE_LOST", `etcd says lease ${leaseHex(id)} has expired or was revoked`, { endpoint: cause.endpoint, cause });
}
