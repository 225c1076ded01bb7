/**
 * The public shapes of the v3 client: what callers pass and what they get back. Keys and values
 * are Buffers in results (etcd keys are bytes), and every revision, version and ID is a bigint,
 * because etcd's are 64-bit and a JavaScript number silently loses precision past 2^53.
 */
import type { CallOptions, EngineOptions, TlsOptions, AuthOptions } from "../options.js";

/** A key or value as callers may give it: a string is encoded as UTF-8. */
export type Bytes = string | Uint8Array;

/** Who answered and at what point of the cluster's history. */
export interface ResponseHeader {
  /** The cluster's ID. */
  readonly clusterId: bigint;
  /** The ID of the member that answered. */
  readonly memberId: bigint;
  /** The store revision when the request was applied (or, for reads, served). */
  readonly revision: bigint;
  /** The raft term when the request was applied. */
  readonly raftTerm: bigint;
}

/** One key as the store holds it. */
export interface KeyValue {
  /** The key's bytes. */
  readonly key: Buffer;
  /** The value's bytes (empty for keysOnly reads). */
  readonly value: Buffer;
  /** The revision of the key's creation. */
  readonly createRevision: bigint;
  /** The revision of the key's last change. */
  readonly modRevision: bigint;
  /** How many times the key was written since it was created (1 after creation). */
  readonly version: bigint;
  /** The lease the key is attached to, 0n for none. */
  readonly lease: bigint;
}

/** Options of `EtcdV3Client`. */
export interface EtcdV3ClientOptions extends EngineOptions {
  /** CA, client certificate and key for `https://` endpoints; verified by default. */
  readonly tls?: TlsOptions | undefined;
  /** A user to authenticate as: a token is fetched once and refreshed when etcd rejects it. */
  readonly auth?: AuthOptions | undefined;
  /** HTTP/2 flow-control window per stream and per connection, in bytes (default 8 MiB). */
  readonly window?: number | undefined;
  /** Largest reply message accepted, in bytes (default 64 MiB); a larger reply ends its call with MESSAGE_TOO_LARGE. */
  readonly maxMessageBytes?: number | undefined;
  /** Largest response header list, in bytes (default 256 KiB). */
  readonly maxHeaderListBytes?: number | undefined;
  /** Calls that may wait per connection to connect or for a stream slot (default 65,536); more end with PENDING_LIMIT. */
  readonly maxPendingStreams?: number | undefined;
  /** Our keepalive PINGs that may await their ACK at once (default 10). */
  readonly maxOutstandingPings?: number | undefined;
  /** Entries a server SETTINGS frame may carry before it counts as abuse (default 32). */
  readonly maxSettingsEntries?: number | undefined;
  /** PING and SETTINGS ACKs owed at once before the server counts as flooding us (default 1000). */
  readonly maxQueuedControlFrames?: number | undefined;
  /** A connection that has used a stream id this high is replaced by a fresh one (default 2^30). */
  readonly maxStreamId?: number | undefined;
  /** Events each watch buffers for a reader that falls behind before it is paused and later re-created, losing nothing (default 1,000). */
  readonly watchMaxBufferedEvents?: number | undefined;
  /** Bytes of keys and values each watch buffers before it is paused (default 8 MiB). */
  readonly watchMaxBufferedBytes?: number | undefined;
  /** How long an unanswered keepalive PING may wait before the connection counts as dead, in ms (default max(keepAlive, 1000)). */
  readonly keepAliveTimeout?: number | undefined;
}

/** Options of `put`. */
export interface PutOptions extends CallOptions {
  /** Attach the key to this lease (0n or absent: none). */
  readonly lease?: bigint | undefined;
  /** Return the key's previous value. */
  readonly prevKv?: boolean | undefined;
  /** Keep the current value and change only the lease (KEY_NOT_FOUND if the key is absent). */
  readonly ignoreValue?: boolean | undefined;
  /** Keep the current lease and change only the value (KEY_NOT_FOUND if the key is absent). */
  readonly ignoreLease?: boolean | undefined;
}

/** What `put` returns. */
export interface PutResult {
  /** Who answered and at what revision. */
  readonly header: ResponseHeader;
  /** The previous key, when `prevKv` was asked for and the key existed. */
  readonly prevKv?: KeyValue | undefined;
}

/** Sort orders of a range read. */
export type SortOrder = "none" | "ascend" | "descend";
/** Fields a range read can sort by. */
export type SortTarget = "key" | "version" | "create" | "mod" | "value";

/** Which keys a read or delete covers: one key, a prefix, every key from it on, or `[key, rangeEnd)`; the empty key with `prefix` or `fromKey` covers every key. */
export interface RangeOptions {
  /** Every key that starts with the given key. */
  readonly prefix?: boolean | undefined;
  /** Every key from the given key on (etcd's range end "\0"). */
  readonly fromKey?: boolean | undefined;
  /** The end of the range, exclusive; "\0" means every key from `key` on. */
  readonly rangeEnd?: Bytes | undefined;
}

/** Options of `get`. */
export interface GetOptions extends RangeOptions, CallOptions {
  /** At most this many keys (0: no limit). */
  readonly limit?: number | bigint | undefined;
  /** Read the store as it was at this revision (COMPACTED if that history is gone). */
  readonly revision?: bigint | number | undefined;
  /** Serve from the member's local state without a quorum round (default: the client's consistency). */
  readonly serializable?: boolean | undefined;
  /** Leave values out. */
  readonly keysOnly?: boolean | undefined;
  /** Return only the count. */
  readonly countOnly?: boolean | undefined;
  /** Sort order (default none, which etcd serves in key order). */
  readonly sortOrder?: SortOrder | undefined;
  /** Sort field (default key). */
  readonly sortTarget?: SortTarget | undefined;
  /** Only keys last modified at or after this revision. */
  readonly minModRevision?: bigint | number | undefined;
  /** Only keys last modified at or before this revision. */
  readonly maxModRevision?: bigint | number | undefined;
  /** Only keys created at or after this revision. */
  readonly minCreateRevision?: bigint | number | undefined;
  /** Only keys created at or before this revision. */
  readonly maxCreateRevision?: bigint | number | undefined;
}

/** What `get` returns. */
export interface GetResult {
  /** Who answered and at what revision. */
  readonly header: ResponseHeader;
  /** The keys found, in the order asked for. */
  readonly kvs: readonly KeyValue[];
  /** True when `limit` cut the result short. */
  readonly more: boolean;
  /** How many keys the range holds (regardless of `limit`). */
  readonly count: bigint;
}

/** Options of `getAll`. */
export interface GetAllOptions extends RangeOptions, CallOptions {
  /** Keys per request (default 1000). */
  readonly pageSize?: number | undefined;
  /** Read at this revision instead of the current one. */
  readonly revision?: bigint | number | undefined;
  /** Leave values out. */
  readonly keysOnly?: boolean | undefined;
}

/** Options of `delete`. */
export interface DeleteOptions extends RangeOptions, CallOptions {
  /** Return the deleted keys. */
  readonly prevKv?: boolean | undefined;
}

/** What `delete` returns. */
export interface DeleteResult {
  /** Who answered and at what revision. */
  readonly header: ResponseHeader;
  /** How many keys were deleted. */
  readonly deleted: bigint;
  /** The deleted keys, when `prevKv` was asked for. */
  readonly prevKvs: readonly KeyValue[];
}

/** What a transaction comparison looks at. */
export type CompareTarget = "value" | "version" | "create" | "mod" | "lease";
/** How a transaction comparison compares. */
export type CompareResult = "==" | "!=" | "<" | ">";

/** One condition of a transaction: `target` of `key` (or of every key in its range) `result` `value`. */
export interface Compare extends RangeOptions {
  /** The key compared. */
  readonly key: Bytes;
  /** The key's field compared. */
  readonly target: CompareTarget;
  /** The comparison. */
  readonly result: CompareResult;
  /** Bytes for "value"; a revision, version or lease ID (bigint or safe integer) for the others. */
  readonly value: Bytes | bigint | number;
}

/** A put inside a transaction. */
export interface TxnPut extends Omit<PutOptions, keyof CallOptions> {
  /** The key written. */
  readonly key: Bytes;
  /** The value written. */
  readonly value: Bytes;
}

/** A read inside a transaction. */
export interface TxnGet extends Omit<GetOptions, keyof CallOptions> {
  /** The key (or range start) read. */
  readonly key: Bytes;
}

/** A delete inside a transaction. */
export interface TxnDelete extends Omit<DeleteOptions, keyof CallOptions> {
  /** The key (or range start) deleted. */
  readonly key: Bytes;
}

/** One operation of a transaction branch. */
export type TxnOp =
  | {
      /** Write a key. */
      readonly put: TxnPut;
    }
  | {
      /** Read a key or range. */
      readonly get: TxnGet;
    }
  | {
      /** Delete a key or range. */
      readonly delete: TxnDelete;
    }
  | {
      /** Run a nested transaction. */
      readonly txn: TxnSpec;
    };

/** A transaction: if every comparison holds, `success` runs, otherwise `failure`, atomically. */
export interface TxnSpec {
  /** The conditions, all of which must hold. */
  readonly compare?: readonly Compare[] | undefined;
  /** Operations when they hold. */
  readonly success?: readonly TxnOp[] | undefined;
  /** Operations when one fails. */
  readonly failure?: readonly TxnOp[] | undefined;
}

/** Options of `txn`. */
export interface TxnOptions extends CallOptions {
  /**
   * Re-sent after an unknown outcome because re-applying cannot change the result: set it only
   * for a transaction built so (compare a key's create revision with 0, put it, else read it;
   * the second copy finds the first one's key and reads it). Still counted as a raft proposal.
   */
  readonly idempotent?: boolean | undefined;
}

/** The result of one transaction operation, keyed like the operation. */
export type TxnOpResult =
  | {
      /** What the put returned. */
      readonly put: PutResult;
    }
  | {
      /** What the get read. */
      readonly get: GetResult;
    }
  | {
      /** What the delete removed. */
      readonly delete: DeleteResult;
    }
  | {
      /** What the nested transaction returned. */
      readonly txn: TxnResult;
    };

/** What `txn` returns. */
export interface TxnResult {
  /** Who answered and at what revision. */
  readonly header: ResponseHeader;
  /** True when every comparison held (so `success` ran). */
  readonly succeeded: boolean;
  /** One result per operation of the branch that ran. */
  readonly responses: readonly TxnOpResult[];
}

/** Options of `compact`. */
export interface CompactOptions extends CallOptions {
  /** Wait until the compacted entries are removed from the backend database. */
  readonly physical?: boolean | undefined;
}

/** What `compact` returns. */
export interface CompactResult {
  /** Who answered and at what revision. */
  readonly header: ResponseHeader;
}
