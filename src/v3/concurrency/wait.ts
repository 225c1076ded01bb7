/**
 * Waiting on keys for the lock and election recipes, as Go's concurrency package waits: the
 * waiter watches the deletion of its predecessor (the key under the prefix with the greatest
 * create revision below its own), so each deletion wakes one waiter, not all of them. Waits are
 * watches, which the engine treats as long-lived and resumes on another member without loss.
 */
import { EtcdError } from "../../errors.js";
import type { KeyValue, ResponseHeader } from "../types.js";
import type { KvClient } from "./kv.js";

/** The key under `prefix` created first (the lock holder or elected leader), read linearizably. */
export async function firstCreated(client: KvClient, prefix: string, signal?: AbortSignal): Promise<KeyValue | undefined> {
  const reply = await client.get(prefix, { prefix: true, sortTarget: "create", sortOrder: "ascend", limit: 1, serializable: false, signal });
  return reply.kvs[0];
}

/**
 * Resolves once no key under `prefix` has a create revision at or below `maxCreateRevision`,
 * with the header of the read that showed it; rejects with the signal's reason when it aborts.
 */
export async function waitDeletes(client: KvClient, prefix: string, maxCreateRevision: bigint, signal: AbortSignal): Promise<ResponseHeader> {
  for (;;) {
    signal.throwIfAborted();
    const reply = await client.get(prefix, {
      prefix: true,
      sortTarget: "create",
      sortOrder: "descend",
      limit: 1,
      maxCreateRevision,
      serializable: false,
      signal,
    });
    const last = reply.kvs[0];
    if (last === undefined) return reply.header;
    await waitDelete(client, last.key, reply.header.revision, signal);
  }
}

/**
 * Resolves with "deleted" when `key` is deleted at a revision at or after `fromRevision` (at once
 * if it already was), or "compacted" when that history is gone, so the caller reads again.
 * Rejects with the signal's reason when it aborts.
 */
export async function waitDelete(client: KvClient, key: Buffer | string, fromRevision: bigint, signal: AbortSignal): Promise<"deleted" | "compacted"> {
  try {
    for await (const event of client.watch(key, { startRevision: fromRevision, noPut: true, progressNotify: true, signal })) {
      if (event.type === "delete") return "deleted";
    }
  } catch (error) {
    if (error instanceof EtcdError && error.code === "COMPACTED") return "compacted";
    throw error;
  }
  signal.throwIfAborted();
  // A watch ends without an abort only when the client closes.
  throw new EtcdError("CLIENT_CLOSED", "the client was closed while waiting for a key's deletion");
}

/**
 * Watches our own lock or candidate key after it was created at `createRevision` and calls
 * `onGone` once it is deleted (by the lease's expiry or revoke, or by another client), or found
 * replaced by a key of another creation. Stops quietly when `signal` aborts.
 */
export function watchOwnKey(client: KvClient, key: string, createRevision: bigint, signal: AbortSignal, onGone: (error: EtcdError) => void): void {
  const gone = (why: string): void => {
    if (!signal.aborted) onGone(new EtcdError("LOCK_LOST", `${key} (created at revision ${createRevision}) ${why}`));
  };
  const stopped = (): boolean => signal.aborted;
  const follow = async (): Promise<void> => {
    for (let from = createRevision + 1n; !stopped(); ) {
      let seen: "deleted" | "compacted";
      try {
        seen = await waitDelete(client, key, from, signal);
      } catch (error) {
        if (stopped()) return;
        if (!(error instanceof EtcdError) || error.code === "CLIENT_CLOSED") throw error;
        gone(`could not be watched: ${error.message}`);
        return;
      }
      // Told at once: a contender still has a read to make before it may act.
      if (seen === "deleted") {
        gone("was deleted: the lease expired or was revoked, or another client deleted it");
        return;
      }
      // A compacted history: read the key to see whether it is still ours.
      const now = await client.get(key, { serializable: false, signal });
      const kv = now.kvs[0];
      if (kv?.createRevision !== createRevision) {
        gone(kv === undefined ? "was deleted: the lease expired or was revoked, or another client deleted it" : `was replaced by a key created at revision ${kv.createRevision}`);
        return;
      }
      from = now.header.revision + 1n;
    }
  };
  follow().catch((error: unknown) => {
    if (!signal.aborted && !(error instanceof EtcdError && error.code === "CLIENT_CLOSED")) {
      gone(`could not be watched: ${error instanceof Error ? error.message : String(error)}`);
    }
  });
}
