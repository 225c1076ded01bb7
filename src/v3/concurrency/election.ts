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
 * States of a Leadership: `leading` → `resigned` (signal reason RELEASED) or `lost`.
 */
import { EtcdError } from "../../errors.js";
import type { KvClient } from "./kv.js";
import { asEtcdError, contenderKey, deleteOwn, rangeOf } from "./mutex.js";
import { observeLeaders } from "./observe.js";
import { Session } from "./session.js";
import { firstCreated, waitDeletes, watchOwnKey } from "./wait.js";

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

/** Where a leadership is. */
type LeadershipState = "leading" | "resigned" | "lost";

/** Being the elected leader. */
export class Leadership implements AsyncDisposable {
  /** The leader key. */
  readonly key: string;
  /** The key's create revision (a fencing token, as a lock's). */
  readonly revision: bigint;
  /** Aborted (reason: an EtcdError) when this may no longer be the leader, or on resign (RELEASED). */
  readonly signal: AbortSignal;
  /** The session the leadership is held on. */
  readonly session: Session;
  readonly #client: KvClient;
  readonly #owned: boolean;
  readonly #controller = new AbortController();
  #state: LeadershipState = "leading";
  #loss: EtcdError | undefined;
  #resigning: Promise<void> | undefined;

  /** @internal Built by Election once elected. */
  constructor(client: KvClient, session: Session, owned: boolean, key: string, revision: bigint) {
    this.#client = client;
    this.session = session;
    this.#owned = owned;
    this.key = key;
    this.revision = revision;
    this.signal = this.#controller.signal;
    const onSessionEnd = (): void => {
      this.#lose(asEtcdError(session.signal.reason));
    };
    if (session.signal.aborted) onSessionEnd();
    else session.signal.addEventListener("abort", onSessionEnd, { once: true });
    this.signal.addEventListener("abort", () => {
      session.signal.removeEventListener("abort", onSessionEnd);
    }, { once: true });
    watchOwnKey(client, key, revision, this.signal, (error) => {
      this.#lose(new EtcdError("NOT_LEADER", error.message, { cause: error }));
      if (this.#owned) this.session.close().catch(() => undefined);
    });
  }

  /** True while this is the leader, as far as this client can tell. */
  get leading(): boolean {
    return this.#state === "leading";
  }

  /** Replaces the leader's value, only while still leader (compared by create revision); NOT_LEADER otherwise. */
  async proclaim(value: string | Uint8Array): Promise<void> {
    if (this.#state !== "leading") throw this.#notLeader();
    const reply = await this.#client.txn({
      compare: [{ key: this.key, target: "create", result: "==", value: this.revision }],
      success: [{ put: { key: this.key, value, lease: this.session.lease } }],
    });
    if (!reply.succeeded) {
      const error = new EtcdError("NOT_LEADER", `${this.key} (created at revision ${this.revision}) is gone: no longer the leader`);
      this.#lose(error);
      throw error;
    }
  }

  /**
   * Gives up leadership: deletes the key if it is still ours, closes the campaign's own session.
   * NOT_LEADER if it was lost before. Idempotent (so `await using` after an explicit resign is fine).
   */
  resign(): Promise<void> {
    this.#resigning ??= this.#resign().catch((error: unknown) => {
      // A failed delete may be tried again; a loss is final.
      if (!(error instanceof EtcdError && error.code === "NOT_LEADER")) this.#resigning = undefined;
      throw error;
    });
    return this.#resigning;
  }

  async #resign(): Promise<void> {
    const loss = this.#loss;
    if (this.#state === "leading") {
      this.#state = "resigned";
      this.#controller.abort(new EtcdError("RELEASED", `${this.key} resigned`));
    }
    const release = async (): Promise<boolean> => {
      const deleted = await deleteOwn(this.#client, this.key, this.revision);
      if (this.#owned) await this.session.close();
      return deleted;
    };
    if (loss !== undefined) {
      // Lost (perhaps cut off from the cluster): say so now; the key, if still ours, goes in the background.
      release().catch(() => undefined);
      throw new EtcdError("NOT_LEADER", `${this.key} lost leadership before resigning: ${loss.message}`, { cause: loss });
    }
    if (!(await release())) throw new EtcdError("NOT_LEADER", `${this.key} (created at revision ${this.revision}) was gone at resign`);
  }

  /** `await using leadership = await election.campaign(v)` resigns at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.resign();
  }

  #notLeader(): EtcdError {
    const why = this.#state === "resigned" ? "resigned" : `lost: ${this.#loss?.message ?? "unknown"}`;
    return new EtcdError("NOT_LEADER", `${this.key} is no longer the leader (${why})`, { cause: this.#loss });
  }

  #lose(error: EtcdError): void {
    if (this.#state !== "leading") return;
    this.#state = "lost";
    this.#loss = error;
    this.#controller.abort(error);
  }
}

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
