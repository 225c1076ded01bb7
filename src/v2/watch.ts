/**
 * The v2 watch: a long poll (`GET ?wait=true&waitIndex=N`) repeated for ever, as an async iterator.
 *
 * States of one watch:
 * - `starting`: without `waitIndex`, a strong read fixes the index to start after, so that a
 *   failover before the first event can neither skip nor repeat anything;
 * - `polling`: one long poll in flight through the endpoint engine (as a long poll: its member is
 *   health-checked every second, and a hung or leaderless member makes the engine move it);
 * - `backing-off`: every member failed; wait, then poll again from the same index;
 * - `resyncing`: history was cleared (etcd 401) and the caller asked for `onCleared: "resync"`;
 * - `ended`: `break`, `return()`, the caller's signal or `client.close()` (without an error), or
 *   `client.destroy()` (with its reason).
 * After each event the next poll asks for `modifiedIndex + 1`, whichever member answers, so no
 * event is lost or delivered twice across failovers.
 */
import { setMaxListeners } from "node:events";
import { EtcdError } from "../errors.js";
import type { EndpointEngine, Operation } from "../endpoints/engine.js";
import { pause, reconnectDelay } from "../endpoints/retry.js";
import { onAbort } from "../endpoints/shared-abort.js";
import type { HttpTransport } from "../transport/http.js";
import { decodeKeyReply, encodeKeyPath, encodeParams } from "../codec/v2.js";
import type { V2Node, V2Response } from "./types.js";

/** Options of `watch` and `watchOnce`. */
export interface WatchOptions {
  /** Also report changes to keys below `key`. */
  readonly recursive?: boolean | undefined;
  /** The first index to report; without it, the watch starts after the current index. */
  readonly waitIndex?: number | undefined;
  /** Ends the watch; the iterator then finishes without throwing. */
  readonly signal?: AbortSignal | undefined;
  /**
   * What to do when the history the watch needs was cleared (etcd keeps the last 1,000 events):
   * "throw" (default) ends the iterator with `EVENT_INDEX_CLEARED`; "resync" yields one
   * `{ action: "resync" }` item with the current state and carries on from there.
   */
  readonly onCleared?: "throw" | "resync" | undefined;
}

/** The snapshot a watch yields after its history was cleared, with `onCleared: "resync"`. */
export interface V2ResyncEvent {
  /** Always "resync". */
  readonly action: "resync";
  /** The current state of the watched key (recursive when the watch is); absent if the key does not exist. */
  readonly node?: V2Node | undefined;
  /** The index the snapshot was read at; the watch continues from the next one. */
  readonly etcdIndex: number;
}

/** What a watch yields: a change, or (only with `onCleared: "resync"`) a snapshot. */
export type V2WatchEvent = V2Response | V2ResyncEvent;

/** What a watch needs from its client. */
export interface WatchContext {
  readonly engine: EndpointEngine;
  readonly transport: HttpTransport;
  /** Aborted when the client closes: every watch then ends. */
  readonly closed: AbortSignal;
  /** The reason the client was destroyed with, or undefined: a watch then ends by throwing it. */
  readonly destroyed: () => unknown;
  /** A linearizable read of `key` (recursive when asked), for starting and resyncing. */
  readonly read: (key: string, recursive: boolean, signal: AbortSignal) => Promise<V2Response>;
}

const BACKOFF_BASE_MS = 50;
const BACKOFF_CAP_MS = 1000;

/** Watches `key` and yields every change in index order, across member failures. */
export async function* watchV2(ctx: WatchContext, key: string, options: WatchOptions = {}): AsyncGenerator<V2WatchEvent, void, undefined> {
  const stop = new AbortController();
  const onStop = (): void => {
    stop.abort();
  };
  // A function, not a property read, so the checks after each await are not narrowed away.
  const stopped = (): boolean => stop.signal.aborted;
  const sources = [ctx.closed, options.signal].filter((s): s is AbortSignal => s !== undefined);
  if (sources.some((s) => s.aborted)) {
    throwIfDestroyed(ctx);
    return;
  }
  // One listener per signal however many watches share it (no MaxListenersExceededWarning).
  const unsubscribe = sources.map((source) => onAbort(source, onStop));
  const recursive = options.recursive === true;
  try {
    let next = options.waitIndex ?? (await snapshot(ctx, key, recursive, stop.signal)).etcdIndex + 1;
    let failures = 0;
    while (!stopped()) {
      let event: V2Response | undefined;
      try {
        event = await ctx.engine.execute(pollOperation(ctx, key, recursive, next), { signal: stop.signal, timeout: 0 });
        failures = 0;
      } catch (error) {
        if (stopped()) {
          throwIfDestroyed(ctx);
          return;
        }
        if (!(error instanceof EtcdError)) throw error;
        if (error.code === "EVENT_INDEX_CLEARED") {
          if (options.onCleared !== "resync") throw clearedError(error, next);
          const state = await snapshot(ctx, key, recursive, stop.signal);
          yield state;
          next = state.etcdIndex + 1;
          continue;
        }
        if (!error.memberFailure && error.code !== "UNAVAILABLE" && error.code !== "TIMEOUT") throw error;
        failures++;
        await pause(reconnectDelay(failures, BACKOFF_BASE_MS, BACKOFF_CAP_MS), stop.signal);
        continue;
      }
      // An empty 200 means the server ended the poll without an event: ask again from the same index.
      if (event === undefined) continue;
      yield event;
      next = Math.max(next, (event.node?.modifiedIndex ?? 0) + 1);
    }
    throwIfDestroyed(ctx);
  } catch (error) {
    if (stopped()) {
      throwIfDestroyed(ctx);
      return;
    }
    throw error;
  } finally {
    for (const off of unsubscribe) off();
    stop.abort();
  }
}

/** A watch stopped: quietly, unless the client was destroyed, whose reason it then throws. */
function throwIfDestroyed(ctx: WatchContext): void {
  const reason = ctx.destroyed();
  // The caller's own reason, unchanged, as an aborted signal's reason is rethrown.
  if (reason !== undefined) throw reason as Error;
}

function pollOperation(ctx: WatchContext, key: string, recursive: boolean, waitIndex: number): Operation<V2Response | undefined> {
  const query = encodeParams({ wait: "true", waitIndex: String(waitIndex), recursive: recursive ? "true" : undefined });
  const path = `${encodeKeyPath(key)}?${query}`;
  return {
    name: "watch",
    repeat: "read",
    longPoll: true,
    run: async (endpoint, signal) => {
      const reply = await ctx.transport.request(endpoint, { method: "GET", path, longPoll: true }, signal);
      if (reply.status === 200 && reply.body.trim() === "") return undefined;
      return decodeKeyReply(reply, endpoint);
    },
  };
}

/** Reads the current state; a missing key still tells the current index. */
async function snapshot(ctx: WatchContext, key: string, recursive: boolean, signal: AbortSignal): Promise<V2ResyncEvent> {
  try {
    const reply = await ctx.read(key, recursive, signal);
    return { action: "resync", node: reply.node, etcdIndex: reply.etcdIndex };
  } catch (error) {
    if (error instanceof EtcdError && error.code === "KEY_NOT_FOUND" && error.index !== undefined) {
      return { action: "resync", etcdIndex: error.index };
    }
    throw error;
  }
}

/** The typed error for a cleared history, carrying the oldest index the server still has. */
function clearedError(error: EtcdError, asked: number): EtcdError {
  // The server's cause reads "the requested history has been cleared [<oldest>/<asked>]".
  const match = /\[(\d+)\/\d+\]/.exec(error.serverCause ?? error.serverMessage ?? error.message);
  const oldest = match?.[1] === undefined ? undefined : Number(match[1]);
  const resumeIndex = oldest ?? (error.index === undefined ? undefined : error.index + 1);
  return new EtcdError(
    "EVENT_INDEX_CLEARED",
    `events from index ${asked} were cleared from etcd's history (it keeps the last 1000); ` +
      `events before index ${resumeIndex ?? "?"} are lost: read the current state and watch from its etcdIndex + 1, or use onCleared: "resync"`,
    {
      endpoint: error.endpoint,
      status: error.status,
      errorCode: error.errorCode,
      serverMessage: error.serverMessage,
      serverCause: error.serverCause,
      index: error.index,
      resumeIndex,
      cause: error,
    },
  );
}

/** A signal for "the client closed" that any number of watches may listen to without warnings. */
export function closeSignal(controller: AbortController): AbortSignal {
  setMaxListeners(0, controller.signal);
  return controller.signal;
}
