/**
 * `migrateV2ToV3`: copies a live v2 tree into the v3 store, consistently and without downtime.
 *
 * Phases (`MigrationPhase`):
 * - `reading`: the tree is read at one v2 index X with a recursive quorum get (and each named
 *   key on its own, since v2 listings skip hidden keys), and the destination range is read;
 * - `copying`: leaves whose v3 copy differs are written in guarded transactions;
 * - `catching-up`: a recursive v2 watch from X + 1 applies what changed during the copy, until
 *   no event has come for `settleMs` (or, with `follow`, until the caller's signal);
 * - `following`: the same watch, kept until the signal (the cut-over path);
 * - `reconciling`: the tree is read again and any difference left is written, which is also what
 *   happens when the watch's history (1,000 events) has moved past the index it needed;
 * - `verifying`: both sides compared key by key.
 * Nothing is ever written to the v2 side.
 */
import { EtcdError } from "../errors.js";
import type { EtcdV2Client } from "../v2/client.js";
import type { V2Response } from "../v2/types.js";
import type { V2WatchEvent } from "../v2/watch.js";
import type { EtcdV3Client } from "../v3/client.js";
import { DestWriter, type SkippedKey } from "./dest.js";
import { flatten, isHidden, KeyMap, leafOf, readTree, type SourceTree, type V2Leaf } from "./tree.js";
import { compareTrees, type Difference } from "./verify.js";

/** Where a migration is. */
export type MigrationPhase = "reading" | "copying" | "catching-up" | "following" | "reconciling" | "verifying";

/** What `onProgress` is told. */
export interface MigrationProgress {
  /** The phase. */
  readonly phase: MigrationPhase;
  /** Leaves in the source tree read at the start. */
  readonly total: number;
  /** Keys written to v3 so far. */
  readonly written: number;
  /** Keys found already equal. */
  readonly unchanged: number;
  /** v2 events applied since the copy. */
  readonly events: number;
  /** How many v2 indexes the last applied event was behind the store's index when it arrived. */
  readonly lag: number;
}

/** Options of `migrateV2ToV3` and `verifyV2ToV3`. */
export interface MigrateV2ToV3Options {
  /** The v2 client of the source cluster (needs `--enable-v2=true` on etcd 3.4/3.5). */
  readonly source: EtcdV2Client;
  /** The v3 client of the destination (the same cluster or another). */
  readonly dest: EtcdV3Client;
  /** The v2 key or directory to copy (default: the whole store). */
  readonly prefix?: string | undefined;
  /** What replaces `prefix` in the v3 keys (default: `prefix` itself, so `/a/b` stays `/a/b`). */
  readonly destPrefix?: string | undefined;
  /** More v2 keys or directories under `prefix` to copy by name: hidden keys (`_x`) are copied only when named. */
  readonly keys?: readonly string[] | undefined;
  /** After the copy, keep applying v2 changes until `signal` aborts, then reconcile and verify. */
  readonly follow?: boolean | undefined;
  /** Read and plan only: write nothing, grant nothing. */
  readonly dryRun?: boolean | undefined;
  /** Operations per transaction (default 128, etcd's --max-txn-ops default). */
  readonly batchOps?: number | undefined;
  /** Transactions in flight at once while copying (default 4). */
  readonly inflight?: number | undefined;
  /** Key and value bytes per transaction (default 1 MiB). */
  readonly batchBytes?: number | undefined;
  /** The destination's request size limit (default 1.5 MiB, etcd's --max-request-bytes default). */
  readonly maxRequestBytes?: number | undefined;
  /** Without `follow`, the catch-up ends after this many ms without a v2 event (default 1000). */
  readonly settleMs?: number | undefined;
  /** Ends a follow (whatever was copied or received still lands, then the final reconcile and verify run); aborts anything else. */
  readonly signal?: AbortSignal | undefined;
  /** Called as the migration advances (at most every 100 ms while copying). */
  readonly onProgress?: ((progress: MigrationProgress) => void) | undefined;
}

/** A v3 key someone else changed, left as it was. */
export interface MigrationConflict {
  /** The v2 key whose copy it is. */
  readonly key: string;
  /** What was found, in words. */
  readonly reason: string;
}

/** What a migration did. */
export interface MigrationReport {
  /** The v2 index the tree was read at. */
  readonly sourceIndex: number;
  /** Leaves in the source tree (plus named keys). */
  readonly keys: number;
  /** Keys written (or, in a dry run, that would be). */
  readonly written: number;
  /** Keys already equal in v3, left alone. */
  readonly unchanged: number;
  /** v3 keys deleted because their v2 source was deleted or expired. */
  readonly deleted: number;
  /** Leases granted for keys with a TTL. */
  readonly leases: number;
  /** Value bytes written. */
  readonly bytes: number;
  /** Empty v2 directories (no v3 form). */
  readonly emptyDirs: readonly string[];
  /** Keys not written, and why (too large for the destination). */
  readonly skipped: readonly SkippedKey[];
  /** v3 keys changed by someone else: reported, not overwritten. */
  readonly conflicts: readonly MigrationConflict[];
  /** v2 events applied after the copy. */
  readonly events: number;
  /** Times the watch's history had moved on and the tree was re-read and reconciled. */
  readonly resyncs: number;
  /** Milliseconds from start to end. */
  readonly durationMs: number;
  /** The final comparison (after a dry run: the differences a real run would fix). */
  readonly differences: readonly Difference[];
  /** Whether the dry-run switch was on. */
  readonly dryRun: boolean;
}

/** Copies a v2 tree into v3 (see the module comment); resolves with the report once the copy is verified. */
export async function migrateV2ToV3(options: MigrateV2ToV3Options): Promise<MigrationReport> {
  return new Migration(options).run();
}

/** Compares the v2 tree with its v3 copy key by key, writing nothing. */
export async function verifyV2ToV3(options: MigrateV2ToV3Options): Promise<readonly Difference[]> {
  const keys = keyMapOf(options);
  const tree = await readSource(options.source, keys, options.keys ?? [], options.signal);
  return compareTrees(tree, options.dest, keys, options.signal);
}

/** How often, while following, leases about to end are checked against their keys' v2 TTLs. */
const REFRESH_CHECK_MS = 500;
/** How close to its end a lease is checked. */
const REFRESH_LOOKAHEAD_MS = 3000;

class Migration {
  readonly #o: MigrateV2ToV3Options;
  readonly #keys: KeyMap;
  readonly #writer: DestWriter;
  readonly #started = performance.now();
  #phase: MigrationPhase = "reading";
  #total = 0;
  #events = 0;
  #lag = 0;
  #resyncs = 0;
  #emptyDirs = new Set<string>();
  #lastProgress = 0;
  /** Events are applied one at a time, in arrival order, whichever watch brought them. */
  #queue: Promise<void> = Promise.resolve();
  /**
   * What aborts reads and writes: the caller's signal, except while following, where it only ends
   * the following and the events already received, the reconcile and the verify still run.
   */
  readonly #abort: AbortSignal | undefined;

  constructor(options: MigrateV2ToV3Options) {
    this.#o = options;
    this.#keys = keyMapOf(options);
    this.#abort = options.follow === true ? undefined : options.signal;
    const positive = (name: string, value: number | undefined, fallback: number): number => {
      if (value === undefined) return fallback;
      if (!Number.isSafeInteger(value) || value < 1) throw new EtcdError("INVALID_ARGUMENT", `${name} must be a positive integer, got ${value}`);
      return value;
    };
    this.#writer = new DestWriter(
      options.dest,
      this.#keys,
      {
        batchOps: positive("batchOps", options.batchOps, 128),
        batchBytes: positive("batchBytes", options.batchBytes, 1024 * 1024),
        maxRequestBytes: positive("maxRequestBytes", options.maxRequestBytes, 1.5 * 1024 * 1024),
        dryRun: options.dryRun === true,
        inflight: positive("inflight", options.inflight, 4),
      },
      this.#abort,
    );
  }

  async run(): Promise<MigrationReport> {
    const named = this.#o.keys ?? [];
    const tree = await readSource(this.#o.source, this.#keys, named, this.#abort);
    this.#total = tree.leaves.size;
    for (const dir of tree.emptyDirs) this.#emptyDirs.add(dir);
    await this.#writer.load();
    this.#writer.adopt(tree.leaves.values());
    this.#enter("copying");
    await this.#writer.put(tree.leaves.values());
    if (this.#o.dryRun !== true) {
      this.#enter(this.#o.follow === true ? "following" : "catching-up");
      await this.#watchAll(tree.index, named);
    }
    // One fresh read serves both the reconcile (against what this run knows it wrote) and the verify
    // (against a fresh read of v3); a dry run only verifies, which lists what a real run would write.
    const final = this.#o.dryRun === true ? tree : await readSource(this.#o.source, this.#keys, named, undefined);
    if (this.#o.dryRun !== true) {
      this.#enter("reconciling");
      await this.#reconcile(final);
    }
    this.#enter("verifying");
    const differences = await compareTrees(final, this.#o.dest, this.#keys, undefined);
    return this.#report(tree.index, differences);
  }

  /** Watches the prefix recursively, and each named key on its own, from just after the tree's index. */
  async #watchAll(index: number, named: readonly string[]): Promise<void> {
    const stop = new AbortController();
    const signals = this.#o.signal === undefined ? [stop.signal] : [stop.signal, this.#o.signal];
    const signal = AbortSignal.any(signals);
    let lastEvent = performance.now();
    const settle = this.#o.settleMs ?? 1000;
    const timer =
      this.#o.follow === true
        ? undefined
        : setInterval(() => {
            if (performance.now() - lastEvent >= settle) stop.abort();
          }, Math.min(100, settle));
    const refresher = this.#o.follow === true ? setInterval(() => void this.#enqueue(() => this.#checkRefreshes()).catch(() => undefined), REFRESH_CHECK_MS) : undefined;
    const watch = async (key: string, recursive: boolean): Promise<void> => {
      for await (const event of this.#o.source.watch(key === "" ? "/" : key, { recursive, waitIndex: index + 1, signal, onCleared: "resync" })) {
        lastEvent = performance.now();
        await this.#enqueue(() => this.#apply(event, key));
        lastEvent = performance.now();
      }
    };
    try {
      await Promise.all([watch(this.#keys.prefix, true), ...named.map((k) => watch(k, false))]);
    } finally {
      if (timer !== undefined) clearInterval(timer);
      if (refresher !== undefined) clearInterval(refresher);
    }
    await this.#queue;
  }

  #enqueue(work: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(work);
    // The queue itself must not stay rejected; the caller awaits `next` and sees the failure.
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** Applies one v2 event (or, after the history was cleared, the fresh snapshot) to v3. */
  async #apply(event: V2WatchEvent, watched: string): Promise<void> {
    this.#events++;
    if (event.action === "resync") {
      this.#resyncs++;
      const leaves = new Map<string, V2Leaf>();
      const emptyDirs: string[] = [];
      if (event.node !== undefined) flatten(event.node, leaves, emptyDirs, Date.now());
      await this.#reconcileScope(watched, leaves);
      return;
    }
    const change = event as V2Response;
    const node = change.node;
    if (node === undefined) return;
    this.#lag = Math.max(0, change.etcdIndex - node.modifiedIndex);
    if (!this.#keys.covers(node.key)) return;
    switch (change.action) {
      case "set":
      case "create":
      case "update":
      case "compareAndSwap":
        if (node.dir === true) this.#emptyDirs.add(node.key);
        else await this.#writer.put([leafOf(node, Date.now())]);
        break;
      case "delete":
      case "compareAndDelete":
      case "expire":
        this.#emptyDirs.delete(node.key);
        if (node.dir === true || change.prevNode?.dir === true) await this.#writer.deleteTree(node.key);
        else await this.#writer.delete([node.key]);
        break;
      default:
        break;
    }
    this.#progress();
  }

  /**
   * v2 sends no watch event for a TTL refresh (`refresh=true`), so while following, keys whose
   * v3 lease is about to end are read again: a later v2 expiry moves them to a lease that lasts
   * as long. Keys really about to expire are left to their v2 expire event.
   */
  async #checkRefreshes(): Promise<void> {
    for (const key of this.#writer.expiringWithin(REFRESH_LOOKAHEAD_MS)) {
      try {
        const node = (await this.#o.source.get(key, { quorum: true })).node;
        if (node !== undefined && node.dir !== true) await this.#writer.put([leafOf(node, Date.now())], false);
      } catch (error) {
        if (!(error instanceof EtcdError) || error.code !== "KEY_NOT_FOUND") throw error;
      }
    }
  }

  /** Makes v3 match a freshly read tree: writes what differs, deletes copies whose source is gone. */
  async #reconcile(tree: SourceTree): Promise<void> {
    for (const dir of tree.emptyDirs) this.#emptyDirs.add(dir);
    await this.#reconcileScope(this.#keys.prefix, tree.leaves);
  }

  async #reconcileScope(scope: string, leaves: Map<string, V2Leaf>): Promise<void> {
    await this.#writer.put(leaves.values(), false);
    const root = this.#keys.dest(scope);
    const gone: string[] = [];
    for (const [destKey, entry] of this.#writer.entries()) {
      if (!entry.ours || !(destKey === root || destKey.startsWith(root === "" ? "/" : `${root}/`))) continue;
      const source = this.#keys.source(destKey);
      // A hidden key below the scope never shows in a listing: its absence says nothing.
      if (!leaves.has(source) && !isHidden(source.slice(scope.length))) gone.push(source);
    }
    await this.#writer.delete(gone);
  }

  #enter(phase: MigrationPhase): void {
    this.#phase = phase;
    this.#progress(true);
  }

  #progress(force = false): void {
    const report = this.#o.onProgress;
    if (report === undefined) return;
    const now = performance.now();
    if (!force && now - this.#lastProgress < 100) return;
    this.#lastProgress = now;
    const c = this.#writer.counters;
    report({ phase: this.#phase, total: this.#total, written: c.written, unchanged: c.unchanged, events: this.#events, lag: this.#lag });
  }

  #report(index: number, differences: readonly Difference[]): MigrationReport {
    const c = this.#writer.counters;
    return {
      sourceIndex: index,
      keys: this.#total,
      written: c.written,
      unchanged: c.unchanged,
      deleted: c.deleted,
      leases: c.leases,
      bytes: c.bytes,
      emptyDirs: [...this.#emptyDirs].sort(),
      skipped: [...this.#writer.skipped.values()],
      conflicts: [...this.#writer.conflicts].map(([key, reason]) => ({ key: this.#keys.source(key), reason })),
      events: this.#events,
      resyncs: this.#resyncs,
      durationMs: Math.round(performance.now() - this.#started),
      differences,
      dryRun: this.#o.dryRun === true,
    };
  }
}

function keyMapOf(options: MigrateV2ToV3Options): KeyMap {
  const keys = new KeyMap(options.prefix ?? "/", options.destPrefix);
  for (const key of options.keys ?? []) {
    if (!keys.covers(key)) throw new EtcdError("INVALID_ARGUMENT", `named key ${key} is not under the migrated prefix ${keys.prefix || "/"}`);
  }
  return keys;
}

/** The prefix's tree and each named key's, merged; the index is the prefix's. */
async function readSource(source: EtcdV2Client, keys: KeyMap, named: readonly string[], signal: AbortSignal | undefined): Promise<SourceTree> {
  const tree = await readTree(source, keys.prefix, signal).catch((error: unknown) => {
    throw v2Missing(error) ?? error;
  });
  for (const key of named) {
    const extra = await readTree(source, key, signal);
    for (const [k, leaf] of extra.leaves) tree.leaves.set(k, leaf);
    tree.emptyDirs.push(...extra.emptyDirs.filter((d) => !tree.emptyDirs.includes(d)));
  }
  return tree;
}

/** A cluster that doesn't serve v2 answers 404 with a plain-text body: say what that means. */
function v2Missing(error: unknown): EtcdError | undefined {
  if (!(error instanceof EtcdError)) return undefined;
  const code: string = error.code;
  const notServed = code === "V2_UNAVAILABLE" || (error.status === 404 && error.errorCode === undefined);
  if (!notServed) return undefined;
  return new EtcdError(
    error.code,
    `the source cluster does not serve the v2 API (${error.endpoint ?? "?"}): etcd 3.4/3.5 serve it only when started with --enable-v2=true, and etcd 3.6 not at all; there is nothing to migrate from a cluster that never served v2`,
    { endpoint: error.endpoint, status: error.status, cause: error },
  );
}
