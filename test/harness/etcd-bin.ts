import { execFileSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

const NOT_FOUND =
  "etcd not found: install Debian's etcd-server package, or set ETCD_BIN to an etcd 3.4/3.5 binary";

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Finds an executable named `name` on PATH, then in the given fallback directories. */
export function findOnPath(name: string, fallbackDirs: readonly string[] = []): string | undefined {
  const dirs = [...(process.env["PATH"] ?? "").split(delimiter), ...fallbackDirs];
  for (const dir of dirs) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** Returns the etcd binary to use: $ETCD_BIN, then PATH, then /usr/bin/etcd; throws if none is executable. */
export function etcdBin(): string {
  const fromEnv = process.env["ETCD_BIN"];
  if (fromEnv !== undefined && fromEnv !== "") {
    // An explicit ETCD_BIN that is broken is a configuration mistake; falling back silently would hide it.
    if (isExecutable(fromEnv)) return fromEnv;
    throw new Error(`${NOT_FOUND} (ETCD_BIN=${fromEnv} is not an executable file)`);
  }
  const found = findOnPath("etcd") ?? (isExecutable("/usr/bin/etcd") ? "/usr/bin/etcd" : undefined);
  if (found === undefined) throw new Error(NOT_FOUND);
  return found;
}

let version: string | undefined;

/** The version of the etcd binary the harness runs ("3.4.23"), so tests of behaviour that differs between versions can name it. */
export function etcdVersion(): string {
  version ??= /etcd Version:\s*(\S+)/.exec(execFileSync(etcdBin(), ["--version"], { encoding: "utf8" }))?.[1] ?? "unknown";
  return version;
}
