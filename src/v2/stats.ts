/**
 * The v2 statistics API (`/v2/stats/*`). Stats describe one member, so nothing here is checked
 * for staleness; all of it is safe to repeat.
 */
import { decodeJsonReply, decodeShape } from "../codec/v2.js";
import { V2_PATHS, decodeLeaderStats, decodeMember, decodeSelfStats, decodeStoreStats } from "../codec/v2-admin.js";
import { EtcdError } from "../errors.js";
import type { CallOptions } from "../options.js";
import { callOptions, jsonCall, type V2Requester } from "./request.js";
import type { LeaderStats, SelfStats, StoreStats } from "./types.js";

/** Member and store statistics (`client.stats`). */
export class V2Stats {
  readonly #requester: V2Requester;

  /** Used by `EtcdV2Client`; not constructed directly. */
  constructor(requester: V2Requester) {
    this.#requester = requester;
  }

  /** The raft state of the member in use. */
  self(options?: CallOptions): Promise<SelfStats> {
    return this.#requester.run(jsonCall("stats.self", true, { method: "GET", path: V2_PATHS.statsSelf }, [200], decodeSelfStats), options);
  }

  /** Operation counters of the store, as the member in use counts them. */
  store(options?: CallOptions): Promise<StoreStats> {
    return this.#requester.run(jsonCall("stats.store", true, { method: "GET", path: V2_PATHS.statsStore }, [200], decodeStoreStats), options);
  }

  /**
   * The leader's view of its followers. Only the leader answers this (followers say 403 "not
   * current leader"), so when the member in use is a follower the request goes on to the
   * leader it names: callers should not have to know which member leads.
   */
  leader(options?: CallOptions): Promise<LeaderStats> {
    const transport = this.#requester.transport;
    const ask = async (endpoint: string, signal: AbortSignal): Promise<LeaderStats> => {
      const reply = await transport.request(endpoint, { method: "GET", path: V2_PATHS.statsLeader }, signal);
      return decodeShape(reply, endpoint, () => decodeLeaderStats(decodeJsonReply(reply, endpoint, [200])));
    };
    const run = async (endpoint: string, signal: AbortSignal): Promise<LeaderStats> => {
      try {
        return await ask(endpoint, signal);
      } catch (error) {
        if (!(error instanceof EtcdError) || error.code !== "NOT_LEADER") throw error;
        const reply = await transport.request(endpoint, { method: "GET", path: V2_PATHS.leader }, signal);
        const leader = decodeShape(reply, endpoint, () => decodeMember(decodeJsonReply(reply, endpoint, [200])));
        const url = leader.clientURLs[0];
        if (url === undefined) throw error;
        return ask(url, signal);
      }
    };
    return this.#requester.engine.execute({ name: "stats.leader", repeat: "read", run }, callOptions(options));
  }
}
