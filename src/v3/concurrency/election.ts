/**
 * Leader election compatible with Go's `concurrency.Election` and `etcdctl elect`: a candidate
 * puts `<name>/<lease ID in lower-case hex>` with its value on its session's lease; the key
 * created first is the leader, and its value is what the leader proclaims. A candidate waits for
 * the deletion of the key created just before its own. Campaigning again on the same session
 * resumes the existing candidacy (proclaiming the new value if it differs), as Go does.
 *
 * A Leadership's `signal` aborts before its session's lease can expire and when its key
 * disappears, so a leader cut off from the cluster stops leading before another can be elected.
 *
 * A Leadership is a Holding (holding.ts): `active` (leading) → `released` (resigned; signal reason RELEASED) or `lost`.
 */
import { EtcdError } from "../../errors.js";
import type { KvClient } from "./kv.js";
import { asEtcdError, deleteOwn, Holding, type HoldingWords } from "./holding.js";
import { contenderKey, rangeOf } from "./mutex.js";
import { observeLeaders } from "./observe.js";
import { Session } from "./session.js";
import { firstCreated, waitDeletes } from "./wait.js";

/** Options of `etcd.election`. */
export interface ElectionOptions {
  /** The session to campaign on; without one, each campaign opens its own and closes it on resign. */
  readonly session?: Session | undefined;
  /** TTL in seconds of the sessions opened per campaign (default 60); ignored with `session`. */
  readonly ttl?: number | undefined;
}

/** Options of `campaign`. */
export interface CampaignOptions {
  /** Stops campaigning; the candidate key is deleted (or the campaign's own session revoked). */
  readonly signal?: AbortSignal | undefined;
}

/** Options of `observe`. */
export interface ObserveOptions {
  /** Ends the iteration. */
  readonly signal?: AbortSignal | undefined;
}

/** A leader as `leader()` and `observe()` report it. */
export interface LeaderInfo {
  /** The leader's key, `<name>/<lease ID in hex>`. */
  readonly key: string;
  /** The value the leader campaigned with or last proclaimed. */
  readonly value: Buffer;
  /** The key's create revision: grows with each new leader. */
  readonly revision: bigint;
}

/** Being the elected leader. */
export class Leadership extends Holding {
  /** @internal Built by Election once elected. */
  constructor(client: KvClient, session: Session, owned: boolean, key: string, revision: bigint) {
    super(client, session, owned, key, revision, LEADERSHIP_WORDS);
  }

  /** True while this is the leader, as far as this client can tell. */
  get leading(): boolean {
    return this.state === "active";
  }

  /** Replaces the leader's value, only while still leader (compared by create revision); NOT_LEADER otherwise. */
  async proclaim(value: string | Uint8Array): Promise<void> {
    if (this.state !== "active") throw this.#notLeader();
    const reply = await this.client.txn({
      compare: [{ key: this.key, target: "create", result: "==", value: this.revision }],
      success: [{ put: { key: this.key, value, lease: this.session.lease } }],
    });
    if (!reply.succeeded) {
      const error = new EtcdError("NOT_LEADER", `${this.key} (created at revision ${this.revision}) is gone: no longer the leader`);
      this.lose(error);
      throw error;
    }
  }

  /**
   * Gives up leadership: deletes the key if it is still ours, closes the campaign's own session.
   * NOT_LEADER (at once) if it was lost before. Idempotent (so `await using` after an explicit resign is fine).
   */
  resign(): Promise<void> {
    return this.end();
  }

  /** `await using leadership = await election.campaign(v)` resigns at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.resign();
  }

  #notLeader(): EtcdError {
    const why = this.state === "released" ? "resigned" : `lost: ${this.loss?.message ?? "unknown"}`;
    return new EtcdError("NOT_LEADER", `${this.key} is no longer the leader (${why})`, { cause: this.loss });
  }
}

const LEADERSHIP_WORDS: HoldingWords = {
  lostCode: "NOT_LEADER",
  verb: "resign",
  keyLost: (error) => new EtcdError("NOT_LEADER", error.message, { cause: error }),
};

/** A named election. */
export class Election {
  /** The election's name; candidate keys go under `<name>/`. */
  readonly name: string;
  readonly #client: KvClient;
  readonly #options: ElectionOptions;

  /** Binds a name to a client; nothing is sent until a call. */
  constructor(client: KvClient, name: string, options: ElectionOptions = {}) {
    if (typeof name !== "string" || name === "") throw new EtcdError("INVALID_ARGUMENT", "an election needs a non-empty name");
    this.#client = client;
    this.name = name;
    this.#options = options;
  }

  /** The prefix every candidate's key is under. */
  get prefix(): string {
    return `${this.name}/`;
  }

  /** Resolves when elected; an abort leaves no candidate key behind. */
  async campaign(value: string | Uint8Array, options: CampaignOptions = {}): Promise<Leadership> {
    options.signal?.throwIfAborted();
    const given = this.#options.session;
    if (given !== undefined && !given.live) throw asEtcdError(given.signal.reason);
    const session = given ?? (await Session.open(this.#client, { ttl: this.#options.ttl, signal: options.signal }));
    const owned = given === undefined;
    const signal = options.signal === undefined ? session.signal : AbortSignal.any([options.signal, session.signal]);
    const key = contenderKey(this.prefix, session.lease);
    let revision: bigint | undefined;
    try {
      revision = await this.#stand(key, value, session, signal);
      await waitDeletes(this.#client, this.prefix, revision - 1n, signal);
      const mine = await this.#client.get(key, { serializable: false, signal });
      if (mine.kvs[0]?.createRevision !== revision) throw new EtcdError("NOT_LEADER", `${key} (created at revision ${revision}) was gone when the wait ended: the session's lease expired or it was deleted`);
      signal.throwIfAborted();
      session.throwIfLost();
      return new Leadership(this.#client, session, owned, key, revision);
    } catch (error) {
      await this.#withdraw(key, revision, session, owned);
      throw signal.aborted ? signal.reason : error;
    }
  }

  /** The current leader (the key created first), or undefined when there is none. */
  async leader(options: ObserveOptions = {}): Promise<LeaderInfo | undefined> {
    const kv = await firstCreated(this.#client, this.prefix, options.signal);
    return kv === undefined ? undefined : { key: kv.key.toString(), value: kv.value, revision: kv.createRevision };
  }

  /**
   * Each new leader, and each value a leader proclaims, in order (Go's Observe): the current
   * leader first if there is one. Survives member failures (the watches resume); ends when
   * `signal` aborts.
   */
  observe(options: ObserveOptions = {}): AsyncGenerator<LeaderInfo, void, undefined> {
    return observeLeaders(this.#client, this.prefix, options.signal);
  }

  /** Puts our candidate key (or finds it from an earlier campaign on this session, proclaiming `value`); its create revision. */
  async #stand(key: string, value: string | Uint8Array, session: Session, signal: AbortSignal): Promise<bigint> {
    const reply = await this.#client.txn(
      {
        compare: [{ key, target: "create", result: "==", value: 0n }],
        success: [{ put: { key, value, lease: session.lease } }],
        failure: [{ get: { key } }],
      },
      { idempotent: true, signal },
    );
    if (reply.succeeded) return reply.header.revision;
    const existing = rangeOf(reply, 0)[0];
    if (existing === undefined) throw new EtcdError("NOT_LEADER", `${key} vanished during the campaign`);
    if (!existing.value.equals(Buffer.from(value))) {
      const proclaimed = await this.#client.txn(
        {
          compare: [{ key, target: "create", result: "==", value: existing.createRevision }],
          success: [{ put: { key, value, lease: session.lease } }],
        },
        { signal },
      );
      if (!proclaimed.succeeded) throw new EtcdError("NOT_LEADER", `${key} vanished during the campaign`);
    }
    return existing.createRevision;
  }

  async #withdraw(key: string, revision: bigint | undefined, session: Session, owned: boolean): Promise<void> {
    try {
      if (owned) await session.close();
      else if (revision !== undefined) await deleteOwn(this.#client, key, revision);
      else await this.#client.txn({ compare: [{ key, target: "lease", result: "==", value: session.lease }], success: [{ delete: { key } }] });
    } catch {
      // The key stays until its lease ends; the campaign's failure is what the caller needs.
    }
  }
}
