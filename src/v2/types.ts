/**
 * The public shapes of the v2 client: replies, nodes, members, users, roles, stats, and the
 * option objects each method takes. Every reply is a plain readonly object.
 */
import type { AuthOptions, CallOptions, EngineOptions, TlsOptions } from "../options.js";
import type { V2Dispatcher } from "../transport/http.js";

/** One key or directory, as etcd v2 returns it. */
export interface V2Node {
  /** The full key, e.g. `/foo/bar`; `/` for the root directory. */
  readonly key: string;
  /** The value of a file; absent for directories. */
  readonly value?: string;
  /** True for directories. */
  readonly dir?: boolean;
  /** Children of a directory read with `get`, when it has any. */
  readonly nodes?: readonly V2Node[];
  /** Seconds left before the node expires (only nodes with a TTL). */
  readonly ttl?: number;
  /** When the node expires, as RFC 3339 text (only nodes with a TTL). */
  readonly expiration?: string;
  /** Index of the write that created the node. */
  readonly createdIndex: number;
  /** Index of the last write to the node. */
  readonly modifiedIndex: number;
}

/** The reply to a key operation. */
export interface V2Response {
  /** What the server did: get, set, create, update, delete, compareAndSwap, compareAndDelete, expire. */
  readonly action: string;
  /** The node after the operation (absent with `noValueOnSuccess`). */
  readonly node?: V2Node;
  /** The node before the operation, when there was one. */
  readonly prevNode?: V2Node;
  /** `X-Etcd-Index`: the store's index when the reply was made (0 when a proxy dropped the header). */
  readonly etcdIndex: number;
  /** `X-Raft-Index`: the raft log index of the answering member. */
  readonly raftIndex?: number;
  /** `X-Raft-Term`: the raft term of the answering member. */
  readonly raftTerm?: number;
  /** `X-Etcd-Cluster-ID`: the cluster's ID, in hex. */
  readonly clusterId?: string;
}

/** An HTTP reply returned unchanged by `raw`. */
export interface RawResponse {
  /** The HTTP status. */
  readonly status: number;
  /** Header names are lower case. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body as text. */
  readonly body: string;
}

/** One cluster member. */
export interface Member {
  /** The member's ID in hex. */
  readonly id: string;
  /** The member's name (empty until a newly added member has started). */
  readonly name: string;
  /** URLs the members use to talk to this one. */
  readonly peerURLs: readonly string[];
  /** URLs clients use (empty until a newly added member has started). */
  readonly clientURLs: readonly string[];
}

/** What `/version` reports. */
export interface VersionInfo {
  /** The answering member's etcd version. */
  readonly etcdserver: string;
  /** The cluster version ("not_decided" while the cluster starts). */
  readonly etcdcluster: string;
}

/** What `/health` reports about the member that answered. */
export interface HealthInfo {
  /** True when the member has a leader and can serve requests. */
  readonly health: boolean;
  /** The member that answered. */
  readonly endpoint: string;
  /** The server's reason when it reports itself unhealthy (newer etcd versions). */
  readonly reason?: string;
}

/** Whether etcd authentication is on. */
export interface AuthStatus {
  /** True once `auth.enable()` succeeded. */
  readonly enabled: boolean;
}

/** Key prefixes a role may read and write; a pattern ending in `*` matches a prefix. */
export interface KvPermissions {
  /** Patterns the role may read. */
  readonly read: readonly string[];
  /** Patterns the role may write. */
  readonly write: readonly string[];
}

/** An etcd v2 role. */
export interface Role {
  /** The role name. */
  readonly role: string;
  /** The key-space permissions it grants. */
  readonly permissions: {
    /** Key-space read and write permissions. */
    readonly kv: KvPermissions;
  };
}

/** An etcd v2 user. */
export interface User {
  /** The user name. */
  readonly user: string;
  /** Names of the roles granted to the user. */
  readonly roles: readonly string[];
  /** The granted roles with their permissions, when the server included them (get and list do). */
  readonly roleDetails?: readonly Role[];
}

/** Which access `grantKV`/`revokeKV` changes. */
export type Permission = "read" | "write" | "readwrite";

/** `/v2/stats/self`: the answering member's raft state. */
export interface SelfStats {
  /** The member's name (its `--name`). */
  readonly name: string;
  /** The member's ID in hex. */
  readonly id: string;
  /** "StateLeader" or "StateFollower". */
  readonly state: string;
  /** When the member started (RFC 3339). */
  readonly startTime: string;
  /** The leader as this member knows it: its ID, how long it has led, and since when. */
  readonly leaderInfo: {
    /** The leader's member ID in hex. */
    readonly leader: string;
    /** How long it has been leader, as a Go duration ("1h2m3.5s"). */
    readonly uptime: string;
    /** When it became leader (RFC 3339). */
    readonly startTime: string;
  };
  /** Raft append requests received since start. */
  readonly recvAppendRequestCnt: number;
  /** Raft append requests sent since start. */
  readonly sendAppendRequestCnt: number;
  /** Append requests received per second; omitted by the server when zero. */
  readonly recvPkgRate?: number;
  /** Bytes received per second in append requests; omitted by the server when zero. */
  readonly recvBandwidthRate?: number;
  /** Append requests sent per second; omitted by the server when zero. */
  readonly sendPkgRate?: number;
  /** Bytes sent per second in append requests; omitted by the server when zero. */
  readonly sendBandwidthRate?: number;
}

/** Replication counts and latency of one follower, as the leader sees them. */
export interface FollowerStats {
  /** Append requests to this follower that succeeded and that failed. */
  readonly counts: {
    /** Successful append requests. */
    readonly success: number;
    /** Failed append requests. */
    readonly fail: number;
  };
  /** Round-trip latency of append requests to this follower, in milliseconds. */
  readonly latency: {
    /** The latest request's. */
    readonly current: number;
    /** The mean since the leader took office. */
    readonly average: number;
    /** The standard deviation since the leader took office. */
    readonly standardDeviation: number;
    /** The smallest seen. */
    readonly minimum: number;
    /** The largest seen. */
    readonly maximum: number;
  };
}

/** `/v2/stats/leader`: the leader's view of its followers, keyed by member ID. */
export interface LeaderStats {
  /** The leader's member ID in hex. */
  readonly leader: string;
  /** Each follower's statistics, keyed by its member ID in hex. */
  readonly followers: Readonly<Record<string, FollowerStats>>;
}

/** `/v2/stats/store`: operation counters of the v2 store (writes cluster-wide, reads per member). */
export interface StoreStats {
  /** Reads that succeeded (this member only). */
  readonly getsSuccess: number;
  /** Reads that failed, e.g. key not found (this member only). */
  readonly getsFail: number;
  /** Sets that succeeded. */
  readonly setsSuccess: number;
  /** Sets that failed. */
  readonly setsFail: number;
  /** Deletes that succeeded. */
  readonly deleteSuccess: number;
  /** Deletes that failed. */
  readonly deleteFail: number;
  /** Updates (prevExist=true) that succeeded. */
  readonly updateSuccess: number;
  /** Updates that failed. */
  readonly updateFail: number;
  /** Creates (prevExist=false, or in-order keys) that succeeded. */
  readonly createSuccess: number;
  /** Creates that failed. */
  readonly createFail: number;
  /** Compare-and-swaps that succeeded. */
  readonly compareAndSwapSuccess: number;
  /** Compare-and-swaps that failed (the comparison or the key). */
  readonly compareAndSwapFail: number;
  /** Compare-and-deletes that succeeded. */
  readonly compareAndDeleteSuccess: number;
  /** Compare-and-deletes that failed. */
  readonly compareAndDeleteFail: number;
  /** Keys removed because their TTL ran out. */
  readonly expireCount: number;
  /** Watchers registered on this member now. */
  readonly watchers: number;
}

/** Options of `get`. */
export interface GetOptions extends CallOptions {
  /** Return the whole subtree of a directory. */
  readonly recursive?: boolean | undefined;
  /** Sort a directory's children by key. */
  readonly sorted?: boolean | undefined;
  /** Read through raft (linearizable); defaults to true unless the client's consistency is "weak". */
  readonly quorum?: boolean | undefined;
}

/** Options of writes that may set a TTL but not clear one. */
export interface TtlOptions extends CallOptions {
  /** Seconds until the key expires (a positive whole number). */
  readonly ttl?: number | undefined;
}

/** Options of writes that may set or clear a TTL. */
export interface SetOptions extends CallOptions {
  /** Seconds until the key expires; `null` clears an existing TTL. */
  readonly ttl?: number | null | undefined;
  /** Reply with the action only, without the node (etcd 3.1+). */
  readonly noValueOnSuccess?: boolean | undefined;
}

/** Options of `create`. */
export interface CreateOptions extends TtlOptions {
  /** Reply with the action only, without the node (etcd 3.1+). */
  readonly noValueOnSuccess?: boolean | undefined;
}

/** Options of directory writes. */
export interface DirOptions extends CallOptions {
  /** Seconds until the directory expires; `null` clears an existing TTL. */
  readonly ttl?: number | null | undefined;
}

/** Options of `delete`. */
export interface DeleteOptions extends CallOptions {
  /** Delete a directory and everything under it. */
  readonly recursive?: boolean | undefined;
  /** Allow deleting an empty directory. */
  readonly dir?: boolean | undefined;
}

/** The conditions of a compare-and-swap or compare-and-delete; at least one is required. */
export interface CompareOptions extends CallOptions {
  /** Succeed only if the current value equals this. */
  readonly prevValue?: string | undefined;
  /** Succeed only if the node's modifiedIndex equals this. */
  readonly prevIndex?: number | undefined;
}

/** Options of `compareAndSwap`. */
export interface CompareAndSwapOptions extends CompareOptions {
  /** Seconds until the key expires; `null` clears an existing TTL. */
  readonly ttl?: number | null | undefined;
  /** Reply with the action only, without the node (etcd 3.1+). */
  readonly noValueOnSuccess?: boolean | undefined;
}

/** Options of `raw`. */
export interface RawOptions extends CallOptions {
  /** Query parameters, encoded for you. */
  readonly query?: Readonly<Record<string, string>> | undefined;
  /** A urlencoded form body, encoded for you. */
  readonly form?: Readonly<Record<string, string>> | undefined;
}

/** Options of `users.add`. */
export interface AddUserOptions extends CallOptions {
  /** Roles to grant at creation. */
  readonly roles?: readonly string[] | undefined;
}

/** Options of the v2 client. */
export interface EtcdV2ClientOptions extends EngineOptions {
  /** CA, client certificate and key; server certificates are verified by default. */
  readonly tls?: TlsOptions | undefined;
  /** HTTP Basic credentials sent with every request. */
  readonly auth?: AuthOptions | undefined;
  /** A custom undici Dispatcher for ordinary requests (go-etcd's SetTransport). */
  readonly transport?: V2Dispatcher | undefined;
  /** Receives every request as an equivalent curl command line, password redacted. */
  readonly onCurl?: ((line: string) => void) | undefined;
  /**
   * Connections per member for ordinary requests (default 64; watches use their own). HTTP/1.1
   * carries one request per connection at a time, so requests past it wait for a free one, or,
   * while the member answers, get one of up to `maxConnections`.
   */
  readonly connections?: number | undefined;
  /** The largest reply body accepted, in bytes, long polls included (default 64 MiB); past it a call fails RESPONSE_TOO_LARGE. */
  readonly maxResponseBytes?: number | undefined;
  /** v2 requests that may wait per member for a free connection (default 65,536); more fail PENDING_LIMIT, unsent. */
  readonly maxPendingRequests?: number | undefined;
  /**
   * Connections per member a burst may open beyond `connections` (default 1,024), only while the
   * member answers; those above `connections` close after a second idle. Set it to `connections` for a fixed pool.
   */
  readonly maxConnections?: number | undefined;
}

