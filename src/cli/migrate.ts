/**
 * `etcd-ts migrate v2-to-v3`: the command around `migrateV2ToV3`. It has its own small flag set
 * (two clusters' endpoints, TLS and users), parsed with node's parseArgs, and is loaded only
 * when invoked, so it costs the other commands nothing at start-up.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { EtcdError, EtcdV2Client, EtcdV3Client, migrateV2ToV3, verifyV2ToV3 } from "../index.js";
import type { Difference, MigrateV2ToV3Options, MigrationProgress, MigrationReport } from "../index.js";
import type { AuthOptions, TlsOptions } from "../options.js";
import type { CliIo } from "./shared/io.js";

/** Usage of the command, printed by `--help` and on a usage error. */
export const MIGRATE_USAGE = `Usage: etcd-ts migrate v2-to-v3 [options] [key ...]

Copies a v2 tree into the v3 store (of the same cluster, or of --dest-endpoints), consistently and
without stopping writers: the tree is read at one v2 index, written in guarded transactions, then
caught up from that index with a v2 watch. Keys with a TTL get leases; nothing is deleted from v2.
Hidden v2 keys (a path element starting with "_") are copied only when named as arguments.

Options:
  --prefix <key>            v2 key or directory to copy (default: the whole store)
  --dest-prefix <key>       what replaces --prefix in the v3 keys (default: the same prefix)
  --endpoints <urls>        source cluster (default: $ETCDCTL_ENDPOINTS or http://127.0.0.1:2379)
  --dest-endpoints <urls>   destination cluster (default: the source cluster)
  --follow                  after the copy, keep applying v2 changes until SIGINT/SIGTERM, then verify
  --verify-only             compare both sides key by key; exit 1 listing the keys that differ
  --dry-run                 read and plan only: print what would be written
  --json                    print the report as JSON
  --batch-ops <n>           operations per transaction (default 128)
  --settle <ms>             without --follow, end the catch-up after this long without a v2 event (default 1000)
  --cacert, --cert, --key, --user <name[:password]>, --password, --insecure-skip-tls-verify
                            TLS and credentials of the source (and of the destination unless given below)
  --dest-cacert, --dest-cert, --dest-key, --dest-user, --dest-password, --dest-insecure-skip-tls-verify
                            TLS and credentials of the destination
`;

const FLAGS = {
  prefix: { type: "string" },
  "dest-prefix": { type: "string" },
  endpoints: { type: "string" },
  "dest-endpoints": { type: "string" },
  follow: { type: "boolean" },
  "verify-only": { type: "boolean" },
  "dry-run": { type: "boolean" },
  json: { type: "boolean" },
  "batch-ops": { type: "string" },
  settle: { type: "string" },
  cacert: { type: "string" },
  cert: { type: "string" },
  key: { type: "string" },
  user: { type: "string" },
  password: { type: "string" },
  "insecure-skip-tls-verify": { type: "boolean" },
  "dest-cacert": { type: "string" },
  "dest-cert": { type: "string" },
  "dest-key": { type: "string" },
  "dest-user": { type: "string" },
  "dest-password": { type: "string" },
  "dest-insecure-skip-tls-verify": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

type Values = ReturnType<typeof parse>["values"];

function parse(argv: readonly string[]) {
  return parseArgs({ args: [...argv], options: FLAGS, allowPositionals: true, strict: true });
}

/** Runs `etcd-ts migrate …` (argv after "migrate") and resolves with the exit code. */
export async function runMigrate(argv: readonly string[], io: CliIo, tty = false): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    io.stderr(`Error: ${error instanceof Error ? error.message : String(error)}\n\n${MIGRATE_USAGE}`);
    return 1;
  }
  const [direction, ...named] = parsed.positionals;
  if (parsed.values.help === true) {
    io.stdout(MIGRATE_USAGE);
    return 0;
  }
  if (direction !== "v2-to-v3") {
    io.stderr(`Error: migrate needs a direction, and the only one is v2-to-v3\n\n${MIGRATE_USAGE}`);
    return 1;
  }
  const v = parsed.values;
  const endpoints = list(v.endpoints ?? io.env["ETCDCTL_ENDPOINTS"] ?? "http://127.0.0.1:2379");
  const source = new EtcdV2Client({ endpoints, ...side(v, "", io) });
  const dest = new EtcdV3Client({ endpoints: v["dest-endpoints"] === undefined ? endpoints : list(v["dest-endpoints"]), ...side(v, v["dest-endpoints"] === undefined ? "" : "dest-", io) });
  try {
    return await execute(v, named, { source, dest }, io, tty);
  } catch (error) {
    io.stderr(`Error: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    await Promise.all([source.close(), dest.close()]);
  }
}

async function execute(v: Values, named: readonly string[], clients: { source: EtcdV2Client; dest: EtcdV3Client }, io: CliIo, tty: boolean): Promise<number> {
  const options: MigrateV2ToV3Options = {
    ...clients,
    prefix: v.prefix,
    destPrefix: v["dest-prefix"],
    keys: named,
    follow: v.follow === true,
    dryRun: v["dry-run"] === true,
    batchOps: v["batch-ops"] === undefined ? undefined : integer("--batch-ops", v["batch-ops"]),
    settleMs: v.settle === undefined ? undefined : integer("--settle", v.settle),
    signal: v.follow === true ? io.trapInterrupt() : undefined,
    onProgress: tty && v.json !== true ? progressLine(io) : undefined,
  };
  if (v["verify-only"] === true) {
    const differences = await verifyV2ToV3(options);
    if (v.json === true) io.stdout(`${JSON.stringify({ equal: differences.length === 0, differences }, null, 2)}\n`);
    else io.stdout(differences.length === 0 ? "equal: every v2 key has the same value (and a lease exactly where it has a TTL) in v3\n" : differenceLines(differences));
    return differences.length === 0 ? 0 : 1;
  }
  const report = await migrateV2ToV3(options);
  if (tty && v.json !== true) io.stderr("\r\u001b[K");
  io.stdout(v.json === true ? `${JSON.stringify(report, null, 2)}\n` : summary(report, options));
  return report.differences.length === 0 || report.dryRun ? 0 : 1;
}

/** One line redrawn on the terminal: phase, keys written of the total, rate, and the lag while following. */
function progressLine(io: CliIo): (p: MigrationProgress) => void {
  const started = performance.now();
  return (p) => {
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? Math.round((p.written + p.unchanged) / seconds) : 0;
    const lag = p.phase === "following" || p.phase === "catching-up" ? `  events ${p.events}  lag ${p.lag}` : "";
    io.stderr(`\r\u001b[K${p.phase}: ${p.written + p.unchanged}/${p.total} keys (${p.written} written)  ${rate} keys/s${lag}`);
  };
}

/** The end-of-run summary, one fact a line. */
export function summary(r: MigrationReport, o: MigrateV2ToV3Options): string {
  const from = o.prefix ?? "/";
  const lines = [
    `${r.dryRun ? "dry run: would migrate" : "migrated"} ${from} (v2 index ${r.sourceIndex}) to v3 ${o.destPrefix ?? from} in ${(r.durationMs / 1000).toFixed(1)} s`,
    `  keys:        ${r.keys} (${r.written} ${r.dryRun ? "to write" : "written"}, ${r.unchanged} already equal)`,
    `  leases:      ${r.leases}`,
    `  bytes:       ${r.bytes}`,
    `  directories: ${r.emptyDirs.length} empty (no v3 form)${r.emptyDirs.length === 0 ? "" : `: ${r.emptyDirs.join(", ")}`}`,
    `  events:      ${r.events} applied after the copy${r.resyncs === 0 ? "" : ` (${r.resyncs} re-reads after the v2 history moved on)`}`,
    `  deleted:     ${r.deleted}`,
    `  skipped:     ${r.skipped.length}${r.skipped.map((s) => `\n    ${s.key}: ${s.reason}`).join("")}`,
    `  conflicts:   ${r.conflicts.length}${r.conflicts.map((c) => `\n    ${c.key}: ${c.reason}`).join("")}`,
    `  verify:      ${r.differences.length === 0 ? "equal" : `${r.differences.length} difference(s)`}`,
  ];
  return `${lines.join("\n")}\n${r.differences.length === 0 ? "" : differenceLines(r.differences)}`;
}

function differenceLines(differences: readonly Difference[]): string {
  const words = { missing: "missing in v3", value: "value differs", lease: "TTL/lease differs", extra: "only in v3" } as const;
  return differences.map((d) => `${words[d.kind]}: ${d.key}${d.destKey === d.key ? "" : ` -> ${d.destKey}`}\n`).join("");
}

/** The TLS and auth options of one side ("" = source, "dest-"), falling back to the source's flags for the destination. */
function side(v: Values, pre: "" | "dest-", io: CliIo): { tls?: TlsOptions; auth?: AuthOptions } {
  const flag = (name: "cacert" | "cert" | "key" | "user" | "password"): string | undefined => v[`${pre}${name}`] ?? v[name];
  const skip = v[`${pre}insecure-skip-tls-verify`] ?? v["insecure-skip-tls-verify"];
  const out: { tls?: TlsOptions; auth?: AuthOptions } = {};
  const [ca, cert, key] = [flag("cacert"), flag("cert"), flag("key")];
  if (ca !== undefined || cert !== undefined || key !== undefined || skip === true) {
    out.tls = {
      ...(ca === undefined ? {} : { ca: readFileSync(ca) }),
      ...(cert === undefined ? {} : { cert: readFileSync(cert) }),
      ...(key === undefined ? {} : { key: readFileSync(key) }),
      ...(skip === true ? { rejectUnauthorized: false } : {}),
    };
  }
  const user = flag("user") ?? (pre === "" ? io.env["ETCDCTL_USER"] : undefined);
  if (user !== undefined) {
    const colon = user.indexOf(":");
    const password = flag("password") ?? (colon >= 0 ? user.slice(colon + 1) : io.env["ETCDCTL_PASSWORD"]);
    if (password === undefined) throw new EtcdError("INVALID_ARGUMENT", `--${pre}user needs a password (user:password or --${pre}password)`);
    out.auth = { username: colon >= 0 ? user.slice(0, colon) : user, password };
  }
  return out;
}

function list(text: string): string[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map((s) => (/^[a-z]+:\/\//.test(s) ? s : `http://${s}`));
}

function integer(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new EtcdError("INVALID_ARGUMENT", `${flag} must be a positive integer, got ${text}`);
  return n;
}
