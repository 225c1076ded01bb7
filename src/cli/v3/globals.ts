/**
 * etcdctl v3's global flags (cobra's persistent flags on the root), and how a run's settings are
 * made from them: flags first, then for every flag not given the `ETCDCTL_<FLAG>` variable
 * (`--dial-timeout` reads `ETCDCTL_DIAL_TIMEOUT`), as etcd's `flags.SetPflagsFromEnv` does. As in
 * etcdctl, a variable whose value does not parse is ignored, and the environment is read only by
 * commands that talk to the cluster.
 */
import { checkValue } from "./parse.js";
import { defaultOf, type FlagSpec } from "./spec.js";

export { API_VERSION, PROGRAM_NAME } from "./names.js";

/** The global flags, in etcdctl's order of definition (help sorts them). */
export const GLOBAL_FLAGS: readonly FlagSpec[] = [
  { name: "endpoints", kind: "stringSlice", defaultValue: "[127.0.0.1:2379]", usage: "gRPC endpoints" },
  { name: "debug", kind: "bool", defaultValue: "false", usage: "enable client-side debug logging" },
  { name: "write-out", short: "w", kind: "string", defaultValue: "simple", usage: "set the output format (fields, json, protobuf, simple, table)" },
  { name: "hex", kind: "bool", defaultValue: "false", usage: "print byte strings as hex encoded strings" },
  { name: "dial-timeout", kind: "duration", defaultValue: "2s", usage: "dial timeout for client connections" },
  { name: "command-timeout", kind: "duration", defaultValue: "5s", usage: "timeout for short running command (excluding dial timeout)" },
  { name: "keepalive-time", kind: "duration", defaultValue: "2s", usage: "keepalive time for client connections" },
  { name: "keepalive-timeout", kind: "duration", defaultValue: "6s", usage: "keepalive timeout for client connections" },
  { name: "insecure-transport", kind: "bool", defaultValue: "true", usage: "disable transport security for client connections" },
  { name: "insecure-discovery", kind: "bool", defaultValue: "true", usage: "accept insecure SRV records describing cluster endpoints" },
  {
    name: "insecure-skip-tls-verify",
    kind: "bool",
    defaultValue: "false",
    usage: "skip server certificate verification (CAUTION: this option should be enabled only for testing purposes)",
  },
  { name: "cert", kind: "string", defaultValue: "", usage: "identify secure client using this TLS certificate file" },
  { name: "key", kind: "string", defaultValue: "", usage: "identify secure client using this TLS key file" },
  { name: "cacert", kind: "string", defaultValue: "", usage: "verify certificates of TLS-enabled secure servers using this CA bundle" },
  { name: "user", kind: "string", defaultValue: "", usage: "username[:password] for authentication (prompt if password is not supplied)" },
  { name: "password", kind: "string", defaultValue: "", usage: "password for authentication (if this option is used, --user option shouldn't include password)" },
  { name: "discovery-srv", short: "d", kind: "string", defaultValue: "", usage: "domain name to query for SRV records describing cluster endpoints" },
  { name: "discovery-srv-name", kind: "string", defaultValue: "", usage: "service name to query when using DNS discovery" },
];

/** `--dial-timeout` → `ETCDCTL_DIAL_TIMEOUT` (etcd's `flags.FlagToEnv`). */
export function flagToEnv(name: string): string {
  return `ETCDCTL_${name.toUpperCase().replace(/-/g, "_")}`;
}

/**
 * The first global flag given on the command line whose `ETCDCTL_*` variable is set too, which
 * etcdctl refuses (a fatal log line, exit 1) rather than guess which one was meant.
 */
export function shadowedVariable(values: ReadonlyMap<string, string | readonly string[]>, env: Readonly<Record<string, string | undefined>>): string | undefined {
  return GLOBAL_FLAGS.map((flag) => flagToEnv(flag.name)).find((name, i) => values.has(GLOBAL_FLAGS[i]?.name ?? "") && env[name] !== undefined);
}

/**
 * The global flag values with the environment filled in: a flag given on the command line wins;
 * otherwise a non-empty `ETCDCTL_*` variable is used if it parses. Variables the command itself
 * sets aside (watch's ETCDCTL_WATCH_*) are not global flags and are not read here.
 */
export function withEnvironment(
  values: ReadonlyMap<string, string | readonly string[]>,
  env: Readonly<Record<string, string | undefined>>,
): Map<string, string | readonly string[]> {
  const merged = new Map(values);
  for (const flag of GLOBAL_FLAGS) {
    if (merged.has(flag.name)) continue;
    const text = env[flagToEnv(flag.name)];
    if (text === undefined || text === "") continue;
    if (flag.kind === "stringSlice") {
      merged.set(flag.name, text.split(","));
      continue;
    }
    const checked = checkValue(flag.kind, text);
    if ("ok" in checked) merged.set(flag.name, checked.ok);
  }
  return merged;
}

/** The `--debug` dump: every global flag as `ETCDCTL_X=value`, sorted by flag name, as etcdctl prints it. */
export function debugDump(values: ReadonlyMap<string, string | readonly string[]>): string {
  const sorted = [...GLOBAL_FLAGS].sort((a, b) => (a.name < b.name ? -1 : 1));
  return sorted.map((flag) => `${flagToEnv(flag.name)}=${shown(flag, values.get(flag.name) ?? defaultOf(flag))}\n`).join("");
}

function shown(flag: FlagSpec, value: string | readonly string[]): string {
  if (typeof value !== "string") return `[${value.join(",")}]`;
  return flag.kind === "duration" ? goDuration(Number(value)) : value;
}

/** Go's `time.Duration.String()` of a duration in milliseconds ("2s", "1m30s", "500ms", "0s"). */
export function goDuration(ms: number): string {
  const ns = BigInt(Math.round(ms * 1e6));
  if (ns === 0n) return "0s";
  const negative = ns < 0n;
  const abs = negative ? -ns : ns;
  const sign = negative ? "-" : "";
  if (abs < 1000n) return `${sign}${abs}ns`;
  if (abs < 1_000_000n) return `${sign}${fraction(abs, 1000n)}µs`;
  if (abs < 1_000_000_000n) return `${sign}${fraction(abs, 1_000_000n)}ms`;
  const hours = abs / 3_600_000_000_000n;
  const minutes = (abs / 60_000_000_000n) % 60n;
  const seconds = `${fraction(abs % 60_000_000_000n, 1_000_000_000n)}s`;
  if (hours > 0n) return `${sign}${hours}h${minutes}m${seconds}`;
  if (minutes > 0n) return `${sign}${minutes}m${seconds}`;
  return `${sign}${seconds}`;
}

function fraction(value: bigint, unit: bigint): string {
  const whole = value / unit;
  const rest = value % unit;
  if (rest === 0n) return whole.toString();
  const digits = rest.toString().padStart(unit.toString().length - 1, "0").replace(/0+$/, "");
  return `${whole}.${digits}`;
}
