/**
 * Between the public v3 shapes (src/v3/types.ts) and the generated protobuf messages
 * (src/v3/gen/): argument checks happen here, before anything is sent, so a bad call never costs
 * a round trip and never reaches the retry logic.
 */
import { EtcdError } from "../errors.js";
import { jsonable } from "./json-form.js";
import type {
  DeleteRangeRequest,
  DeleteRangeResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  RequestOp,
  ResponseHeader as PbHeader,
  ResponseOp,
  TxnRequest,
  TxnResponse,
  Compare as PbCompare,
} from "./gen/etcdserverpb.js";
import type {
  Bytes,
  Compare,
  DeleteOptions,
  DeleteResult,
  GetOptions,
  GetResult,
  PutOptions,
  PutResult,
  RangeOptions,
  ResponseHeader,
  SortOrder,
  SortTarget,
  TxnOp,
  TxnOpResult,
  TxnResult,
  TxnSpec,
} from "./types.js";

/** The empty byte string: proto3's default, which the encoder leaves off the wire. */
export const EMPTY = Buffer.alloc(0);

/** A key or value as bytes; strings are UTF-8. */
export function toBytes(value: Bytes, what: string): Buffer {
  if (typeof value === "string") return Buffer.from(value, "utf8");
  if (value instanceof Uint8Array) return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  throw invalid(`${what} must be a string or bytes`);
}

/** A key, which etcd requires to be non-empty. */
export function toKey(value: Bytes, what = "key"): Buffer {
  const bytes = toBytes(value, what);
  if (bytes.length === 0) throw invalid(`${what} must not be empty`);
  return bytes;
}

/**
 * The range end that covers every key starting with `key`: the key with its last byte below
 * 0xff incremented and what follows dropped; "\0" (every key) when there is no such byte.
 */
export function prefixEnd(key: Buffer): Buffer {
  for (let i = key.length - 1; i >= 0; i--) {
    const byte = key[i] as number;
    if (byte < 0xff) {
      const end = Buffer.allocUnsafe(i + 1);
      key.copy(end, 0, 0, i + 1);
      end[i] = byte + 1;
      return end;
    }
  }
  // A fresh buffer each time: a shared one could be changed by a caller through the request it built.
  return Buffer.from([0]);
}

/** The range end for `{ prefix, fromKey, rangeEnd }`, rejecting more than one at once. */
export function rangeEndOf(key: Buffer, options: RangeOptions): Buffer {
  const prefix = flag(options.prefix, "prefix");
  const fromKey = flag(options.fromKey, "fromKey");
  if (fromKey && (prefix || options.rangeEnd !== undefined)) throw invalid("fromKey covers every key from the key on: give no prefix or rangeEnd with it");
  if (prefix) {
    if (options.rangeEnd !== undefined) throw invalid("give either prefix or rangeEnd, not both");
    return prefixEnd(key);
  }
  // "\0" as a range end means "to the end of the key space" to etcd.
  if (fromKey) return Buffer.from([0]);
  return options.rangeEnd === undefined ? EMPTY : toBytes(options.rangeEnd, "rangeEnd");
}

/**
 * The first key and range end of a read, delete, watch or comparison. As in Go's clientv3, the
 * empty key is allowed with `prefix` or `fromKey` and stands for the start of the key space, so
 * `("", { prefix: true })` and `("", { fromKey: true })` both cover every key.
 */
export function rangeOf(key: Bytes, options: RangeOptions, what = "key"): { readonly key: Buffer; readonly rangeEnd: Buffer } {
  const bytes = toBytes(key, what);
  const rangeEnd = rangeEndOf(bytes, options);
  if (bytes.length > 0) return { key: bytes, rangeEnd };
  if (options.prefix === true || options.fromKey === true) return { key: Buffer.from([0]), rangeEnd: Buffer.from([0]) };
  throw invalid(`${what} must not be empty (the empty key means "every key" only with prefix or fromKey)`);
}

/** The options argument of a call: absent, or a plain object (null, a string or a number is a caller's slip). */
export function optionsOf<T extends object>(options: T | undefined, what: string): T | Record<string, never> {
  if (options === undefined) return {};
  if (typeof options !== "object" || (options as unknown) === null) throw invalid(`${what} options must be an object`);
  return options;
}

/** A boolean option; anything but true, false or undefined is refused rather than read as false. */
export function flag(value: boolean | undefined, what: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== "boolean") throw invalid(`${what} must be a boolean, got ${typeof value}`);
  return value;
}

/** Checks a call's `signal` and `timeout` (the engine would read a bad timeout as "no deadline"). */
export function checkCall(options: { readonly signal?: AbortSignal | undefined; readonly timeout?: number | undefined }): void {
  const timeout: unknown = options.timeout;
  if (timeout !== undefined && (typeof timeout !== "number" || !Number.isFinite(timeout) || timeout <= 0)) {
    throw invalid(`timeout must be a positive number of ms, got ${describe(timeout)}`);
  }
  const signal: unknown = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalid("signal must be an AbortSignal");
}

/** A non-negative 64-bit integer option (revision, limit, lease ID). */
export function toInt64(value: bigint | number | undefined, what: string): bigint {
  if (value === undefined) return 0n;
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw invalid(`${what} must be an integer, got ${value}`);
    value = BigInt(value);
  }
  if (typeof value !== "bigint") throw invalid(`${what} must be a bigint or an integer`);
  if (value < 0n || value > 0x7fffffffffffffffn) throw invalid(`${what} must be between 0 and 2^63-1, got ${value}`);
  return value;
}

const SORT_ORDERS: Readonly<Record<SortOrder, number>> = { none: 0, ascend: 1, descend: 2 };
const SORT_TARGETS: Readonly<Record<SortTarget, number>> = { key: 0, version: 1, create: 2, mod: 3, value: 4 };

function lookup<K extends string>(table: Readonly<Record<K, number>>, value: K | undefined, what: string): number {
  if (value === undefined) return 0;
  const n = Object.hasOwn(table, value) ? table[value] : undefined;
  if (n === undefined) throw invalid(`${what} must be one of ${Object.keys(table).join(", ")}, got ${describe(value)}`);
  return n;
}

/** A Range request; `serializable` is the caller's choice or the client's consistency. */
export function rangeRequest(key: Bytes, options: Omit<GetOptions, "signal" | "timeout">, serializable: boolean): RangeRequest {
  const range = rangeOf(key, options);
  const explicit = options.serializable === undefined ? undefined : flag(options.serializable, "serializable");
  return {
    key: range.key,
    rangeEnd: range.rangeEnd,
    limit: toInt64(options.limit, "limit"),
    revision: toInt64(options.revision, "revision"),
    sortOrder: lookup(SORT_ORDERS, options.sortOrder, "sortOrder"),
    sortTarget: lookup(SORT_TARGETS, options.sortTarget, "sortTarget"),
    serializable: explicit ?? serializable,
    keysOnly: flag(options.keysOnly, "keysOnly"),
    countOnly: flag(options.countOnly, "countOnly"),
    minModRevision: toInt64(options.minModRevision, "minModRevision"),
    maxModRevision: toInt64(options.maxModRevision, "maxModRevision"),
    minCreateRevision: toInt64(options.minCreateRevision, "minCreateRevision"),
    maxCreateRevision: toInt64(options.maxCreateRevision, "maxCreateRevision"),
  };
}

/** A Put request. */
export function putRequest(key: Bytes, value: Bytes, options: Omit<PutOptions, "signal" | "timeout">): PutRequest {
  const request = {
    key: toKey(key),
    value: toBytes(value, "value"),
    lease: toInt64(options.lease, "lease"),
    prevKv: flag(options.prevKv, "prevKv"),
    ignoreValue: flag(options.ignoreValue, "ignoreValue"),
    ignoreLease: flag(options.ignoreLease, "ignoreLease"),
  };
  // etcd refuses these combinations with messages of its own; saying so here costs no round trip.
  if (request.ignoreValue && request.value.length > 0) throw invalid("ignoreValue keeps the current value: pass an empty value");
  if (request.ignoreLease && request.lease !== 0n) throw invalid("ignoreLease keeps the current lease: pass no lease");
  return request;
}

/** A DeleteRange request. */
export function deleteRequest(key: Bytes, options: Omit<DeleteOptions, "signal" | "timeout">): DeleteRangeRequest {
  const range = rangeOf(key, options);
  return { key: range.key, rangeEnd: range.rangeEnd, prevKv: flag(options.prevKv, "prevKv") };
}

const COMPARE_TARGETS = { version: 0, create: 1, mod: 2, value: 3, lease: 4 } as const;
const COMPARE_RESULTS = { "==": 0, ">": 1, "<": 2, "!=": 3 } as const;

function compareRequest(c: Compare): PbCompare {
  if (typeof c !== "object" || (c as unknown) === null) throw invalid("each comparison must be an object { key, target, result, value }");
  const { key, rangeEnd } = rangeOf(c.key, c, "compare key");
  const target = lookup(COMPARE_TARGETS, c.target, "compare target");
  const result = lookup(COMPARE_RESULTS, c.result, "compare result");
  let union: PbCompare["targetUnion"];
  if (c.target === "value") {
    if (typeof c.value === "bigint" || typeof c.value === "number") throw invalid("a value comparison needs a string or bytes");
    union = { $case: "value", value: toBytes(c.value, "compare value") };
  } else {
    if (typeof c.value !== "bigint" && typeof c.value !== "number") throw invalid(`a ${c.target} comparison needs a bigint or an integer`);
    const n = toInt64(c.value, `compare ${c.target}`);
    union =
      c.target === "version"
        ? { $case: "version", value: n }
        : c.target === "create"
          ? { $case: "createRevision", value: n }
          : c.target === "mod"
            ? { $case: "modRevision", value: n }
            : { $case: "lease", value: n };
  }
  return { result, target, key, targetUnion: union, rangeEnd };
}

function requestOp(op: TxnOp, depth: number): RequestOp {
  if (typeof op !== "object" || (op as unknown) === null || Object.keys(op).length !== 1) {
    throw invalid("each transaction operation must be exactly one of { put }, { get }, { delete } or { txn }");
  }
  if ("put" in op) return { request: { $case: "requestPut", value: putRequest(op.put.key, op.put.value, op.put) } };
  if ("get" in op) return { request: { $case: "requestRange", value: rangeRequest(op.get.key, op.get, false) } };
  if ("delete" in op) return { request: { $case: "requestDeleteRange", value: deleteRequest(op.delete.key, op.delete) } };
  if ("txn" in op) return { request: { $case: "requestTxn", value: txnRequest(op.txn, depth + 1) } };
  throw invalid("each transaction operation must be one of put, get, delete or txn");
}

/** A Txn request, nested transactions included. */
export function txnRequest(spec: TxnSpec, depth = 0): TxnRequest {
  if (depth > 64) throw invalid("transactions nest too deep");
  if (typeof spec !== "object" || (spec as unknown) === null) throw invalid("a transaction must be an object { compare, success, failure }");
  // Reads inside a transaction are linearizable unless the caller marks them serializable: etcd
  // serves a read-only transaction locally only when every read in it is serializable.
  return {
    compare: list(spec.compare, "compare").map(compareRequest),
    success: list(spec.success, "success").map((op) => requestOp(op, depth)),
    failure: list(spec.failure, "failure").map((op) => requestOp(op, depth)),
  };
}

function list<T>(items: readonly T[] | undefined, what: string): readonly T[] {
  const given: unknown = items;
  if (given === undefined) return [];
  if (!Array.isArray(given)) throw invalid(`${what} must be an array`);
  return items ?? [];
}

/** True when a transaction only reads (so it may be re-sent after a possible delivery). */
export function txnReadsOnly(spec: TxnSpec): boolean {
  const only = (ops: readonly TxnOp[] | undefined): boolean => (ops ?? []).every((op) => "get" in op || ("txn" in op && txnReadsOnly(op.txn)));
  return only(spec.success) && only(spec.failure);
}

/**
 * True when etcd serves the transaction from the member's local state without a quorum round
 * (its isTxnSerializable: every operation, at the top level, is a serializable read; vacuously
 * so for one without operations), so its reply is checked for staleness like a weak read.
 */
export function txnServedLocally(request: TxnRequest): boolean {
  const local = (op: RequestOp): boolean => op.request?.$case === "requestRange" && op.request.value.serializable;
  return request.success.every(local) && request.failure.every(local);
}

const NO_HEADER: ResponseHeader = Object.freeze({ clusterId: 0n, memberId: 0n, revision: 0n, raftTerm: 0n });

/** The header of a reply (etcd always sends one; a zero header stands in if it did not). */
export function header(h: PbHeader | undefined): ResponseHeader {
  return h ?? NO_HEADER;
}

/** A Range reply as `get` returns it. */
export function getResult(r: RangeResponse): GetResult {
  return jsonable({ header: header(r.header), kvs: r.kvs, more: r.more, count: r.count });
}

/** A Put reply as `put` returns it. */
export function putResult(r: PutResponse): PutResult {
  return jsonable(r.prevKv === undefined ? { header: header(r.header) } : { header: header(r.header), prevKv: r.prevKv });
}

/** A DeleteRange reply as `delete` returns it. */
export function deleteResult(r: DeleteRangeResponse): DeleteResult {
  return jsonable({ header: header(r.header), deleted: r.deleted, prevKvs: r.prevKvs });
}

function responseOp(op: ResponseOp): TxnOpResult {
  const r = op.response;
  switch (r?.$case) {
    case "responsePut":
      return { put: putResult(r.value) };
    case "responseRange":
      return { get: getResult(r.value) };
    case "responseDeleteRange":
      return { delete: deleteResult(r.value) };
    case "responseTxn":
      return { txn: txnResult(r.value) };
    default:
      throw new EtcdError("MALFORMED_RESPONSE", "a transaction reply holds an operation result of no known kind", { delivery: "unknown" });
  }
}

/** A Txn reply as `txn` returns it. */
export function txnResult(r: TxnResponse): TxnResult {
  return jsonable({ header: header(r.header), succeeded: r.succeeded, responses: r.responses.map(responseOp) });
}

/** A lease ID as etcdctl and etcd's logs print it: 16 lower-case hex digits (Go's %016x), for messages. */
export function leaseHex(id: bigint): string {
  return BigInt.asUintN(64, id).toString(16).padStart(16, "0");
}

/** A caller's bad value, for an error message: strings and numbers as given, anything else by type. */
export function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") return String(value);
  return value === null ? "null" : typeof value;
}

/** An INVALID_ARGUMENT error, raised before anything is sent. */
export function invalid(message: string): EtcdError {
  return new EtcdError("INVALID_ARGUMENT", message);
}
