/**
 * etcd's v3 cluster membership API (`client.cluster`). Member IDs are bigints: etcd's are random
 * 64-bit numbers, most of them beyond 2^53.
 *
 * `list` is a read and re-sent after any member failure. The changes are "once", except `update`:
 * a second add fails on the peer URL the first one registered, a second remove or promote on the
 * member the first one removed or promoted, so re-sending would turn a success into an error.
 * A second update with the same peer URLs changes nothing ("idempotent").
 */
import { EtcdError } from "../errors.js";
import type { CallOptions } from "../options.js";
import {
  MemberAddRequest,
  MemberAddResponse,
  MemberListRequest,
  MemberListResponse,
  MemberPromoteRequest,
  MemberPromoteResponse,
  MemberRemoveRequest,
  MemberRemoveResponse,
  MemberUpdateRequest,
  MemberUpdateResponse,
  type Member as PbMember,
} from "./gen/etcdserverpb.js";
import { header, invalid } from "./convert.js";
import { METHODS } from "./methods.js";
import type { UnarySpec, V3Rpc } from "./rpc.js";
import type { ResponseHeader } from "./types.js";

/** One member of the cluster. */
export interface ClusterMember {
  /** The member's ID. */
  readonly id: bigint;
  /** Its name; empty for a member added but not started yet. */
  readonly name: string;
  /** The URLs its peers reach it on. */
  readonly peerUrls: readonly string[];
  /** The URLs clients reach it on; empty until it has started. */
  readonly clientUrls: readonly string[];
  /** True for a learner: a non-voting member catching up, until promoted. */
  readonly isLearner: boolean;
}

/** What `list`, `remove`, `update` and `promote` return: the membership after the call. */
export interface MemberListResult {
  /** Who answered and at what revision. */
  readonly header: ResponseHeader;
  /** Every member. */
  readonly members: readonly ClusterMember[];
}

/** What `add` returns. */
export interface MemberAddResult extends MemberListResult {
  /** The member just added (start it with the same peer URLs and `--initial-cluster-state=existing`). */
  readonly member: ClusterMember;
}

/** Options of `add`. */
export interface MemberAddOptions extends CallOptions {
  /** Add as a learner, which does not vote until promoted. */
  readonly isLearner?: boolean | undefined;
}

const LIST: UnarySpec<MemberListRequest, MemberListResponse> = {
  name: "cluster.list",
  path: METHODS.memberList,
  repeat: "read",
  request: MemberListRequest,
  response: MemberListResponse,
};
const ADD: UnarySpec<MemberAddRequest, MemberAddResponse> = {
  name: "cluster.add",
  path: METHODS.memberAdd,
  repeat: "once",
  request: MemberAddRequest,
  response: MemberAddResponse,
};
const REMOVE: UnarySpec<MemberRemoveRequest, MemberRemoveResponse> = {
  name: "cluster.remove",
  path: METHODS.memberRemove,
  repeat: "once",
  request: MemberRemoveRequest,
  response: MemberRemoveResponse,
};
const UPDATE: UnarySpec<MemberUpdateRequest, MemberUpdateResponse> = {
  name: "cluster.update",
  path: METHODS.memberUpdate,
  repeat: "idempotent",
  request: MemberUpdateRequest,
  response: MemberUpdateResponse,
};
const PROMOTE: UnarySpec<MemberPromoteRequest, MemberPromoteResponse> = {
  name: "cluster.promote",
  path: METHODS.memberPromote,
  repeat: "once",
  request: MemberPromoteRequest,
  response: MemberPromoteResponse,
};

/** A member as returned: camelCase names for the wire's `ID`, `peerURLs` and `clientURLs`. */
export function clusterMember(m: PbMember): ClusterMember {
  return { id: m.ID, name: m.name, peerUrls: m.peerURLs, clientUrls: m.clientURLs, isLearner: m.isLearner };
}

function membership(reply: { header?: MemberListResponse["header"]; members: PbMember[] }): MemberListResult {
  return { header: header(reply.header), members: reply.members.map(clusterMember) };
}

/** A member ID: etcd's IDs are unsigned 64-bit and never 0. */
export function memberId(value: unknown, what = "member ID"): bigint {
  let id: bigint | undefined;
  if (typeof value === "bigint") id = value;
  else if (typeof value === "number" && Number.isSafeInteger(value)) id = BigInt(value);
  if (id === undefined) throw invalid(`${what} must be a bigint (etcd's IDs exceed 2^53), got ${String(value)}`);
  if (id <= 0n || id > 0xffffffffffffffffn) throw invalid(`${what} must be between 1 and 2^64-1, got ${id}`);
  return id;
}

function peerUrls(value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0) throw invalid("peerUrls must be a non-empty array of URLs");
  return value.map((url: unknown) => {
    if (typeof url !== "string") throw invalid(`peer URL ${String(url)} is not a string`);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw invalid(`peer URL ${url} is not a URL`);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw invalid(`peer URL ${url} must be http:// or https://`);
    return url;
  });
}

/** Cluster membership (`client.cluster`). */
export class V3Cluster {
  readonly #rpc: V3Rpc;

  /** Used by `EtcdV3Client`; not constructed directly. */
  constructor(rpc: V3Rpc) {
    this.#rpc = rpc;
  }

  /** Every member, learners included. */
  async list(options?: CallOptions): Promise<MemberListResult> {
    return membership(await this.#rpc.call(LIST, {}, options));
  }

  /**
   * Registers a new member with these peer URLs (PEER_URL_EXISTS if one is taken); it joins once
   * started. Never re-sent after a possible delivery: OUTCOME_UNKNOWN instead, then `list` tells.
   */
  async add(urls: readonly string[], options: MemberAddOptions = {}): Promise<MemberAddResult> {
    const reply = await this.#rpc.call(ADD, { peerURLs: peerUrls(urls), isLearner: options.isLearner === true }, options);
    const added = reply.member;
    // The add was applied; only the reply is short, so this is not a failure to retry.
    if (added === undefined) throw new EtcdError("MALFORMED_RESPONSE", "etcd answered a member add without the member it added");
    return { ...membership(reply), member: clusterMember(added) };
  }

  /** Removes a member (MEMBER_NOT_FOUND for an unknown ID); never re-sent after a possible delivery. */
  async remove(id: bigint, options?: CallOptions): Promise<MemberListResult> {
    return membership(await this.#rpc.call(REMOVE, { ID: memberId(id) }, options));
  }

  /** Changes a member's peer URLs. */
  async update(id: bigint, urls: readonly string[], options?: CallOptions): Promise<MemberListResult> {
    return membership(await this.#rpc.call(UPDATE, { ID: memberId(id), peerURLs: peerUrls(urls) }, options));
  }

  /** Makes a learner a voting member; etcd refuses while the learner lags behind the leader. */
  async promote(id: bigint, options?: CallOptions): Promise<MemberListResult> {
    return membership(await this.#rpc.call(PROMOTE, { ID: memberId(id) }, options));
  }
}
