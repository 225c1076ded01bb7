/**
 * The v3 side of a migration: what the destination holds, and guarded writes to it. Every write
 * compares the key's mod revision with the one last seen, so a key changed on the v3 side by
 * someone else is reported as a conflict, never overwritten. A batch whose compare fails (or
 * whose outcome is unknown) is redone key by key after a fresh read, which also makes a
 * re-sent batch harmless: a key already equal is left alone.
 */
import { EtcdError } from "../errors.js";
import type { EtcdV3Client } from "../v3/client.js";
import type { Compare, KeyValue, TxnOp } from "../v3/types.js";
import type { KeyMap, V2Leaf } from "./tree.js";

/** A v3 key as the migration last saw it. */
interface DestEntry {
  readonly modRevision: bigint;
  readonly value: Buffer;
  readonly lease: bigint;
  /** Whether this migration put it there (or found it equal to its v2 source); only those may be deleted. */
  readonly ours: boolean;
}

/** A key the migration did not write, and why. */
export interface SkippedKey {
  /** The v2 key. */
  readonly key: string;
  /** Why it was skipped. */
  readonly reason: string;
}

/** Limits and switches of the destination writer. */
export interface DestLimits {
  /** Operations per transaction (etcd's --max-txn-ops defaults to 128). */
  readonly batchOps: number;
  /** Key and value bytes per transaction. */
  readonly batchBytes: number;
  /** A key and value larger than this can't be written (etcd's --max-request-bytes defaults to 1.5 MiB). */
  readonly maxRequestBytes: number;
  /** Plan only: nothing is written and no lease granted. */
  readonly dryRun: boolean;
  /** Transactions in flight at once while copying. */
  readonly inflight: number;
}

/** Counters of what the writer did. */
export interface DestCounters {
  written: number;
  deleted: number;
  unchanged: number;
  bytes: number;
  leases: number;
}

/** One planned change. */
type Change = { readonly put: V2Leaf; readonly destKey: string } | { readonly delete: string };

/**
 * How much earlier than its v2 key's expiry a lease may end and still count as the same TTL: a
 * grant rounds the time left to a whole second, and reading both sides takes time.
 */
const EXPIRY_SLACK_MS = 2500;

/** Room for the protobuf framing of one put beside its key and value. */
const PUT_OVERHEAD = 64;

/** Writes v2 leaves into the v3 store under guard, remembering what it saw and wrote. */
export class DestWriter {
  readonly #dest: EtcdV3Client;
  readonly #keys: KeyMap;
  readonly #limits: DestLimits;
  readonly #signal: AbortSignal | undefined;
  readonly #state = new Map<string, DestEntry>();
  /** Leases by the second their keys expire in, so keys expiring together share one (a promise: batches run concurrently). */
  readonly #leases = new Map<number, Promise<bigint>>();
  /** The same leases once granted, for bookkeeping without awaiting. */
  readonly #granted = new Map<number, bigint>();
  /** Keys found changed on the v3 side: reported once, never written again by this run. */
  readonly conflicts = new Map<string, string>();
  /** Keys that could not be written, by v2 key. */
  readonly skipped = new Map<string, SkippedKey>();
  /** When each lease known to this run expires (wall-clock ms), to tell a refreshed TTL from an unchanged one. */
  readonly #leaseExpiry = new Map<bigint, number>();
  /** What was done. */
  readonly counters: DestCounters = { written: 0, deleted: 0, unchanged: 0, bytes: 0, leases: 0 };
  #batchOps: number;

  /** Binds the destination client, the key mapping and the limits. */
  constructor(dest: EtcdV3Client, keys: KeyMap, limits: DestLimits, signal: AbortSignal | undefined) {
    this.#dest = dest;
    this.#keys = keys;
    this.#limits = limits;
    this.#signal = signal;
    this.#batchOps = limits.batchOps;
  }

  /** Reads every v3 key of the copy's range (paged, one revision), so later writes know what they replace. */
  async load(): Promise<void> {
    const found = await readDest(this.#dest, this.#keys, this.#signal);
    for (const kv of found) this.#remember(kv, false);
    const leases = new Set(found.map((kv) => kv.lease).filter((id) => id !== 0n));
    for (const id of leases) {
      const { ttl } = await this.#dest.lease.timeToLive(id, { signal: this.#signal });
      this.#leaseExpiry.set(id, Date.now() + Math.max(0, ttl) * 1000);
    }
  }

  /** The destination keys this writer knows, with whether each is ours. */
  entries(): IterableIterator<[string, { readonly ours: boolean; readonly value: Buffer; readonly lease: bigint }]> {
    return this.#state.entries();
  }

  /** Whether the v3 copy of `leaf` already holds its value and (as a lease) its TTL. */
  isCurrent(leaf: V2Leaf): boolean {
    const entry = this.#state.get(this.#keys.dest(leaf.key));
    if (entry === undefined || !sameAs(entry, leaf)) return false;
    if (leaf.expiresAt === undefined) return true;
    // A refreshed TTL moves the v2 expiry later: the copy then needs a lease that lives as long.
    // A lease that ends later than the key is kept: every leader change in the destination resets
    // its leases to their full TTL (etcd does so unless lease checkpointing is on), so a later
    // end is what etcd itself does to any lease, and rewriting for it would make re-runs write.
    const leaseEnds = this.#leaseExpiry.get(entry.lease);
    return leaseEnds !== undefined && leaseEnds >= leaf.expiresAt - EXPIRY_SLACK_MS;
  }

  /** v2 keys of the copies whose leases end within `ms`: a v2 TTL refresh sends no watch event, so they are read again. */
  expiringWithin(ms: number): string[] {
    const horizon = Date.now() + ms;
    const out: string[] = [];
    for (const [destKey, entry] of this.#state) {
      if (!entry.ours || entry.lease === 0n) continue;
      const ends = this.#leaseExpiry.get(entry.lease);
      if (ends !== undefined && ends <= horizon) out.push(this.#keys.source(destKey));
    }
    return out;
  }

  /** Marks destination keys already equal to their sources as ours (they may later be deleted with them). */
  adopt(leaves: Iterable<V2Leaf>): void {
    for (const leaf of leaves) {
      const destKey = this.#keys.dest(leaf.key);
      const entry = this.#state.get(destKey);
      if (entry !== undefined && !entry.ours && sameAs(entry, leaf)) this.#state.set(destKey, { ...entry, ours: true });
    }
  }

  /** Writes every leaf whose v3 copy differs; equal ones are left alone (and counted, with `count`). */
  async put(leaves: Iterable<V2Leaf>, count = true): Promise<void> {
    const changes: Change[] = [];
    for (const leaf of leaves) {
      const destKey = this.#keys.dest(leaf.key);
      if (this.conflicts.has(destKey)) continue;
      if (this.isCurrent(leaf)) {
        if (count) this.counters.unchanged++;
        this.adopt([leaf]);
        continue;
      }
      const size = Buffer.byteLength(destKey) + leaf.bytes.length + PUT_OVERHEAD;
      if (size > this.#limits.maxRequestBytes) {
        this.skipped.set(leaf.key, { key: leaf.key, reason: `${size} bytes with its key: over the destination's request limit of ${this.#limits.maxRequestBytes}` });
        continue;
      }
      changes.push({ put: leaf, destKey });
    }
    await this.#apply(changes);
  }

  /** Deletes the v3 copies of these v2 keys, where this migration wrote them and nobody changed them since. */
  async delete(v2Keys: Iterable<string>): Promise<void> {
    const changes: Change[] = [];
    for (const key of v2Keys) {
      const destKey = this.#keys.dest(key);
      if (this.#state.get(destKey)?.ours === true && !this.conflicts.has(destKey)) changes.push({ delete: destKey });
    }
    await this.#apply(changes);
  }

  /** Deletes the copies of every key at or below the v2 key `dir` that this migration wrote. */
  async deleteTree(dir: string): Promise<void> {
    const root = this.#keys.dest(dir);
    const below = [...this.#state.keys()].filter((k) => k === root || k.startsWith(`${root}/`)).map((k) => this.#keys.source(k));
    await this.delete(below);
  }

  /** Applies the changes in batches, up to `inflight` transactions at a time (the keys of a batch set are distinct). */
  async #apply(changes: readonly Change[]): Promise<void> {
    const batches: Change[][] = [];
    for (let start = 0; start < changes.length; ) {
      const batch = this.#nextBatch(changes, start);
      start += batch.length;
      batches.push(batch);
    }
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let batch = batches[next++]; batch !== undefined; batch = batches[next++]) await this.#applyBatch(batch);
    };
    await Promise.all(Array.from({ length: Math.min(this.#limits.inflight, batches.length) }, worker));
  }

  /** As many changes from `start` as fit the op and byte limits (at least one). */
  #nextBatch(changes: readonly Change[], start: number): Change[] {
    const batch: Change[] = [];
    let bytes = 0;
    for (let i = start; i < changes.length && batch.length < this.#batchOps; i++) {
      const change = changes[i];
      if (change === undefined) break;
      const size = "put" in change ? Buffer.byteLength(change.destKey) + change.put.bytes.length + PUT_OVERHEAD : PUT_OVERHEAD;
      if (batch.length > 0 && bytes + size > this.#limits.batchBytes) break;
      batch.push(change);
      bytes += size;
    }
    return batch;
  }

  async #applyBatch(batch: readonly Change[]): Promise<void> {
    if (this.#limits.dryRun) {
      for (const change of batch) this.#count(change, undefined);
      return;
    }
    const compare: Compare[] = [];
    const success: TxnOp[] = [];
    for (const change of batch) {
      const destKey = "put" in change ? change.destKey : change.delete;
      compare.push({ key: destKey, target: "mod", result: "==", value: this.#state.get(destKey)?.modRevision ?? 0n });
      success.push("put" in change ? { put: { key: destKey, value: change.put.bytes, lease: await this.#leaseFor(change.put) } } : { delete: { key: destKey } });
    }
    try {
      const reply = await this.#dest.txn({ compare, success }, { signal: this.#signal });
      if (reply.succeeded) {
        for (const change of batch) this.#count(change, reply.header.revision);
        return;
      }
    } catch (error) {
      if (!(error instanceof EtcdError)) throw error;
      if (error.code === "TOO_MANY_OPS" && batch.length > 1) {
        // The destination allows fewer operations per transaction than asked: halve and go on.
        this.#batchOps = Math.max(1, Math.floor(batch.length / 2));
        await this.#apply(batch);
        return;
      }
      if (!recoverable(error)) throw error;
    }
    for (const change of batch) await this.#one(change);
  }

  /** One change on its own, after reading the key afresh: equal is done, changed by others is a conflict. */
  async #one(change: Change): Promise<void> {
    const destKey = "put" in change ? change.destKey : change.delete;
    for (let attempt = 0; attempt < 3; attempt++) {
      const current = (await this.#dest.get(destKey, { signal: this.#signal })).kvs[0];
      const known = this.#state.get(destKey);
      if ("put" in change ? current !== undefined && sameAs(current, change.put) : current === undefined) {
        if (current === undefined) this.#state.delete(destKey);
        else this.#remember(current, true);
        this.#count(change, undefined, false);
        return;
      }
      if ((current?.modRevision ?? 0n) !== (known?.modRevision ?? 0n)) {
        this.conflicts.set(destKey, `changed on the v3 side (mod revision ${current?.modRevision ?? 0n}, the migration expected ${known?.modRevision ?? 0n}); left as it is`);
        return;
      }
      try {
        await this.#applyGuarded(change, current?.modRevision ?? 0n);
        return;
      } catch (error) {
        if (error instanceof EtcdError && error.code === "REQUEST_TOO_LARGE" && "put" in change) {
          this.skipped.set(change.put.key, { key: change.put.key, reason: `the destination refused it as too large: ${error.message}` });
          return;
        }
        if (!(error instanceof EtcdError) || !recoverable(error)) throw error;
      }
    }
    throw new EtcdError("UNAVAILABLE", `could not write ${destKey} after 3 attempts`);
  }

  async #applyGuarded(change: Change, modRevision: bigint): Promise<void> {
    const destKey = "put" in change ? change.destKey : change.delete;
    const op: TxnOp = "put" in change ? { put: { key: destKey, value: change.put.bytes, lease: await this.#leaseFor(change.put) } } : { delete: { key: destKey } };
    const reply = await this.#dest.txn({ compare: [{ key: destKey, target: "mod", result: "==", value: modRevision }], success: [op] }, { signal: this.#signal });
    if (!reply.succeeded) throw new EtcdError("COMPARE_FAILED", `${destKey} changed while it was being written`);
    this.#count(change, reply.header.revision);
  }

  #count(change: Change, revision: bigint | undefined, wrote = true): void {
    if ("put" in change) {
      if (wrote) {
        this.counters.written++;
        this.counters.bytes += change.put.bytes.length;
      } else this.counters.unchanged++;
      if (revision !== undefined) {
        const lease = change.put.expiresAt === undefined ? 0n : (this.#granted.get(expirySecond(change.put.expiresAt)) ?? 0n);
        this.#state.set(change.destKey, { modRevision: revision, value: change.put.bytes, lease, ours: true });
      }
      return;
    }
    if (wrote) this.counters.deleted++;
    if (revision !== undefined || !wrote) this.#state.delete(change.delete);
  }

  /** The lease for a leaf with a TTL: one per second of expiry, granted (once) with the time left. */
  #leaseFor(leaf: V2Leaf): Promise<bigint> {
    if (leaf.expiresAt === undefined) return Promise.resolve(0n);
    const second = expirySecond(leaf.expiresAt);
    let lease = this.#leases.get(second);
    if (lease === undefined) {
      lease = this.#grant(second, Math.max(1, Math.ceil((leaf.expiresAt - Date.now()) / 1000)));
      this.#leases.set(second, lease);
      // A failed grant is not remembered: the next key of that second tries again.
      lease.catch(() => this.#leases.delete(second));
    }
    return lease;
  }

  async #grant(second: number, ttl: number): Promise<bigint> {
    const granted = await this.#dest.lease.grant(ttl, { signal: this.#signal });
    this.#granted.set(second, granted.id);
    this.#leaseExpiry.set(granted.id, Date.now() + granted.ttl * 1000);
    this.counters.leases++;
    return granted.id;
  }

  #remember(kv: KeyValue, ours: boolean): void {
    this.#state.set(kv.key.toString("utf8"), { modRevision: kv.modRevision, value: kv.value, lease: kv.lease, ours });
  }
}

/** Every v3 key of the copy's range: the destination prefix itself and everything below it. */
export async function readDest(dest: EtcdV3Client, keys: KeyMap, signal: AbortSignal | undefined): Promise<KeyValue[]> {
  const out: KeyValue[] = [];
  if (keys.destPrefix !== "") out.push(...(await dest.get(keys.destPrefix, { signal })).kvs);
  for await (const kv of dest.getAll(`${keys.destPrefix}/`, { signal })) out.push(kv);
  return out;
}

/** Whether a v3 key holds a leaf's value, with a lease exactly when the leaf has a TTL. */
export function sameAs(entry: { readonly value: Buffer; readonly lease: bigint }, leaf: V2Leaf): boolean {
  return entry.value.equals(leaf.bytes) && (entry.lease !== 0n) === (leaf.expiresAt !== undefined);
}

function expirySecond(expiresAt: number): number {
  return Math.floor(expiresAt / 1000);
}

/** Failures after which a fresh read tells what happened: a failed guard, or an outcome we can't know. */
function recoverable(error: EtcdError): boolean {
  return error.code === "OUTCOME_UNKNOWN" || error.code === "COMPARE_FAILED" || error.code === "REQUEST_TOO_LARGE" || error.code === "UNAVAILABLE" || error.code === "TIMEOUT";
}
