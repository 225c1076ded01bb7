/**
 * `etcdctl watch`: events of a key, a range or a prefix as they happen, printed one reply at a
 * time (events of one transaction together), optionally running a command per event with
 * ETCD_WATCH_* variables (`watch key -- cmd args`). Like etcdctl it runs until interrupted
 * (Ctrl-C kills it, as it kills etcdctl) or until the server cancels the watch (exit 5). `-i`
 * reads `watch …` lines from stdin and runs each watch alongside the others.
 */
import { spawn } from "node:child_process";
import type { EtcdV3Client } from "../../v3/client.js";
import type { V3Watch, V3WatchEvent, V3WatchOptions } from "../../v3/watch.js";
import type { ResponseHeader } from "../../v3/types.js";
import { CliExit } from "../shared/exit.js";
import { goQuote } from "../shared/gofmt.js";
import { stdinLines } from "../shared/io.js";
import type { V3Context } from "./context.js";
import { EXIT, errorText } from "./errors.js";
import { parseFlags } from "./parse.js";
import { fieldsHeader, fieldsKv, headerJson, kvJson, simpleKv, type Rendering } from "./printers.js";
import { watchBytes } from "./protobuf.js";
import { argify } from "./txn-parse.js";
import type { CommandSpec, FlagSpec } from "./spec.js";
import { parseWatchArgs, WatchArgsError, type WatchRequest } from "./watch-args.js";

const FLAGS: readonly FlagSpec[] = [
  { name: "interactive", short: "i", kind: "bool", defaultValue: "false", usage: "Interactive mode" },
  { name: "prefix", kind: "bool", defaultValue: "false", usage: "Watch on a prefix if prefix is set" },
  { name: "rev", kind: "int", defaultValue: "0", usage: "Revision to start watching" },
  { name: "prev-kv", kind: "bool", defaultValue: "false", usage: "get the previous key-value pair before the event happens" },
  { name: "progress-notify", kind: "bool", defaultValue: "false", usage: "get periodic watch progress notification from server" },
];

/** `etcdctl watch`. */
export const WATCH: CommandSpec = {
  name: "watch",
  use: "[options] [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]",
  short: "Watches events stream on keys or prefixes",
  flags: FLAGS,
  action: async (ctx, args, flags) => {
    const envKey = ctx.io.env["ETCDCTL_WATCH_KEY"] ?? "";
    const envRange = ctx.io.env["ETCDCTL_WATCH_RANGE_END"] ?? "";
    if (envKey === "" && envRange !== "") ctx.fail(`ETCDCTL_WATCH_KEY is empty but got ETCDCTL_WATCH_RANGE_END=${goQuote(envRange)}`, EXIT.badArgs);
    const options = { prefix: flags.bool("prefix"), rev: flags.int("rev"), prevKv: flags.bool("prev-kv"), progressNotify: flags.bool("progress-notify") };
    if (flags.bool("interactive")) return interactive(ctx, envKey, envRange, options.progressNotify);
    let request: WatchRequest;
    try {
      request = parseWatchArgs({ argv: ctx.argv, args, envKey, envRange, interactive: false, options });
    } catch (error) {
      return error instanceof WatchArgsError ? ctx.fail(error.message, EXIT.badArgs) : ctx.failWith(error);
    }
    const client = await ctx.client();
    const progress = new ProgressLines(ctx);
    const watch = openWatch(client, request, progress);
    if (typeof watch === "string") return ctx.fail(watch, EXIT.badArgs);
    await printWatch(ctx, client, request, watch, progress);
    ctx.fail("watch is canceled by the server", EXIT.interrupted);
  },
};

/**
 * etcdctl prints "progress notify: <revision>" for each progress reply. A progress revision
 * reported while a reply's events are still being gathered waits until they are printed, so the
 * line always follows the events it vouches for.
 */
class ProgressLines {
  /** True from a reply's first event until the reply has been printed. */
  assembling = false;
  readonly #ctx: V3Context;
  readonly #deferred: bigint[] = [];

  constructor(ctx: V3Context) {
    this.#ctx = ctx;
  }

  /** A progress revision from the watch (periodic, or the answer to `progress`). */
  readonly report = (revision: bigint): void => {
    if (this.assembling) this.#deferred.push(revision);
    else this.#ctx.out(`progress notify: ${revision}\n`);
  };

  /** Prints what waited for the reply just printed. */
  flush(): void {
    this.assembling = false;
    for (const revision of this.#deferred.splice(0)) this.#ctx.out(`progress notify: ${revision}\n`);
  }
}

/** etcdctl's `getWatchChan`: the watch a request asks for, or the reason it cannot be made. */
function openWatch(client: EtcdV3Client, request: WatchRequest, progress: ProgressLines): V3Watch | string {
  const [key, rangeEnd] = request.watchArgs;
  if (key === undefined) return "bad number of arguments";
  if (rangeEnd !== undefined && request.watchArgs.length === 2 && request.options.prefix) return "`range_end` and `--prefix` are mutually exclusive";
  const all = key === "" && request.options.prefix;
  const options: V3WatchOptions = {
    ...(all ? { rangeEnd: "\x00" } : request.watchArgs.length === 2 ? { rangeEnd: rangeEnd ?? "" } : request.options.prefix ? { prefix: true } : {}),
    ...(request.options.rev > 0n ? { startRevision: request.options.rev } : {}),
    prevKv: request.options.prevKv,
    progressNotify: request.options.progressNotify,
    onProgress: progress.report,
  };
  try {
    return client.watch(all ? "\x00" : key, options);
  } catch (error) {
    return errorText(error);
  }
}

/** Prints replies until the watch ends; a cancellation is reported as etcdctl reports it. */
async function printWatch(ctx: V3Context, client: EtcdV3Client, request: WatchRequest, watch: AsyncIterableIterator<V3WatchEvent>, progress: ProgressLines): Promise<void> {
  const { hex, format } = await ctx.settings();
  let last: ResponseHeader | undefined;
  try {
    for await (const events of replies(watch, progress)) {
      const header = events[0]?.header;
      if (header === undefined) continue;
      last = header;
      ctx.printIn(format, watchRendering(header, events, hex));
      for (const event of events) await runExec(ctx, request.execArgs, header, event);
      progress.flush();
    }
  } catch (error) {
    progress.flush();
    if (error instanceof CliExit) throw error;
    ctx.err(`watch was canceled (${canceledText(error)})\n`);
    const compactRevision = typeof error === "object" && error !== null && "compactRevision" in error && typeof error.compactRevision === "bigint" ? error.compactRevision : 0n;
    const header = last ?? (await headerOf(ctx, client, request));
    ctx.printIn(format, canceledRendering({ ...header, revision: 0n }, compactRevision));
  }
}

/** The cancel reason clientv3 would give: etcd's text for a compacted revision, the server's otherwise. */
function canceledText(error: unknown): string {
  if (typeof error === "object" && error !== null && "code" in error && error.code === "COMPACTED") return "etcdserver: mvcc: required revision has been compacted";
  if (typeof error === "object" && error !== null && "serverMessage" in error && typeof error.serverMessage === "string") return error.serverMessage;
  return errorText(error);
}

/** The cluster's header, for printing a cancellation that came before any event. */
async function headerOf(ctx: V3Context, client: EtcdV3Client, request: WatchRequest): Promise<ResponseHeader> {
  try {
    return (await client.get(request.watchArgs[0] || "\x00", { countOnly: true, ...(await ctx.call()) })).header;
  } catch {
    return { clusterId: 0n, memberId: 0n, revision: 0n, raftTerm: 0n };
  }
}

/**
 * The events regrouped into the replies that carried them: events of one reply share their
 * header object and are queued together, so whatever is already queued with the same header
 * belongs to the same reply.
 */
async function* replies(watch: AsyncIterableIterator<V3WatchEvent>, progress: ProgressLines): AsyncGenerator<V3WatchEvent[]> {
  let pending = watch.next();
  for (;;) {
    progress.flush();
    const first = await pending;
    if (first.done === true) return;
    progress.assembling = true;
    const group = [first.value];
    for (;;) {
      pending = watch.next();
      const next = await Promise.race([pending, new Promise<"later">((resolve) => setImmediate(() => { resolve("later"); }))]);
      if (next === "later" || next.done === true || next.value.header !== first.value.header) break;
      group.push(next.value);
    }
    yield group;
  }
}

/** One reply in every format etcdctl has for it. */
export function watchRendering(header: ResponseHeader, events: readonly V3WatchEvent[], hex: boolean): Rendering {
  return {
    simple: () => events.map((e) => `${e.type === "put" ? "PUT" : "DELETE"}\n${e.prevKv === undefined ? "" : simpleKv(e.prevKv, hex)}${simpleKv(e.kv, hex)}`).join(""),
    json: () => ({
      Header: headerJson(header),
      Events: events.map((e) => ({ type: e.type === "delete" ? 1 : undefined, kv: kvJson(e.kv), prev_kv: e.prevKv === undefined ? undefined : kvJson(e.prevKv) })),
      CompactRevision: 0,
      Canceled: false,
      Created: false,
    }),
    protobuf: () => watchBytes(header, events),
    fields: () =>
      fieldsHeader(header) +
      events.map((e) => `"Type" : ${e.type === "put" ? "PUT" : "DELETE"}\n${e.prevKv === undefined ? "" : fieldsKv(e.prevKv, "Prev")}${fieldsKv(e.kv)}`).join(""),
  };
}

/** The reply that cancels a watch, as etcdctl prints it. */
function canceledRendering(header: ResponseHeader, compactRevision: bigint): Rendering {
  return {
    simple: () => "",
    json: () => ({ Header: headerJson(header), Events: [], CompactRevision: compactRevision, Canceled: true, Created: false }),
    protobuf: () => watchBytes(header, [], compactRevision, true),
    fields: () => fieldsHeader(header),
  };
}

/** Runs `-- command` for one event, its output passed through; a failure ends etcdctl with exit 1. */
async function runExec(ctx: V3Context, execArgs: readonly string[], header: ResponseHeader, event: V3WatchEvent): Promise<void> {
  const [command, ...rest] = execArgs;
  if (command === undefined) return;
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(ctx.io.env)) if (value !== undefined && name !== "ETCDCTL_API") env[name] = value;
  env["ETCD_WATCH_REVISION"] = String(header.revision);
  env["ETCD_WATCH_EVENT_TYPE"] = event.type === "put" ? '"PUT"' : '"DELETE"';
  env["ETCD_WATCH_KEY"] = goQuote(event.kv.key);
  env["ETCD_WATCH_VALUE"] = goQuote(event.kv.value);
  const failure = await new Promise<string | undefined>((resolve) => {
    const child = spawn(command, rest, { env, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (chunk: Buffer) => { ctx.out(chunk.toString("utf8")); });
    child.stderr.on("data", (chunk: Buffer) => { ctx.err(chunk.toString("utf8")); });
    child.on("error", (error: NodeJS.ErrnoException) => {
      resolve(error.code === "ENOENT" ? `exec: ${JSON.stringify(command)}: executable file not found in $PATH` : error.message);
    });
    child.on("close", (code, signal) => {
      resolve(code === 0 ? undefined : signal !== null ? `signal: ${signalName(signal)}` : `exit status ${code ?? 1}`);
    });
  });
  if (failure === undefined) return;
  ctx.err(`command [${execArgs.map((a) => goQuote(a)).join(" ")}] error (${failure})\n`);
  throw new CliExit(EXIT.error);
}

function signalName(signal: NodeJS.Signals): string {
  const names: Readonly<Record<string, string>> = { SIGKILL: "killed", SIGTERM: "terminated", SIGINT: "interrupt", SIGSEGV: "segmentation fault", SIGABRT: "aborted" };
  return names[signal] ?? signal;
}

/** `watch -i`: one `watch …` line at a time from stdin, each watch running beside the others. */
async function interactive(ctx: V3Context, envKey: string, envRange: string, progressNotify: boolean): Promise<void> {
  const client = await ctx.client();
  const next = stdinLines(ctx.io);
  const running: Promise<void>[] = [];
  const live = new Map<V3Watch, ProgressLines>();
  let failed: Error | undefined;
  for (;;) {
    if (failed !== undefined) throw failed;
    const raw = await next();
    if (raw === undefined || !raw.endsWith("\n")) {
      // etcdctl 3.4 capitalises this one message.
      const what = (await ctx.serverRelease()) === "3.4" ? "Error" : "error";
      return ctx.fail(`${what} reading watch request line: EOF`, EXIT.invalidInput);
    }
    const line = raw.slice(0, -1);
    const args = argify(line);
    const word = args[0];
    if (word === undefined) {
      ctx.err(`Invalid command: ${line} (watch and progress supported)\n`);
      continue;
    }
    if (word === "progress") {
      // etcdctl asks once on its shared stream and every watch prints the answer; each watch here asks, and one answer serves all.
      for (const [watch, progress] of live) {
        watch.requestProgress().then(progress.report, (error: unknown) => {
          if (watch.endReason !== undefined) return;
          failed = error instanceof Error ? error : new Error(String(error));
        });
      }
      continue;
    }
    if (word !== "watch") {
      ctx.err(`Invalid command ${line} (only support watch)\n`);
      continue;
    }
    if (args.length < 2 && envKey === "") {
      ctx.err(`Invalid command ${line} (command type or key is not provided)\n`);
      continue;
    }
    const request = interactiveRequest(ctx, args, envKey, envRange, progressNotify);
    const progress = new ProgressLines(ctx);
    const watch = openWatch(client, request, progress);
    if (typeof watch === "string") {
      ctx.err(`Invalid command ${line} (${watch})\n`);
      continue;
    }
    live.set(watch, progress);
    running.push(
      printWatch(ctx, client, request, watch, progress)
        .catch((error: unknown) => {
          failed = error instanceof Error ? error : new Error(String(error));
        })
        .finally(() => live.delete(watch)),
    );
  }
}

function interactiveRequest(ctx: V3Context, args: readonly string[], envKey: string, envRange: string, progressNotify: boolean): WatchRequest {
  try {
    return parseWatchArgs({ argv: ctx.argv, args, envKey, envRange, interactive: true, options: { prefix: false, rev: 0n, prevKv: false, progressNotify }, parse: (words) => parseFlags(words, FLAGS) });
  } catch (error) {
    return error instanceof WatchArgsError ? ctx.fail(error.message, EXIT.badArgs) : ctx.failWith(error);
  }
}
