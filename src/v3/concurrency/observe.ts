/**
 * Following an election, as Go's `Election.Observe`: report the leader (the key created first
 * under the prefix), then every value it proclaims, until its key is deleted; then the next
 * leader, as of that deletion. With no leader, wait for the first candidate's put. Every wait is
 * a watch, which resumes on another member without losing events; a compacted history or a
 * failed read starts the round again from a fresh read of the present.
 */
import { EtcdError } from "../../errors.js";
import { pause } from "../../endpoints/retry.js";
import type { KeyValue } from "../types.js";
import type { LeaderInfo } from "./election.js";
import type { KvClient } from "./kv.js";

/** Delay before reading again after a failed read or a compacted watch. */
const RETRY_MS = 200;
const NEVER = new AbortController().signal;

/**
 * Yields each new leader and each proclaimed value under `prefix` until `signal` aborts. After a
 * leader's key is deleted the next leader is read at the deletion's revision, not now, so a
 * value it proclaimed meanwhile is not skipped (Go's Observe reads the present and can skip it).
 */
export async function* observeLeaders(client: KvClient, prefix: string, signal: AbortSignal | undefined): AsyncGenerator<LeaderInfo, void, undefined> {
  // The revision to read the next leader at: a deletion's, or undefined for "now".
  let at: bigint | undefined;
  while (!ended(signal)) {
    try {
      const read = await client.get(prefix, { prefix: true, sortTarget: "create", sortOrder: "ascend", limit: 1, revision: at, serializable: false, signal });
      const leader = read.kvs[0] ?? (await firstPut(client, prefix, (at ?? read.header.revision) + 1n, signal));
      if (leader === undefined) return;
      yield info(leader);
      for await (const event of client.watch(leader.key, { startRevision: leader.modRevision + 1n, progressNotify: true, signal })) {
        if (event.type === "delete") {
          at = event.kv.modRevision;
          break;
        }
        yield info(event.kv);
      }
    } catch (error) {
      if (ended(signal)) return;
      if (!(error instanceof EtcdError) || !passing(error)) throw error;
      // A compacted history (or a failed read) starts again from the present.
      at = undefined;
      await pause(RETRY_MS, signal ?? NEVER);
    }
  }
}

/** Waits for the first put under the prefix from `revision` on, after a read found no candidate. */
async function firstPut(client: KvClient, prefix: string, revision: bigint, signal: AbortSignal | undefined): Promise<KeyValue | undefined> {
  for await (const event of client.watch(prefix, { prefix: true, startRevision: revision, noDelete: true, signal })) {
    return event.kv;
  }
  return undefined;
}

function info(kv: KeyValue): LeaderInfo {
  return { key: kv.key.toString(), value: kv.value, revision: kv.createRevision };
}

/** Failures that a fresh read may get past: a member's failure, a deadline, a compacted history. */
function passing(error: EtcdError): boolean {
  return error.memberFailure || error.code === "TIMEOUT" || error.code === "COMPACTED" || error.code === "NO_LEADER" || error.code === "UNAVAILABLE";
}

/** Whether the caller has stopped observing (a function, so each check reads the signal afresh). */
function ended(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}
