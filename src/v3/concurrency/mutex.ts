/**
 * A distributed lock compatible with Go's `concurrency.Mutex` and `etcdctl lock`: each contender
 * puts `<name>/<lease ID in lower-case hex>` (value "") on its session's lease, the key created
 * first holds the lock, and every other waits for the deletion of the key created just before its
 * own, so the lock passes in create-revision order (fair) with one wake-up per release.
 *
 * Differences from Go, all on the side of safety: the holder's `signal` aborts before its lease
 * can expire, and when its key disappears (revoked or deleted by another client); `lock()` checks
 * the session after the wait (Go returned a lock whose lease had expired, etcd-io/etcd#11456);
 * `unlock()` deletes only the key this lock created (compared by create revision) and rejects
 * with LOCK_LOST if the lock was lost meanwhile.
 *
 * A Lock is a Holding (holding.ts): `active` (held) → `released` (unlock; the signal aborts with RELEASED) or `lost` (the
 * signal aborted with the loss; unlock then rejects with LOCK_LOST).
 */
import { EtcdError } from "../../errors.js";
import type { KeyValue, TxnResult } from "../types.js";
import type { KvClient } from "./kv.js";
import { asEtcdError, deleteOwn, Holding, type HoldingWords } from "./holding.js";
import { Session } from "./session.js";
import { waitDeletes } from "./wait.js";

/** Options of `etcd.mutex`. */
export interface MutexOptions {
  /** The session to hold locks on; without one, each lock opens its own and closes it on unlock. */
  readonly session?: Session | undefined;
  /** TTL in seconds of the sessions opened per lock (default 60); ignored with `session`. */
  readonly ttl?: number | undefined;
}

/** Options of `lock`. */
export interface LockOptions {
  /** Stops waiting; the key is deleted (or the lock's own session revoked) and the reason rethrown. */
  readonly signal?: AbortSignal | undefined;
}

/** Options of `etcd.withLock`. */
export interface WithLockOptions {
  /** TTL in seconds of the lock's own session (default 60). */
  readonly ttl?: number | undefined;
  /** Stops waiting for the lock (it does not stop the function once it runs: pass `lock.signal` on). */
  readonly signal?: AbortSignal | undefined;
}

/** One acquisition of a mutex. */
export class Lock extends Holding {
  /** @internal Built by Mutex once the lock is acquired and checked. */
  constructor(client: KvClient, session: Session, owned: boolean, key: string, revision: bigint) {
    super(client, session, owned, key, revision, LOCK_WORDS);
  }

  /** True while the lock is held, as far as this client can tell. */
  get held(): boolean {
    return this.state === "active";
  }

  /**
   * Releases the lock: deletes the key if it is still the one this lock created, and closes the
   * lock's own session. Rejects with LOCK_LOST at once when the lock was lost before (the key is
   * still deleted, in the background, if it is ours). Idempotent.
   */
  unlock(): Promise<void> {
    return this.end();
  }

  /** `await using lock = await mutex.lock()` unlocks at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.unlock();
  }
}

const LOCK_WORDS: HoldingWords = { lostCode: "LOCK_LOST", verb: "unlock", keyLost: (error) => error };

/** A named lock; `lock()` as many times as needed, one holder at a time. */
export class Mutex {
  /** The lock's name; keys go under `<name>/`. */
  readonly name: string;
  readonly #client: KvClient;
  readonly #options: MutexOptions;

  /** Binds a name to a client; nothing is sent until `lock` or `tryLock`. */
  constructor(client: KvClient, name: string, options: MutexOptions = {}) {
    if (typeof name !== "string" || name === "") throw new EtcdError("INVALID_ARGUMENT", "a mutex needs a non-empty name");
    this.#client = client;
    this.name = name;
    this.#options = options;
  }

  /** The prefix every contender's key is under: the name and "/", as Go's NewMutex. */
  get prefix(): string {
    return `${this.name}/`;
  }

  /** Waits until the lock is this caller's (in create-revision order); an abort leaves no key behind. */
  async lock(options: LockOptions = {}): Promise<Lock> {
    options.signal?.throwIfAborted();
    const { session, owned } = await this.#session(options.signal);
    const signal = options.signal === undefined ? session.signal : AbortSignal.any([options.signal, session.signal]);
    let attempt: Acquired | undefined;
    try {
      attempt = await acquire(this.#client, this.prefix, session, signal);
      if (!attempt.holds) await waitDeletes(this.#client, this.prefix, attempt.revision - 1n, signal);
      await verify(this.#client, attempt.key, attempt.revision, session, signal);
      return new Lock(this.#client, session, owned, attempt.key, attempt.revision);
    } catch (error) {
      await cleanUp(this.#client, this.prefix, session, owned, attempt);
      throw signal.aborted ? signal.reason : error;
    }
  }

  /** Takes the lock if nobody holds it, else returns undefined (deleting the key it put). */
  async tryLock(options: LockOptions = {}): Promise<Lock | undefined> {
    options.signal?.throwIfAborted();
    const { session, owned } = await this.#session(options.signal);
    const signal = options.signal === undefined ? session.signal : AbortSignal.any([options.signal, session.signal]);
    let attempt: Acquired | undefined;
    try {
      attempt = await acquire(this.#client, this.prefix, session, signal);
      if (!attempt.holds) {
        await cleanUp(this.#client, this.prefix, session, owned, attempt);
        return undefined;
      }
      await verify(this.#client, attempt.key, attempt.revision, session, signal);
      return new Lock(this.#client, session, owned, attempt.key, attempt.revision);
    } catch (error) {
      await cleanUp(this.#client, this.prefix, session, owned, attempt);
      throw signal.aborted ? signal.reason : error;
    }
  }

  async #session(signal: AbortSignal | undefined): Promise<{ session: Session; owned: boolean }> {
    const given = this.#options.session;
    if (given !== undefined) {
      if (!given.live) throw asEtcdError(given.signal.reason);
      return { session: given, owned: false };
    }
    return { session: await Session.open(this.#client, { ttl: this.#options.ttl, signal }), owned: true };
  }
}

/** What the acquire transaction found: our key, its create revision, and whether it is first. */
interface Acquired {
  readonly key: string;
  readonly revision: bigint;
  readonly holds: boolean;
}

/** Go's key for a session under a prefix: `fmt.Sprintf("%s%x", pfx, lease)`. */
export function contenderKey(prefix: string, lease: bigint): string {
  return `${prefix}${lease.toString(16)}`;
}

/**
 * Puts our key unless it exists (then reads it), and reads the first-created key, in one txn.
 * Re-sent after an unknown outcome: a second copy finds the first one's key and reads it.
 */
async function acquire(client: KvClient, prefix: string, session: Session, signal: AbortSignal): Promise<Acquired> {
  const key = contenderKey(prefix, session.lease);
  const owner = { get: { key: prefix, prefix: true, sortTarget: "create", sortOrder: "ascend", limit: 1 } } as const;
  const reply = await client.txn(
    {
      compare: [{ key, target: "create", result: "==", value: 0n }],
      success: [{ put: { key, value: "", lease: session.lease } }, owner],
      failure: [{ get: { key } }, owner],
    },
    { idempotent: true, signal },
  );
  const revision = reply.succeeded ? reply.header.revision : (rangeOf(reply, 0)[0]?.createRevision ?? reply.header.revision);
  const first = rangeOf(reply, 1)[0];
  return { key, revision, holds: first === undefined || first.createRevision === revision };
}

/** The keys read by the `index`th operation of a txn's branch. */
export function rangeOf(reply: TxnResult, index: number): readonly KeyValue[] {
  const op = reply.responses[index];
  return op !== undefined && "get" in op ? op.get.kvs : [];
}

/**
 * Jepsen's point (etcd-io/etcd#11456): after the wait, the key must still be ours (a
 * linearizable read) and the session still inside its safe deadline before the lock is returned.
 */
async function verify(client: KvClient, key: string, revision: bigint, session: Session, signal: AbortSignal): Promise<void> {
  const reply = await client.get(key, { serializable: false, signal });
  if (reply.kvs[0]?.createRevision !== revision) throw new EtcdError("LOCK_LOST", `${key} (created at revision ${revision}) was gone when the wait ended: the session's lease expired or it was deleted`);
  signal.throwIfAborted();
  session.throwIfLost();
}

/** After a failed or abandoned attempt: the key goes (with the lock's own session, by revoking it). */
async function cleanUp(client: KvClient, prefix: string, session: Session, owned: boolean, attempt: Acquired | undefined): Promise<void> {
  try {
    if (owned) await session.close();
    else if (attempt !== undefined) await deleteOwn(client, attempt.key, attempt.revision);
    else {
      // The acquire txn's outcome is unknown: delete the key if this session's lease holds it.
      const key = contenderKey(prefix, session.lease);
      await client.txn({ compare: [{ key, target: "lease", result: "==", value: session.lease }], success: [{ delete: { key } }] });
    }
  } catch {
    // The key stays until its lease ends; the original failure is what the caller needs.
  }
}

