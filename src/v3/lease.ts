/**
 * v3 leases: grant, revoke, time-to-live, list and one-off renewal, each with the rule it follows
 * when a copy may have reached etcd. Keeping leases alive is the state machine in
 * lease-keepalive.ts.
 */
import { EtcdError } from "../errors.js";
import type { Operation } from "../endpoints/engine.js";
import type { CallOptions } from "../options.js";
import type { Metadata } from "../transport/grpc.js";
import { checkCall, flag, header, invalid, leaseHex, optionsOf, toInt64 } from "./convert.js";
import {
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseKeepAliveRequest,
  LeaseKeepAliveResponse,
  LeaseLeasesRequest,
  LeaseLeasesResponse,
  LeaseRevokeRequest,
  LeaseRevokeResponse,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
} from "./gen/etcdserverpb.js";
import { KeepAliveManager, REQUIRE_LEADER, asEtcdError, gone, leaseIdOf, movable, type LeaseKeepAlive, type LeaseKeepAliveOptions } from "./lease-keepalive.js";
import { METHODS } from "./methods.js";
import { callOptions, decode, type UnarySpec, type V3Rpc } from "./rpc.js";
import type { ResponseHeader } from "./types.js";

export type { LeaseKeepAlive, LeaseKeepAliveOptions } from "./lease-keepalive.js";

/** Options of `lease.grant`. */
export interface LeaseGrantOptions extends CallOptions {
  /** The lease ID to use; etcd picks one when absent or 0 (LEASE_EXISTS if it is taken). */
  readonly id?: bigint | undefined;
}

/** What `lease.grant` returns. */
export interface LeaseGrantResult {
  /** Who answered and at what revision. */
  readonly header: ResponseHeader;
  /** The lease's ID. */
  readonly id: bigint;
  /** The TTL etcd granted, in seconds (etcd raises TTLs below its minimum). */
  readonly ttl: number;
}

/** What `lease.revoke` returns. */
export interface LeaseRevokeResult {
  /** Who answered and at what revision. */
  readonly header: ResponseHeader;
}

/** Options of `lease.timeToLive`. */
export interface LeaseTimeToLiveOptions extends CallOptions {
  /** Also list the keys attached to the lease. */
  readonly keys?: boolean | undefined;
}

/** What `lease.timeToLive` returns. */
export interface LeaseTimeToLiveResult {
  /** Who answered and at what revision. */
  readonly header: ResponseHeader;
  /** The lease's ID. */
  readonly id: bigint;
  /** Seconds left; -1 when etcd no longer has the lease (expired, revoked or never granted). */
  readonly ttl: number;
  /** The TTL the lease was granted with, in seconds (0 when it is gone). */
  readonly grantedTtl: number;
  /** The keys attached to the lease, when `keys` was asked for. */
  readonly keys: Buffer[];
}

/** What `lease.list` returns. */
export interface LeaseListResult {
  /** Who answered and at what revision. */
  readonly header: ResponseHeader;
  /** The IDs of every lease etcd holds. */
  readonly leases: bigint[];
}

/** What `lease.keepAliveOnce` returns. */
export interface LeaseKeepAliveResult {
  /** Who answered and at what revision. */
  readonly header: ResponseHeader;
  /** The lease's ID. */
  readonly id: bigint;
  /** The TTL the lease was renewed for, in seconds. */
  readonly ttl: number;
}

const GRANT: UnarySpec<LeaseGrantRequest, LeaseGrantResponse> = { name: "leaseGrant", path: METHODS.leaseGrant, repeat: "once", request: LeaseGrantRequest, response: LeaseGrantResponse };
const REVOKE: UnarySpec<LeaseRevokeRequest, LeaseRevokeResponse> = {
  name: "leaseRevoke",
  path: METHODS.leaseRevoke,
  repeat: "read",
  request: LeaseRevokeRequest,
  response: LeaseRevokeResponse,
};
const TIME_TO_LIVE: UnarySpec<LeaseTimeToLiveRequest, LeaseTimeToLiveResponse> = {
  name: "leaseTimeToLive",
  path: METHODS.leaseTimeToLive,
  repeat: "read",
  request: LeaseTimeToLiveRequest,
  response: LeaseTimeToLiveResponse,
};
const LEASES: UnarySpec<LeaseLeasesRequest, LeaseLeasesResponse> = { name: "leaseList", path: METHODS.leaseLeases, repeat: "read", request: LeaseLeasesRequest, response: LeaseLeasesResponse };

/** Leases: grant, revoke, time-to-live, list, and keep-alive on one shared stream per client. */
export class V3Lease {
  readonly #rpc: V3Rpc;
  readonly #keepAlive: KeepAliveManager;

  /** Binds the client's rpc plumbing; nothing is sent until the first call. */
  constructor(rpc: V3Rpc) {
    this.#rpc = rpc;
    this.#keepAlive = new KeepAliveManager(rpc);
  }

  /** Grants a lease of `ttlSeconds`; never re-sent after a possible delivery (OUTCOME_UNKNOWN instead: a second copy would grant a second lease). */
  async grant(ttlSeconds: number, options?: LeaseGrantOptions): Promise<LeaseGrantResult> {
    const o = optionsOf(options, "grant");
    checkCall(o);
    if (typeof ttlSeconds !== "number" || !Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1) {
      throw invalid(`a lease TTL must be a positive whole number of seconds, got ${String(ttlSeconds)}`);
    }
    const request = { TTL: BigInt(ttlSeconds), ID: toInt64(o.id, "id") };
    // etcd starts the lease's clock no earlier than this, so the lease lives at least until now + TTL.
    const sentAt = performance.now();
    const r = await this.#rpc.call(GRANT, request, o);
    const ttl = Number(r.TTL);
    this.#keepAlive.remember(r.ID, ttl, sentAt + ttl * 1000);
    return { header: header(r.header), id: r.ID, ttl };
  }

  /**
   * Revokes a lease, deleting its keys; a keep-alive of it in this client reports LEASE_LOST at once.
   *
   * Re-sent after a possible delivery, unlike the other writes: a second copy of an applied revoke
   * changes nothing (no key can be attached to a revoked lease, and etcd never hands out an ID it
   * chose again), and either way the lease is gone, which is what the caller asked for. The one
   * trap is the answer: a re-sent copy whose first copy applied answers LEASE_NOT_FOUND, which
   * would report a successful revoke as a failure. So LEASE_NOT_FOUND after a copy that may have
   * been applied counts as success, and the header is taken from a time-to-live read that shows
   * the lease gone. A deadline that passes with a copy possibly applied is OUTCOME_UNKNOWN.
   */
  async revoke(id: bigint, options?: CallOptions): Promise<LeaseRevokeResult> {
    const o = optionsOf(options, "revoke");
    checkCall(o);
    const leaseId = leaseIdOf(id);
    const bytes = LeaseRevokeRequest.encode({ ID: leaseId }).finish();
    // Set by an attempt whose copy may have reached etcd (a closure, so an object TS does not narrow).
    const sent = { mayHaveApplied: false };
    const operation: Operation<LeaseRevokeResponse | undefined> = {
      name: REVOKE.name,
      repeat: REVOKE.repeat,
      run: async (endpoint, signal) => {
        try {
          return await this.#rpc.attempt(endpoint, REVOKE, bytes, signal);
        } catch (error) {
          if (sent.mayHaveApplied && error instanceof EtcdError && error.code === "LEASE_NOT_FOUND") return undefined;
          if (!(error instanceof EtcdError) || error.delivery === "unknown" || error.delivery === "pending") sent.mayHaveApplied = true;
          throw error;
        }
      },
    };
    let reply: LeaseRevokeResponse | undefined;
    try {
      reply = await this.#rpc.engine.execute(operation, callOptions(o));
    } catch (error) {
      if (error instanceof EtcdError && error.code === "LEASE_NOT_FOUND") this.#keepAlive.lose(leaseId, gone(leaseId, error));
      // The engine ends a call it may repeat with TIMEOUT or a member failure; a revoke that may have been applied says so.
      if (!sent.mayHaveApplied || !(error instanceof EtcdError) || (error.code !== "TIMEOUT" && !error.memberFailure)) throw error;
      throw new EtcdError("OUTCOME_UNKNOWN", `revoke of lease ${leaseHex(leaseId)} may or may not have been applied: ${error.message}`, {
        delivery: "pending",
        errors: error.errors,
        cause: error,
      });
    }
    this.#keepAlive.lose(leaseId, new EtcdError("LEASE_LOST", `lease ${leaseHex(leaseId)} was revoked by this client`));
    if (reply !== undefined) return { header: header(reply.header) };
    return { header: (await this.timeToLive(leaseId, o)).header };
  }

  /** How long a lease has left (-1 when etcd no longer has it), optionally with its keys; re-sent freely (a read). */
  async timeToLive(id: bigint, options?: LeaseTimeToLiveOptions): Promise<LeaseTimeToLiveResult> {
    const o = optionsOf(options, "timeToLive");
    checkCall(o);
    const request = { ID: leaseIdOf(id), keys: flag(o.keys, "keys") };
    const r = await this.#rpc.call(TIME_TO_LIVE, request, o);
    return { header: header(r.header), id: r.ID, ttl: Number(r.TTL), grantedTtl: Number(r.grantedTTL), keys: r.keys };
  }

  /** Every lease etcd holds; re-sent freely (a read). */
  async list(options?: CallOptions): Promise<LeaseListResult> {
    const o = optionsOf(options, "list");
    checkCall(o);
    const r = await this.#rpc.call(LEASES, {}, o);
    return { header: header(r.header), leases: r.leases.map((l) => l.ID) };
  }

  /**
   * Renews a lease once, on a stream of its own (re-sent freely: renewing twice is renewing).
   * LEASE_NOT_FOUND when etcd no longer has the lease.
   */
  async keepAliveOnce(id: bigint, options?: CallOptions): Promise<LeaseKeepAliveResult> {
    const o = optionsOf(options, "keepAliveOnce");
    checkCall(o);
    const leaseId = leaseIdOf(id);
    const bytes = LeaseKeepAliveRequest.encode({ ID: leaseId }).finish();
    const r = await this.#rpc.engine.execute({ name: "leaseKeepAliveOnce", repeat: "read", run: (endpoint, signal) => this.#once(endpoint, bytes, signal) }, callOptions(o));
    if (r.TTL <= 0n) {
      const error = new EtcdError("LEASE_NOT_FOUND", `lease ${leaseHex(leaseId)} has expired or was revoked`);
      this.#keepAlive.lose(leaseId, gone(leaseId, error));
      throw error;
    }
    return { header: header(r.header), id: r.ID, ttl: Number(r.TTL) };
  }
  /**
   * Keeps a lease alive until the handle is closed or the lease is lost: a renewal at once, then
   * every third of its TTL, on the client's one keep-alive stream. Before the first renewal is
   * acknowledged the lease is known to live until its grant's TTL ends, if this client granted
   * it, or otherwise is given `requestTimeout` for a first answer. Throws INVALID_ARGUMENT for a
   * bad ID and CLIENT_CLOSED after `close()`.
   */
  keepAlive(id: bigint, options?: LeaseKeepAliveOptions): LeaseKeepAlive {
    return this.#keepAlive.keepAlive(id, options);
  }

  /** Stops every keep-alive (their `lost` never resolves; nothing is revoked) and the stream. Idempotent. */
  close(): Promise<void> {
    return this.#keepAlive.close();
  }

  /** @internal `client.destroy(reason)`: as `close()`, but every keep-alive's `lost` resolves with CLIENT_DESTROYED. */
  destroy(reason: unknown): Promise<void> {
    const error = reason instanceof EtcdError && reason.code === "CLIENT_DESTROYED" ? reason : new EtcdError("CLIENT_DESTROYED", `the client was destroyed: ${reason instanceof Error ? reason.message : String(reason)}`, { cause: reason });
    return this.#keepAlive.destroy(error);
  }

  /** One keepAliveOnce attempt: its own stream, one renewal, one answer. */
  async #once(endpoint: string, request: Uint8Array, signal: AbortSignal): Promise<LeaseKeepAliveResponse> {
    for (let refreshed = false; ; refreshed = true) {
      const metadata = await this.#rpc.streamMetadata(signal, REQUIRE_LEADER);
      try {
        return await this.#renewOnce(endpoint, request, signal, metadata);
      } catch (error) {
        const tokens = this.#rpc.tokens;
        if (refreshed || tokens === undefined || !(error instanceof EtcdError) || error.code !== "INVALID_AUTH_TOKEN") throw error;
        tokens.invalidate(metadata["token"]);
      }
    }
  }

  #renewOnce(endpoint: string, request: Uint8Array, signal: AbortSignal, metadata: Metadata): Promise<LeaseKeepAliveResponse> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const stream = this.#rpc.transport.stream(endpoint, METHODS.leaseKeepAlive, { signal, metadata }, {
        onMessage: (message) => {
          if (settled) return;
          settled = true;
          stream.cancel();
          try {
            resolve(decode(LeaseKeepAliveResponse, message, endpoint));
          } catch (error) {
            reject(asEtcdError(error, endpoint));
          }
        },
        onClose: (error) => {
          if (settled) return;
          settled = true;
          reject(error === undefined ? new EtcdError("UNAVAILABLE", `${endpoint} ended the keep-alive stream without an answer`, { endpoint, delivery: "unknown" }) : movable(error, endpoint));
        },
      });
      stream.write(request);
    });
  }
}
