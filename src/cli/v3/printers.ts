/**
 * etcdctl v3's output formats as data: a command describes its result once per format it has
 * (`Rendering`), and the context prints the one `-w` asks for, or fails as etcdctl does
 * ("Error: table not supported as output format", exit 4). The pieces every printer shares (the
 * response header, a key-value pair) are here, byte for byte as etcdctl 3.4 and 3.5 write them.
 */
import type { KeyValue, ResponseHeader } from "../../v3/types.js";
import { goQuote } from "../shared/gofmt.js";
import { omitEmpty, type GoJson, type GoObject } from "../shared/gojson.js";

/** The formats `-w` accepts. */
export type OutputFormat = "simple" | "json" | "fields" | "table" | "protobuf";

/** Narrows a `-w` value. */
export function isOutputFormat(value: string): value is OutputFormat {
  return value === "simple" || value === "json" || value === "fields" || value === "table" || value === "protobuf";
}

/** A result in each format the command supports; a missing one is "not supported as output format". */
export interface Rendering {
  readonly simple?: () => string;
  /** The value etcdctl's `printJSON` marshals (the protobuf reply, as Go's encoding/json sees it). */
  readonly json?: () => GoJson;
  readonly fields?: () => string;
  readonly table?: () => string;
  /** The reply's protobuf encoding, written raw. */
  readonly protobuf?: () => Uint8Array;
}

/** What `printKV` writes in the simple format: key and value lines, as `\xNN` escapes with `--hex`. */
export function simpleKv(kv: KeyValue, hex: boolean, valueOnly = false): string {
  const key = hex ? hexEscaped(kv.key) : kv.key.toString("utf8");
  const value = hex ? hexEscaped(kv.value) : kv.value.toString("utf8");
  return valueOnly ? `${value}\n` : `${key}\n${value}\n`;
}

/** etcdctl's `addHexPrefix(hex.EncodeToString(b))`: every byte as `\xNN`. */
export function hexEscaped(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += `\\x${b.toString(16).padStart(2, "0")}`;
  return out;
}

/** A `pb.ResponseHeader` as encoding/json writes it (every field omitempty). */
export function headerJson(h: ResponseHeader): GoObject {
  return { cluster_id: omitEmpty(h.clusterId), member_id: omitEmpty(h.memberId), revision: omitEmpty(h.revision), raft_term: omitEmpty(h.raftTerm) };
}

/** A `mvccpb.KeyValue` as encoding/json writes it (bytes in base64, every field omitempty). */
export function kvJson(kv: KeyValue): GoObject {
  return {
    key: omitEmpty(kv.key),
    create_revision: omitEmpty(kv.createRevision),
    mod_revision: omitEmpty(kv.modRevision),
    version: omitEmpty(kv.version),
    value: omitEmpty(kv.value),
    lease: omitEmpty(kv.lease),
  };
}

/** The fields printer's header lines. */
export function fieldsHeader(h: ResponseHeader): string {
  return `"ClusterID" : ${BigInt.asUintN(64, h.clusterId)}\n"MemberID" : ${BigInt.asUintN(64, h.memberId)}\n"Revision" : ${h.revision}\n"RaftTerm" : ${BigInt.asUintN(64, h.raftTerm)}\n`;
}

/** The fields printer's lines for one key-value pair, each field name after `prefix` ("" or "Prev"). */
export function fieldsKv(kv: KeyValue, prefix = ""): string {
  return (
    `"${prefix}Key" : ${goQuote(kv.key)}\n` +
    `"${prefix}CreateRevision" : ${kv.createRevision}\n` +
    `"${prefix}ModRevision" : ${kv.modRevision}\n` +
    `"${prefix}Version" : ${kv.version}\n` +
    `"${prefix}Value" : ${goQuote(kv.value)}\n` +
    `"${prefix}Lease" : ${kv.lease}\n`
  );
}
