/**
 * `etcdctl txn`: compares, success requests and failure requests read from stdin, each section
 * ended by an empty line (`-i` prompts for each). A request line is `get`, `put` or `del` with
 * that command's own flags, parsed as etcdctl parses them (cobra, prefix matching included).
 */
import type { TxnOp, TxnOpResult, TxnResult, TxnSpec } from "../../v3/types.js";
import { CliExit } from "../shared/exit.js";
import { omitEmpty, type GoObject } from "../shared/gojson.js";
import { stdinLines } from "../shared/io.js";
import type { V3Context } from "./context.js";
import { EXIT } from "./errors.js";
import { DEL, GET, PUT, delRendering, delRequest, deleteJson, getRendering, getRequest, putJson, putRendering, putRequest, rangeJson } from "./kv.js";
import { parseCommandLine } from "./parse.js";
import { fieldsHeader, headerJson, type Rendering } from "./printers.js";
import { Flags, type CommandSpec, type FlagSpec } from "./spec.js";
import { txnBytes } from "./protobuf.js";
import { TxnInputError, TxnPanic, argify, parseCompare } from "./txn-parse.js";

// 2^31 - 1 ms, about 24.8 days: Node's setTimeout limit.
const NO_DEADLINE = 2_147_483_647;

/** `etcdctl txn`. */
export const TXN: CommandSpec = {
  name: "txn",
  use: "[options]",
  short: "Txn processes all the requests in one transaction",
  flags: [{ name: "interactive", short: "i", kind: "bool", defaultValue: "false", usage: "Input transaction in interactive mode" }],
  action: txnAction,
};

async function txnAction(ctx: V3Context, args: readonly string[], flags: Flags): Promise<void> {
  if (args.length !== 0) ctx.fail("txn command does not accept argument", EXIT.badArgs);
  const client = await ctx.client();
  const settings = await ctx.settings();
  const interactive = flags.bool("interactive");
  const next = stdinLines(ctx.io);
  const prompt = (text: string): void => {
    if (interactive) ctx.out(`${text}\n`);
  };
  const spec = await guarded(ctx, async () => {
    prompt("compares:");
    const compare = (await readSection(ctx, next)).map(parseCompare);
    prompt("success requests (get, put, del):");
    const success = await readOps(ctx, next);
    prompt("failure requests (get, put, del):");
    const failure = await readOps(ctx, next);
    return { compare, success, failure } satisfies TxnSpec;
  });
  let result: TxnResult;
  try {
    // etcdctl commits with context.Background(), without --command-timeout; the longest timer Node has stands in.
    result = await client.txn(spec, { timeout: NO_DEADLINE });
  } catch (error) {
    return ctx.failWith(error);
  }
  const named = settings.format === "json" && result.responses.length > 0 ? await oneofNaming(ctx) : "snake";
  await ctx.print(txnRendering(result, settings.hex, named));
}

/** Runs the reading of the sections, turning etcdctl's input errors and panics into its exits. */
async function guarded<T>(ctx: V3Context, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof TxnInputError) return ctx.fail(error.message, EXIT.invalidInput);
    if (error instanceof TxnPanic) {
      ctx.err(`panic: ${error.message}\n`);
      throw new CliExit(2);
    }
    throw error;
  }
}

/** The lines of one section, up to its empty line; end of input before it is etcdctl's "EOF". */
async function readSection(ctx: V3Context, next: () => Promise<string | undefined>): Promise<string[]> {
  const lines: string[] = [];
  for (;;) {
    const line = await next();
    if (line === undefined || !line.endsWith("\n")) return ctx.fail("EOF", EXIT.invalidInput);
    const trimmed = line.trim();
    if (trimmed === "") return lines;
    lines.push(trimmed);
  }
}

async function readOps(ctx: V3Context, next: () => Promise<string | undefined>): Promise<TxnOp[]> {
  const ops: TxnOp[] = [];
  for (const line of await readSection(ctx, next)) ops.push(await parseRequest(ctx, line));
  return ops;
}

const OP_ROOT: CommandSpec = { name: "", use: "", short: "", subcommands: [GET, PUT, DEL] };

/** etcdctl's `parseRequestUnion`: a get, put or del line, with the checks of those commands. */
async function parseRequest(ctx: V3Context, line: string): Promise<TxnOp> {
  const args = argify(line);
  if (args.length < 2) throw new TxnInputError(`invalid txn compare request: ${line}`);
  const parsed = parseCommandLine(args, OP_ROOT, []);
  if (parsed.kind === "flag-error") {
    const command = parsed.path[parsed.path.length - 1];
    // cobra prints the command's usage (to stderr, then an empty line) before etcdctl's error.
    if (command !== undefined && command !== OP_ROOT) ctx.err(`${(await import("./help.js")).cobraDefaultUsage(command)}\n`);
  }
  if (parsed.kind !== "run") throw new TxnInputError(`invalid txn request: ${line}`);
  const command = parsed.path[parsed.path.length - 1];
  const specs = new Map<string, FlagSpec>((command?.flags ?? []).map((f) => [f.name, f]));
  const flags = new Flags(parsed.values, specs);
  if (command === GET) {
    const { key, options } = getRequest(ctx, parsed.args, flags);
    return { get: { key, ...options } };
  }
  if (command === PUT) {
    const { key, value, options } = await putRequest(ctx, parsed.args, flags, false);
    return { put: { key, value, ...options } };
  }
  const { key, options } = delRequest(ctx, parsed.args, flags);
  return { delete: { key, ...options } };
}

/**
 * How `-w json` names a response's oneof member: etcdctl 3.4 writes the Go field name
 * ("ResponsePut"), 3.5 the protobuf name ("response_put"). The server's version decides, as
 * the tests compare with the etcdctl of the server's release.
 */
async function oneofNaming(ctx: V3Context): Promise<"go" | "snake"> {
  return (await ctx.serverRelease()) === "3.4" ? "go" : "snake";
}

/** A txn's reply in every format etcdctl has for it. */
export function txnRendering(r: TxnResult, hex: boolean, naming: "go" | "snake"): Rendering {
  return {
    simple: () => `${r.succeeded ? "SUCCESS" : "FAILURE"}\n${r.responses.map((op) => `\n${subRendering(op, hex).simple?.() ?? ""}`).join("")}`,
    json: () => txnJson(r, naming),
    protobuf: () => txnBytes(r),
    fields: () => `${fieldsHeader(r.header)}"Succeeded" : ${r.succeeded}\n${r.responses.map((op) => subRendering(op, hex).fields?.() ?? "").join("")}`,
  };
}

function subRendering(op: TxnOpResult, hex: boolean): Rendering {
  if ("get" in op) return getRendering(op.get, hex);
  if ("put" in op) return putRendering(op.put, hex);
  if ("delete" in op) return delRendering(op.delete, hex);
  return txnRendering(op.txn, hex, "snake");
}

/** A `TxnResponse` as encoding/json writes it. */
export function txnJson(r: TxnResult, naming: "go" | "snake"): GoObject {
  const member = (snake: string, go: string): string => (naming === "go" ? go : snake);
  const responses = r.responses.map((op): GoObject => {
    if ("get" in op) return { Response: { [member("response_range", "ResponseRange")]: rangeJson(op.get) } };
    if ("put" in op) return { Response: { [member("response_put", "ResponsePut")]: putJson(op.put) } };
    if ("delete" in op) return { Response: { [member("response_delete_range", "ResponseDeleteRange")]: deleteJson(op.delete) } };
    return { Response: { [member("response_txn", "ResponseTxn")]: txnJson(op.txn, naming) } };
  });
  return { header: headerJson(r.header), succeeded: omitEmpty(r.succeeded), responses: omitEmpty(responses) };
}
