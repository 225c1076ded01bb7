/**
 * `-w protobuf`: the reply marshalled back to etcd's protobuf bytes, which etcdctl writes raw
 * (no newline). The library's results keep the protobuf messages' fields, so they encode with
 * the generated codecs directly; only txn's oneof and watch's regrouped events are rebuilt.
 * The codecs are imported only when that format is asked for (`loadProtobufCodecs`, awaited by
 * `V3Context.print`): every command module imports this one, and `--help` loads them all.
 */
import type * as Codecs from "../../v3/gen/etcdserverpb.js";
import type { ResponseOp, TxnResponse } from "../../v3/gen/etcdserverpb.js";
import type { DeleteResult, GetResult, PutResult, ResponseHeader, TxnResult } from "../../v3/types.js";
import type { V3WatchEvent } from "../../v3/watch.js";

let codecs: typeof Codecs | undefined;

/** Imports the generated codecs; the functions below need it done first. */
export async function loadProtobufCodecs(): Promise<void> {
  codecs ??= await import("../../v3/gen/etcdserverpb.js");
}

function loaded(): typeof Codecs {
  if (codecs === undefined) throw new Error("protobuf codecs used before loadProtobufCodecs()");
  return codecs;
}

/** A get's reply as etcd's RangeResponse bytes. */
export function rangeBytes(r: GetResult): Uint8Array {
  return loaded().RangeResponse.encode({ header: r.header, kvs: [...r.kvs], more: r.more, count: r.count }).finish();
}

/** A put's reply as PutResponse bytes. */
export function putBytes(r: PutResult): Uint8Array {
  return loaded().PutResponse.encode({ header: r.header, prevKv: r.prevKv }).finish();
}

/** A delete's reply as DeleteRangeResponse bytes. */
export function deleteBytes(r: DeleteResult): Uint8Array {
  return loaded().DeleteRangeResponse.encode({ header: r.header, deleted: r.deleted, prevKvs: [...r.prevKvs] }).finish();
}

/** A txn's reply as TxnResponse bytes. */
export function txnBytes(r: TxnResult): Uint8Array {
  return loaded().TxnResponse.encode(txnMessage(r)).finish();
}

function txnMessage(r: TxnResult): TxnResponse {
  const responses = r.responses.map((op): ResponseOp => {
    if ("get" in op) return { response: { $case: "responseRange", value: { header: op.get.header, kvs: [...op.get.kvs], more: op.get.more, count: op.get.count } } };
    if ("put" in op) return { response: { $case: "responsePut", value: { header: op.put.header, prevKv: op.put.prevKv } } };
    if ("delete" in op) return { response: { $case: "responseDeleteRange", value: { header: op.delete.header, deleted: op.delete.deleted, prevKvs: [...op.delete.prevKvs] } } };
    return { response: { $case: "responseTxn", value: txnMessage(op.txn) } };
  });
  return { header: r.header, succeeded: r.succeeded, responses };
}

/** One watch reply as etcdctl rebuilds it (watch ID 0) in WatchResponse bytes. */
export function watchBytes(header: ResponseHeader, events: readonly V3WatchEvent[], compactRevision = 0n, canceled = false): Uint8Array {
  return loaded().WatchResponse.encode({
    header,
    watchId: 0n,
    created: false,
    canceled,
    compactRevision,
    cancelReason: "",
    fragment: false,
    events: events.map((e) => ({ type: e.type === "delete" ? 1 : 0, kv: e.kv, prevKv: e.prevKv })),
  }).finish();
}
