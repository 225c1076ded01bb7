/**
 * etcd's v3 maintenance API (`client.maintenance`). Most of it is about one member: its status,
 * defragmenting its database, the hash of its key space. Those calls name the member and go to
 * it alone; asking another member would answer a different question. Alarms are cluster-wide,
 * and a leader transfer must be asked of the leader, which is looked up first.
 */
import { EtcdError } from "../errors.js";
import type { CallOptions } from "../options.js";
import {
  AlarmRequest,
  AlarmRequest_AlarmAction,
  AlarmResponse,
  AlarmType,
  DefragmentRequest,
  DefragmentResponse,
  HashKVRequest,
  HashKVResponse,
  MemberListRequest,
  MemberListResponse,
  MoveLeaderRequest,
  MoveLeaderResponse,
  StatusRequest,
  StatusResponse,
  type AlarmMember,
} from "./gen/etcdserverpb.js";
import { memberId } from "./cluster.js";
import { header, invalid, toInt64 } from "./convert.js";
import { METHODS } from "./methods.js";
import type { UnarySpec, V3Rpc } from "./rpc.js";
import type { ResponseHeader } from "./types.js";
import { SnapshotStream, snapshotToFile, type SnapshotFileOptions, type SnapshotFileResult, type SnapshotOptions } from "./snapshot.js";

/** What `status` returns: one member's view of itself and of the cluster. */
export interface MemberStatus {
  /** Who answered (`header.memberId` is the member's ID) and at what revision. */
  readonly header: ResponseHeader;
  /** The etcd version the member runs. */
  readonly version: string;
  /** The size of its database file in bytes. */
  readonly dbSize: bigint;
  /** The ID of the leader it knows, 0n for none. */
  readonly leader: bigint;
  /** Its raft log index. */
  readonly raftIndex: bigint;
  /** Its raft term. */
  readonly raftTerm: bigint;
  /** The raft index it has applied. */
  readonly raftAppliedIndex: bigint;
  /** Alarm and health messages it reports. */
  readonly errors: readonly string[];
  /** How much of the database file holds live data, in bytes; the rest is reclaimed by defragment. */
  readonly dbSizeInUse: bigint;
  /** True when it is a learner. */
  readonly isLearner: boolean;
}

/** The kinds of alarm etcd raises. */
export type AlarmKind = "nospace" | "corrupt";

/** An alarm raised by one member. */
export interface Alarm {
  /** The member that raised it. */
  readonly memberId: bigint;
  /** What it is about: the database quota is used up, or the member's data is corrupt. */
  readonly alarm: AlarmKind;
}

/** What `alarms` and `disarm` return. */
export interface AlarmResult {
  /** Who answered and at what revision. */
  readonly header: ResponseHeader;
  /** The alarms raised (for `disarm`: the alarms it cleared). */
  readonly alarms: readonly Alarm[];
}

/** What `hashKV` returns. */
export interface HashKVResult {
  /** Who answered and at what revision. */
  readonly header: ResponseHeader;
  /** The hash of the member's key space up to the revision; equal on members in sync. */
  readonly hash: number;
  /** The revision the member's store is compacted to. */
  readonly compactRevision: bigint;
}

/** The reply of a maintenance action that returns nothing but its header. */
export interface MaintenanceResult {
  /** Who answered. */
  readonly header: ResponseHeader;
}

const STATUS: UnarySpec<StatusRequest, StatusResponse> = { name: "maintenance.status", path: METHODS.status, repeat: "read", request: StatusRequest, response: StatusResponse };
const ALARMS: UnarySpec<AlarmRequest, AlarmResponse> = { name: "maintenance.alarms", path: METHODS.alarm, repeat: "read", request: AlarmRequest, response: AlarmResponse };
// Clearing an alarm that is already clear answers success: a second copy changes nothing.
const DISARM: UnarySpec<AlarmRequest, AlarmResponse> = { ...ALARMS, name: "maintenance.disarm", repeat: "idempotent" };
const DEFRAGMENT: UnarySpec<DefragmentRequest, DefragmentResponse> = {
  name: "maintenance.defragment",
  path: METHODS.defragment,
  repeat: "idempotent",
  local: true,
  request: DefragmentRequest,
  response: DefragmentResponse,
};
const HASH_KV: UnarySpec<HashKVRequest, HashKVResponse> = { name: "maintenance.hashKV", path: METHODS.hashKV, repeat: "read", request: HashKVRequest, response: HashKVResponse };
const MOVE_LEADER: UnarySpec<MoveLeaderRequest, MoveLeaderResponse> = {
  name: "maintenance.moveLeader",
  path: METHODS.moveLeader,
  repeat: "once",
  local: true,
  request: MoveLeaderRequest,
  response: MoveLeaderResponse,
};
const MEMBER_LIST: UnarySpec<MemberListRequest, MemberListResponse> = {
  name: "maintenance.moveLeader",
  path: METHODS.memberList,
  repeat: "read",
  request: MemberListRequest,
  response: MemberListResponse,
};

const ALARM_KINDS: Readonly<Record<AlarmKind, AlarmType>> = { nospace: AlarmType.NOSPACE, corrupt: AlarmType.CORRUPT };
/** How often `moveLeader` looks the leader up again when leadership moved under it. */
const LEADER_LOOKUPS = 3;

const ALARM_NAMES: ReadonlyMap<number, AlarmKind> = new Map([
  [AlarmType.NOSPACE, "nospace"],
  [AlarmType.CORRUPT, "corrupt"],
]);

function alarm(a: AlarmMember): Alarm | undefined {
  const kind = ALARM_NAMES.get(a.alarm);
  return kind === undefined ? undefined : { memberId: a.memberID, alarm: kind };
}

function alarmResult(reply: AlarmResponse): AlarmResult {
  return { header: header(reply.header), alarms: reply.alarms.flatMap((a) => alarm(a) ?? []) };
}

function alarmRequest(a: Alarm, action: AlarmRequest_AlarmAction): AlarmRequest {
  const given: unknown = a;
  if (typeof given !== "object" || given === null) throw invalid("an alarm must be an object with memberId and alarm");
  const kind: unknown = a.alarm;
  const type = typeof kind === "string" && Object.hasOwn(ALARM_KINDS, kind) ? ALARM_KINDS[kind as AlarmKind] : undefined;
  if (type === undefined) throw invalid(`alarm must be "nospace" or "corrupt", got ${String(kind)}`);
  return { action, memberID: memberId(a.memberId, "alarm memberId"), alarm: type };
}

/** A member URL as the caller names it; checked so a typo fails before anything is sent. */
function endpointOf(value: unknown): string {
  if (typeof value !== "string") throw invalid(`endpoint must be a member URL, got ${String(value)}`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(`endpoint ${value} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw invalid(`endpoint ${value} must be http:// or https://`);
  return value;
}

function memberStatus(r: StatusResponse): MemberStatus {
  return {
    header: header(r.header),
    version: r.version,
    dbSize: r.dbSize,
    leader: r.leader,
    raftIndex: r.raftIndex,
    raftTerm: r.raftTerm,
    raftAppliedIndex: r.raftAppliedIndex,
    errors: r.errors,
    dbSizeInUse: r.dbSizeInUse,
    isLearner: r.isLearner,
  };
}

/** Per-member maintenance (`client.maintenance`). */
export class V3Maintenance {
  readonly #rpc: V3Rpc;

  /** Used by `EtcdV3Client`; not constructed directly. */
  constructor(rpc: V3Rpc) {
    this.#rpc = rpc;
  }

  /** The status of the member at `endpoint`, or of whichever member the client uses when none is named. */
  async status(endpoint?: string, options?: CallOptions): Promise<MemberStatus> {
    const reply = endpoint === undefined ? await this.#rpc.call(STATUS, {}, options) : await this.#rpc.callMember(endpointOf(endpoint), STATUS, {}, options);
    return memberStatus(reply);
  }

  /** Every alarm raised in the cluster. */
  async alarms(options?: CallOptions): Promise<AlarmResult> {
    return alarmResult(await this.#rpc.call(ALARMS, { action: AlarmRequest_AlarmAction.GET, memberID: 0n, alarm: AlarmType.NONE }, options));
  }

  /**
   * Clears alarms: the ones given, or every alarm raised when none are given. Returns the alarms
   * cleared. Clear a NOSPACE alarm only after freeing space (compact, then defragment), or the
   * next write raises it again.
   */
  async disarm(alarms?: readonly Alarm[], options?: CallOptions): Promise<AlarmResult> {
    const given: unknown = alarms;
    if (given !== undefined && !Array.isArray(given)) throw invalid("alarms must be an array of { memberId, alarm }");
    const requests = alarms?.map((a) => alarmRequest(a, AlarmRequest_AlarmAction.DEACTIVATE));
    const targets = requests ?? (await this.alarms(options)).alarms.map((a) => alarmRequest(a, AlarmRequest_AlarmAction.DEACTIVATE));
    let last: ResponseHeader | undefined;
    const cleared: Alarm[] = [];
    for (const request of targets) {
      const reply = alarmResult(await this.#rpc.call(DISARM, request, options));
      last = reply.header;
      cleared.push(...reply.alarms);
    }
    return { header: last ?? header(undefined), alarms: cleared };
  }

  /**
   * Rewrites the database file of the member at `endpoint` to release the space of compacted
   * revisions. The member answers nothing else meanwhile, so defragment members one at a time.
   */
  async defragment(endpoint: string, options?: CallOptions): Promise<MaintenanceResult> {
    const reply = await this.#rpc.callMember(endpointOf(endpoint), DEFRAGMENT, {}, options);
    return { header: header(reply.header) };
  }

  /** The hash of the key space of the member at `endpoint` up to `revision` (default: its latest), to compare members. */
  async hashKV(endpoint: string, revision?: bigint | number, options?: CallOptions): Promise<HashKVResult> {
    const request = { revision: toInt64(revision, "revision") };
    const reply = await this.#rpc.callMember(endpointOf(endpoint), HASH_KV, request, options);
    return { header: header(reply.header), hash: reply.hash, compactRevision: reply.compactRevision };
  }

  /**
   * Hands leadership to the member `targetId`, waiting until it leads. Only the leader accepts
   * this, so the leader is looked up (status, then its URL from the member list) and asked
   * directly; if leadership moves in between, the lookup is repeated.
   */
  async moveLeader(targetId: bigint, options?: CallOptions): Promise<MaintenanceResult> {
    const target = memberId(targetId, "targetId");
    for (let lookup = 1; ; lookup++) {
      const leader = await this.#leaderEndpoint(options);
      try {
        const reply = await this.#rpc.callMember(leader, MOVE_LEADER, { targetID: target }, options);
        return { header: header(reply.header) };
      } catch (error) {
        // A member that is no longer leader refuses before doing anything, so asking the new one is safe.
        if (!(error instanceof EtcdError) || error.code !== "NOT_LEADER" || lookup >= LEADER_LOOKUPS) throw error;
      }
    }
  }

  /**
   * The backend database of one member (the engine's pick, or `options.endpoint`) as a stream of
   * chunks, the trailing sha256 digest included (as etcdctl saves it); the iteration throws
   * SNAPSHOT_CORRUPT when the digest does not match. Needs the root role when auth is on.
   */
  snapshot(options?: SnapshotOptions): SnapshotStream {
    return new SnapshotStream(this.#rpc, options);
  }

  /**
   * Saves a snapshot to `path` atomically: a temporary file beside it, verified against etcd's
   * digest, fsynced, then renamed; an interrupted or corrupt download leaves no file at `path`.
   */
  snapshotToFile(path: string, options: SnapshotFileOptions = {}): Promise<SnapshotFileResult> {
    return snapshotToFile(new SnapshotStream(this.#rpc, options), path, options);
  }

  async #leaderEndpoint(options: CallOptions | undefined): Promise<string> {
    const [status, list] = await Promise.all([this.#rpc.call(STATUS, {}, options), this.#rpc.call(MEMBER_LIST, {}, options)]);
    if (status.leader === 0n) throw new EtcdError("NO_LEADER", "the cluster has no leader to hand leadership over");
    const leader = list.members.find((m) => m.ID === status.leader);
    const known = new Set(this.#rpc.engine.endpoints);
    // Prefer a URL the client was given: it is reachable and has the right scheme.
    const url = leader?.clientURLs.find((u) => known.has(u)) ?? leader?.clientURLs[0];
    if (url === undefined) throw new EtcdError("MEMBER_NOT_FOUND", `the leader ${status.leader.toString(16)} is not in the member list or has no client URL`);
    return url;
  }
}
