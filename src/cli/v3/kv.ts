/**
 * The key-value commands `get`, `put`, `del` and `compaction`, as etcdctl 3.5 defines them
 * (flags, checks in etcdctl's order, exit codes, texts). Where 3.4 differs, 3.5 is followed: 3.4
 * has no `get --count-only` and no `del --range`, and 3.5's `del` with a range end warns on
 * stderr that etcd 3.6 will pause before such a delete.
 */
import type { DeleteOptions, DeleteResult, GetOptions, GetResult, PutOptions, PutResult, SortOrder, SortTarget } from "../../v3/types.js";
import type { V3Context } from "./context.js";
import { EXIT } from "./errors.js";
import { fieldsHeader, fieldsKv, headerJson, kvJson, simpleKv } from "./printers.js";
import { parseGoInt64 } from "./parse.js";
import { deleteBytes, putBytes, rangeBytes } from "./protobuf.js";
import { omitEmpty, type GoObject } from "../shared/gojson.js";
import type { CommandSpec, Flags, FlagSpec } from "./spec.js";

const bool = (name: string, usage: string): FlagSpec => ({ name, kind: "bool", defaultValue: "false", usage });

const ALL_KEYS = "\x00";

/** `etcdctl get`. */
export const GET: CommandSpec = {
  name: "get",
  use: "[options] <key> [range_end]",
  short: "Gets the key or a range of keys",
  flags: [
    { name: "consistency", kind: "string", defaultValue: "l", usage: "Linearizable(l) or Serializable(s)" },
    { name: "order", kind: "string", defaultValue: "", usage: "Order of results; ASCEND or DESCEND (ASCEND by default)" },
    { name: "sort-by", kind: "string", defaultValue: "", usage: "Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION" },
    { name: "limit", kind: "int", defaultValue: "0", usage: "Maximum number of results" },
    bool("prefix", "Get keys with matching prefix"),
    bool("from-key", "Get keys that are greater than or equal to the given key using byte compare"),
    { name: "rev", kind: "int", defaultValue: "0", usage: "Specify the kv revision" },
    bool("keys-only", "Get only the keys"),
    bool("count-only", "Get only the count"),
    bool("print-value-only", 'Only write values when using the "simple" output format'),
  ],
  action: getAction,
};

async function getAction(ctx: V3Context, args: readonly string[], flags: Flags): Promise<void> {
  const { key, options } = getRequest(ctx, args, flags);
  const client = await ctx.client();
  const settings = await ctx.settings();
  let result: GetResult;
  try {
    result = await client.get(key, { ...options, ...(await ctx.call()) });
  } catch (error) {
    return ctx.failWith(error);
  }
  if (flags.bool("count-only") && settings.format !== "fields") ctx.fail("--count-only is only for `--write-out=fields`", EXIT.badArgs);
  const valueOnly = flags.bool("print-value-only");
  if (valueOnly && settings.format !== "simple") ctx.fail("print-value-only is only for `--write-out=simple`", EXIT.badArgs);
  await ctx.print(getRendering(result, settings.hex, valueOnly));
}

/** A get's key and options, checked as etcdctl's `getGetOp` checks them. */
export function getRequest(ctx: V3Context, args: readonly string[], flags: Flags): { key: string; options: GetOptions } {
  if (args.length === 0) ctx.fail("get command needs one argument as key and an optional argument as range_end", EXIT.badArgs);
  const prefix = flags.bool("prefix");
  const fromKey = flags.bool("from-key");
  if (prefix && fromKey) ctx.fail("`--prefix` and `--from-key` cannot be set at the same time, choose one", EXIT.badArgs);
  if (flags.bool("keys-only") && flags.bool("count-only")) ctx.fail("`--keys-only` and `--count-only` cannot be set at the same time, choose one", EXIT.badArgs);
  const consistency = flags.string("consistency");
  if (consistency !== "l" && consistency !== "s") ctx.fail(`unknown consistency flag ${JSON.stringify(consistency)}`, EXIT.badFeature);
  let key = args[0] ?? "";
  const range = rangeOf(ctx, key, args, prefix, fromKey);
  if (range.key !== undefined) key = range.key;
  const rev = flags.int("rev");
  const options: GetOptions = {
    ...range.options,
    serializable: consistency === "s",
    limit: flags.int("limit"),
    ...(rev > 0n ? { revision: rev } : {}),
    ...sortOf(ctx, flags),
    keysOnly: flags.bool("keys-only"),
    countOnly: flags.bool("count-only"),
  };
  return { key, options };
}

/** The range a get or del covers: `[key, range_end)`, a prefix, or every key from `key` on. */
function rangeOf(ctx: V3Context, key: string, args: readonly string[], prefix: boolean, fromKey: boolean): { key?: string; options: { rangeEnd?: string; prefix?: boolean } } {
  if (args.length > 1) {
    if (prefix || fromKey) ctx.fail("too many arguments, only accept one argument when `--prefix` or `--from-key` is set", EXIT.badArgs);
    return { options: { rangeEnd: args[1] ?? "" } };
  }
  // An empty key with --prefix or --from-key means every key, as clientv3 words it: from "\0" on.
  if ((prefix || fromKey) && key === "") return { key: ALL_KEYS, options: { rangeEnd: ALL_KEYS } };
  if (prefix) return { options: { prefix: true } };
  if (fromKey) return { options: { rangeEnd: ALL_KEYS } };
  return { options: {} };
}

const SORT_ORDERS: Readonly<Record<string, SortOrder>> = { ASCEND: "ascend", DESCEND: "descend", "": "none" };
const SORT_TARGETS: Readonly<Record<string, SortTarget>> = { CREATE: "create", KEY: "key", MODIFY: "mod", VALUE: "value", VERSION: "version", "": "key" };

/** `--order` and `--sort-by`; ascending by key is sent as no sorting, as clientv3's WithSort does. */
function sortOf(ctx: V3Context, flags: Flags): { sortOrder: SortOrder; sortTarget: SortTarget } {
  const orderText = flags.string("order");
  const targetText = flags.string("sort-by");
  const order = SORT_ORDERS[orderText.toUpperCase()];
  if (order === undefined) return ctx.fail(`bad sort order ${orderText}`, EXIT.badFeature);
  const target = SORT_TARGETS[targetText.toUpperCase()];
  if (target === undefined) return ctx.fail(`bad sort target ${targetText}`, EXIT.badFeature);
  return { sortOrder: target === "key" && order === "ascend" ? "none" : order, sortTarget: target };
}

/** A get's reply in every format etcdctl has for it. */
export function getRendering(r: GetResult, hex: boolean, valueOnly = false): Parameters<V3Context["printIn"]>[1] {
  return {
    simple: () => r.kvs.map((kv) => simpleKv(kv, hex, valueOnly)).join(""),
    json: () => rangeJson(r),
    protobuf: () => rangeBytes(r),
    fields: () => `${fieldsHeader(r.header)}${r.kvs.map((kv) => fieldsKv(kv)).join("")}"More" : ${r.more}\n"Count" : ${r.count}\n`,
  };
}

/** A `RangeResponse` as encoding/json writes it. */
export function rangeJson(r: GetResult): GoObject {
  return { header: headerJson(r.header), kvs: omitEmpty(r.kvs.map(kvJson)), more: omitEmpty(r.more), count: omitEmpty(r.count) };
}

/** `etcdctl put`. */
export const PUT: CommandSpec = {
  name: "put",
  use: "[options] <key> <value> (<value> can also be given from stdin)",
  short: "Puts the given key into the store",
  long: `
Puts the given key into the store.

When <value> begins with '-', <value> is interpreted as a flag.
Insert '--' for workaround:

$ put <key> -- <value>
$ put -- <key> <value>

If <value> isn't given as a command line argument and '--ignore-value' is not specified,
this command tries to read the value from standard input.

If <lease> isn't given as a command line argument and '--ignore-lease' is not specified,
this command tries to read the value from standard input.

For example,
$ cat file | put <key>
will store the content of the file to <key>.
`,
  flags: [
    { name: "lease", kind: "string", defaultValue: "0", usage: "lease ID (in hexadecimal) to attach to the key" },
    bool("prev-kv", "return the previous key-value pair before modification"),
    bool("ignore-value", "updates the key using its current value"),
    bool("ignore-lease", "updates the key using its current lease"),
  ],
  action: putAction,
};

const PUT_ARGS = "put command needs 1 argument and input from stdin or 2 arguments";

async function putAction(ctx: V3Context, args: readonly string[], flags: Flags): Promise<void> {
  const { key, value, options } = await putRequest(ctx, args, flags, true);
  const client = await ctx.client();
  let result: PutResult;
  try {
    result = await client.put(key, value, { ...options, ...(await ctx.call()) });
  } catch (error) {
    return ctx.failWith(error);
  }
  await ctx.print(putRendering(result, (await ctx.settings()).hex));
}

/** A put's key, value and options, checked as etcdctl's `getPutOp` checks them; the value may come from stdin. */
export async function putRequest(ctx: V3Context, args: readonly string[], flags: Flags, stdin: boolean): Promise<{ key: string; value: string; options: PutOptions }> {
  const key = args[0];
  if (key === undefined) return ctx.fail(PUT_ARGS, EXIT.badArgs);
  const ignoreValue = flags.bool("ignore-value");
  if (ignoreValue && args.length > 1) ctx.fail("put command needs only 1 argument when 'ignore-value' is set", EXIT.badArgs);
  let value = "";
  if (!ignoreValue) {
    value = args[1] ?? (stdin ? await ctx.io.readStdin() : "");
    if (value === "") ctx.fail(PUT_ARGS, EXIT.badArgs);
  }
  const lease = parseLeaseId(ctx, flags.string("lease"));
  const options: PutOptions = {
    ...(lease === 0n ? {} : { lease }),
    prevKv: flags.bool("prev-kv"),
    ignoreValue,
    ignoreLease: flags.bool("ignore-lease"),
  };
  return { key, value, options };
}

/** `strconv.ParseInt(lease, 16, 64)`, with etcdctl's message when it fails. */
export function parseLeaseId(ctx: V3Context, text: string): bigint {
  const negative = text.startsWith("-");
  const body = text.replace(/^[+-]/, "");
  if (!/^[0-9a-fA-F]+$/.test(body)) return ctx.fail(`bad lease ID (strconv.ParseInt: parsing ${JSON.stringify(text)}: invalid syntax), expecting ID in Hex`, EXIT.badArgs);
  const value = (negative ? -1n : 1n) * BigInt(`0x${body}`);
  if (value > (1n << 63n) - 1n || value < -(1n << 63n)) return ctx.fail(`bad lease ID (strconv.ParseInt: parsing ${JSON.stringify(text)}: value out of range), expecting ID in Hex`, EXIT.badArgs);
  return value;
}

/** A put's reply in every format etcdctl has for it. */
export function putRendering(r: PutResult, hex: boolean): Parameters<V3Context["printIn"]>[1] {
  return {
    simple: () => `OK\n${r.prevKv === undefined ? "" : simpleKv(r.prevKv, hex)}`,
    json: () => putJson(r),
    protobuf: () => putBytes(r),
    fields: () => `${fieldsHeader(r.header)}${r.prevKv === undefined ? "" : fieldsKv(r.prevKv, "Prev")}`,
  };
}

/** A `PutResponse` as encoding/json writes it. */
export function putJson(r: PutResult): GoObject {
  return { header: headerJson(r.header), prev_kv: r.prevKv === undefined ? undefined : kvJson(r.prevKv) };
}

/** `etcdctl del`. */
export const DEL: CommandSpec = {
  name: "del",
  use: "[options] <key> [range_end]",
  short: "Removes the specified key or range of keys [key, range_end)",
  flags: [
    bool("prefix", "delete keys with matching prefix"),
    bool("prev-kv", "return deleted key-value pairs"),
    bool("from-key", "delete keys that are greater than or equal to the given key using byte compare"),
    bool("range", "delete range of keys"),
  ],
  action: delAction,
};

async function delAction(ctx: V3Context, args: readonly string[], flags: Flags): Promise<void> {
  const { key, options } = delRequest(ctx, args, flags);
  const client = await ctx.client();
  let result: DeleteResult;
  try {
    result = await client.delete(key, { ...options, ...(await ctx.call()) });
  } catch (error) {
    return ctx.failWith(error);
  }
  await ctx.print(delRendering(result, (await ctx.settings()).hex));
}

/** A delete's key and options, checked as etcdctl's `getDelOp` checks them. */
export function delRequest(ctx: V3Context, args: readonly string[], flags: Flags): { key: string; options: DeleteOptions } {
  if (args.length === 0 || args.length > 2) ctx.fail("del command needs one argument as key and an optional argument as range_end", EXIT.badArgs);
  const prefix = flags.bool("prefix");
  const fromKey = flags.bool("from-key");
  if (prefix && fromKey) ctx.fail("`--prefix` and `--from-key` cannot be set at the same time, choose one", EXIT.badArgs);
  const range = rangeOf(ctx, args[0] ?? "", args, prefix, fromKey);
  if (args.length > 1 && !flags.bool("range")) ctx.err("In etcd v3.6, the operation will be suspended for a few seconds to provide the user time to verify range.\n");
  return { key: range.key ?? args[0] ?? "", options: { ...range.options, prevKv: flags.bool("prev-kv") } };
}

/** A delete's reply in every format etcdctl has for it. */
export function delRendering(r: DeleteResult, hex: boolean): Parameters<V3Context["printIn"]>[1] {
  return {
    simple: () => `${r.deleted}\n${r.prevKvs.map((kv) => simpleKv(kv, hex)).join("")}`,
    json: () => deleteJson(r),
    protobuf: () => deleteBytes(r),
    fields: () => `${fieldsHeader(r.header)}"Deleted" : ${r.deleted}\n${r.prevKvs.map((kv) => fieldsKv(kv, "Prev")).join("")}`,
  };
}

/** A `DeleteRangeResponse` as encoding/json writes it. */
export function deleteJson(r: DeleteResult): GoObject {
  return { header: headerJson(r.header), deleted: omitEmpty(r.deleted), prev_kvs: omitEmpty(r.prevKvs.map(kvJson)) };
}

/** `etcdctl compaction`. */
export const COMPACTION: CommandSpec = {
  name: "compaction",
  use: "[options] <revision>",
  short: "Compacts the event history in etcd",
  flags: [bool("physical", "'true' to wait for compaction to physically remove all old revisions")],
  action: async (ctx, args, flags) => {
    if (args.length !== 1) ctx.fail("compaction command needs 1 argument", EXIT.badArgs);
    const text = args[0] ?? "";
    const parsed = /^[+-]?[0-9]+$/.test(text) ? parseGoInt64(text, false) : { error: `strconv.ParseInt: parsing ${JSON.stringify(text)}: invalid syntax` };
    if ("error" in parsed) return ctx.fail(parsed.error);
    const client = await ctx.client();
    try {
      await client.compact(BigInt(parsed.ok), { physical: flags.bool("physical"), ...(await ctx.call()) });
    } catch (error) {
      ctx.failWith(error);
    }
    ctx.out(`compacted revision ${parsed.ok}\n`);
  },
};
