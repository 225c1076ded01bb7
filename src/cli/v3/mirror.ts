/**
 * `etcdctl make-mirror`: copies a prefix (or everything) to a second cluster, then keeps it in
 * step. As clientv3's mirror.Syncer: the keys as of one revision, read in pages of 1000 and put
 * one by one, then a watch from the next revision whose events are replayed one transaction per
 * source revision, so the destination never shows half of a source transaction. The count of
 * keys copied is printed every 30 s. It runs until Ctrl-C, or ends with the first error.
 */
import type { EtcdV3Client } from "../../v3/client.js";
import { prefixEnd } from "../../v3/convert.js";
import type { TxnOp } from "../../v3/types.js";
import type { V3WatchEvent } from "../../v3/watch.js";
import type { V3Context } from "./context.js";
import { EXIT } from "./errors.js";
import type { CommandSpec, Flags, FlagSpec } from "./spec.js";
import { readFileSync } from "node:fs";
import type { TlsOptions } from "../../options.js";

const PAGE = 1000;
const REPORT_MS = 30_000;

/** The destination client, from `--dest-*` (etcdctl reads no environment for them). */
async function destination(ctx: V3Context, endpoint: string, flags: Flags): Promise<EtcdV3Client> {
  const settings = await ctx.settings();
  const tls: { -readonly [K in keyof TlsOptions]: TlsOptions[K] } = {};
  if (flags.string("dest-cacert") !== "") tls.ca = readFileSync(flags.string("dest-cacert"));
  if (flags.string("dest-cert") !== "") tls.cert = readFileSync(flags.string("dest-cert"));
  if (flags.string("dest-key") !== "") tls.key = readFileSync(flags.string("dest-key"));
  const secure = Object.keys(tls).length > 0 || !flags.bool("dest-insecure-transport");
  const url = endpoint.includes("://") ? endpoint : `${secure ? "https" : "http"}://${endpoint}`;
  const user = flags.string("dest-user");
  let auth: { username: string; password: string } | undefined;
  if (user !== "") {
    const colon = user.indexOf(":");
    const password = flags.string("dest-password");
    if (password !== "") auth = { username: user, password };
    else if (colon >= 0) auth = { username: user.slice(0, colon), password: user.slice(colon + 1) };
    else auth = { username: user, password: await ctx.io.readSecret("Destination Password: ") };
  }
  const { EtcdV3Client: Client } = await import("../../v3/client.js");
  return new Client({
    endpoints: [url],
    dialTimeout: settings.dialTimeoutMs,
    keepAlive: settings.keepAliveMs,
    requestTimeout: settings.commandTimeoutMs,
    ...(secure ? { tls } : {}),
    ...(auth === undefined ? {} : { auth }),
  });
}

/** The keys under `prefix` (every key when empty) as of `revision`, page by page. */
async function* base(source: EtcdV3Client, prefix: string, revision: bigint): AsyncGenerator<{ key: Buffer; value: Buffer }> {
  const end = prefix === "" ? Buffer.from([0]) : undefined;
  let from: Buffer = Buffer.from(prefix === "" ? "\x00" : prefix);
  const last = prefix === "" ? undefined : prefixEnd(Buffer.from(prefix));
  for (;;) {
    const page = await source.get(from, { rangeEnd: end ?? last, revision, limit: PAGE });
    for (const kv of page.kvs) yield kv;
    const tail = page.kvs.at(-1);
    if (!page.more || tail === undefined) return;
    from = Buffer.concat([tail.key, Buffer.from([0])]);
  }
}

/** Replays watch events, one destination transaction per source revision. */
async function follow(events: AsyncIterableIterator<V3WatchEvent>, apply: (ops: TxnOp[]) => Promise<void>, count: () => void): Promise<void> {
  let ops: TxnOp[] = [];
  let revision = 0n;
  let next = events.next();
  for (;;) {
    // Flush what is gathered once no further event is already waiting: the source revision is complete.
    const ready = await Promise.race([next, new Promise<"idle">((resolve) => setImmediate(resolve, "idle"))]);
    if (ready === "idle" && ops.length > 0) {
      await apply(ops);
      ops = [];
      continue;
    }
    const result = ready === "idle" ? await next : ready;
    if (result.done === true) break;
    const event = result.value;
    if (ops.length > 0 && event.kv.modRevision > revision) {
      await apply(ops);
      ops = [];
    }
    revision = event.kv.modRevision;
    ops.push(event.type === "put" ? { put: { key: event.kv.key, value: event.kv.value } } : { delete: { key: event.kv.key } });
    count();
    next = events.next();
  }
  if (ops.length > 0) await apply(ops);
}

async function makeMirror(ctx: V3Context, args: readonly string[], flags: Flags): Promise<void> {
  if (args.length !== 1) ctx.fail("make-mirror takes one destination argument", EXIT.badArgs);
  const prefix = flags.string("prefix");
  const noDestPrefix = flags.bool("no-dest-prefix");
  let destPrefix = flags.string("dest-prefix");
  const dest = await destination(ctx, args[0] ?? "", flags);
  const source = await ctx.client();
  const stop = ctx.io.trapInterrupt();
  let total = 0;
  const timer = setInterval(() => {
    ctx.out(`${total}\n`);
  }, REPORT_MS);
  try {
    const revision = (await source.get("\x00", { countOnly: true, signal: stop })).header.revision;
    if (noDestPrefix && destPrefix !== "") ctx.fail("`--dest-prefix` and `--no-dest-prefix` cannot be set at the same time, choose one", EXIT.badArgs);
    if (!noDestPrefix && destPrefix === "") destPrefix = prefix;
    const toBytes = renamer(prefix, destPrefix);
    for await (const kv of base(source, prefix, revision)) {
      await dest.put(toBytes(kv.key), kv.value, { signal: stop });
      total++;
    }
    const watchKey = prefix === "" ? "\x00" : prefix;
    const events = source.watch(watchKey, { ...(prefix === "" ? { rangeEnd: Buffer.from([0]) } : { prefix: true }), startRevision: revision + 1n, signal: stop });
    await follow(
      events,
      async (ops) => {
        const renamed = ops.map((op): TxnOp => ("put" in op ? { put: { ...op.put, key: toBytes(Buffer.from(op.put.key)) } } : "delete" in op ? { delete: { key: toBytes(Buffer.from(op.delete.key)) } } : op));
        await dest.txn({ success: renamed }, { signal: stop });
      },
      () => total++,
    );
  } catch (error) {
    if (!stop.aborted) ctx.failWith(error);
  } finally {
    clearInterval(timer);
    await dest.close();
  }
}

/** Go's `strings.Replace(key, prefix, destPrefix, 1)` on bytes: the first occurrence, wherever it is. */
function renamer(prefix: string, destPrefix: string): (key: Buffer) => Buffer {
  const from = Buffer.from(prefix);
  const to = Buffer.from(destPrefix);
  return (key) => {
    const at = key.indexOf(from);
    return at < 0 ? key : Buffer.concat([key.subarray(0, at), to, key.subarray(at + from.length)]);
  };
}

const str = (name: string, usage: string): FlagSpec => ({ name, kind: "string", defaultValue: "", usage });

/** `etcdctl make-mirror`. */
export const MAKE_MIRROR: CommandSpec = {
  name: "make-mirror",
  use: "[options] <destination>",
  short: "Makes a mirror at the destination etcd cluster",
  flags: [
    str("prefix", "Key-value prefix to mirror"),
    str("dest-prefix", "destination prefix to mirror a prefix to a different prefix in the destination cluster"),
    { name: "no-dest-prefix", kind: "bool", defaultValue: "false", usage: "mirror key-values to the root of the destination cluster" },
    str("dest-cert", "Identify secure client using this TLS certificate file for the destination cluster"),
    str("dest-key", "Identify secure client using this TLS key file"),
    str("dest-cacert", "Verify certificates of TLS enabled secure servers using this CA bundle"),
    { name: "dest-insecure-transport", kind: "bool", defaultValue: "true", usage: "Disable transport security for client connections" },
    str("dest-user", "Destination username[:password] for authentication (prompt if password is not supplied)"),
    str("dest-password", "Destination password for authentication (if this option is used, --user option shouldn't include password)"),
  ],
  action: makeMirror,
};
