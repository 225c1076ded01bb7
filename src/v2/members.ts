/**
 * The v2 members API (`/v2/members`): list, add, remove, update, and the current leader.
 * Adding and removing are not repeated after a possible delivery: a repeated add of an applied
 * change would answer 409, hiding that the first one succeeded.
 */
import { invalidArgument, jsonRequest } from "../codec/v2.js";
import { V2_PATHS, decodeMember, decodeMembers, itemPath } from "../codec/v2-admin.js";
import type { CallOptions } from "../options.js";
import { jsonCall, statusCall, type V2Requester } from "./request.js";
import type { Member } from "./types.js";

/** Cluster membership (`client.members`). */
export class V2Members {
  readonly #requester: V2Requester;

  /** Used by `EtcdV2Client`; not constructed directly. */
  constructor(requester: V2Requester) {
    this.#requester = requester;
  }

  /** Every member of the cluster. */
  list(options?: CallOptions): Promise<Member[]> {
    return this.#requester.run(jsonCall("members.list", true, { method: "GET", path: V2_PATHS.members }, [200], decodeMembers), options);
  }

  /** The current leader; rejects with LEADER_ELECT while there is none. */
  leader(options?: CallOptions): Promise<Member> {
    return this.#requester.run(jsonCall("members.leader", true, { method: "GET", path: V2_PATHS.leader }, [200], decodeMember), options);
  }

  /** Announces a new member by its peer URLs (start the member afterwards); returns it, nameless until it starts. */
  async add(peerUrls: readonly string[], options?: CallOptions): Promise<Member> {
    const request = jsonRequest("POST", V2_PATHS.members, { peerURLs: checkUrls(peerUrls) });
    return this.#requester.run(jsonCall("members.add", false, request, [201], decodeMember), options);
  }

  /** Removes a member by its hex ID; a member already removed (410 Gone) counts as success. */
  async remove(id: string, options?: CallOptions): Promise<void> {
    const request = { method: "DELETE", path: itemPath(V2_PATHS.members, checkId(id)) } as const;
    await this.#requester.run(statusCall("members.remove", false, request, [204, 410]), options);
  }

  /** Replaces a member's peer URLs. */
  async update(id: string, peerUrls: readonly string[], options?: CallOptions): Promise<void> {
    const request = jsonRequest("PUT", itemPath(V2_PATHS.members, checkId(id)), { peerURLs: checkUrls(peerUrls) });
    await this.#requester.run(statusCall("members.update", true, request, [204]), options);
  }
}

function checkId(id: unknown): string {
  if (typeof id !== "string" || id === "") throw invalidArgument("a member ID must be a non-empty hex string");
  return id;
}

function checkUrls(urls: unknown): readonly string[] {
  if (!Array.isArray(urls) || urls.length === 0 || urls.some((u) => typeof u !== "string")) {
    throw invalidArgument("peer URLs must be a non-empty array of strings");
  }
  return urls as readonly string[];
}
