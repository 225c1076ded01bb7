/**
 * The Go peer: etcd's official Go clients, the reference for speed, measured in the same
 * run as etcd-ts instead of quoted from another day. bench/go/etcdbench.go is built here with
 * Debian's Go (package golang-go) against the etcd 3.4.23 client sources Debian ships (package
 * golang-etcd-server-dev, the same release as the server), in GOPATH mode, so the build needs no
 * network and no module download. Without them the Go column is left out and the run says why.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

/** Where Debian's golang-go package puts the go command. */
export const GO = "/usr/bin/go";
/** Where Debian's Go library packages are installed: a GOPATH. */
const GOPATH = "/usr/share/gocode";
/** The Go source of the peer's benchmark child. */
const SOURCE = "bench/go";

/** The built child, or why there is none. */
export type GoPeer = { readonly ok: true; readonly binary: string } | { readonly ok: false; readonly reason: string };

/** Builds the Go peer into `dir` (the benchmark's build directory); a failed build is reported, not thrown. */
export function buildGo(dir: string): GoPeer {
  if (!existsSync(GO)) return { ok: false, reason: `${GO} not found (Debian package golang-go): the Go client column is left out` };
  if (!existsSync(join(GOPATH, "src/go.etcd.io/etcd/clientv3"))) {
    return { ok: false, reason: `etcd's Go client sources are not in ${GOPATH} (Debian package golang-etcd-server-dev): the Go client column is left out` };
  }
  const binary = resolve(dir, "etcdbench-go");
  // The compile cache sits beside the Node build cache, so later runs rebuild in about a second.
  const cache = resolve(dir, "..", "go-build");
  try {
    execFileSync(GO, ["build", "-o", binary, `./${SOURCE}`], {
      env: { ...process.env, GO111MODULE: "off", GOPATH, GOCACHE: cache, GOFLAGS: "", CGO_ENABLED: "0" },
      stdio: ["ignore", "ignore", "pipe"],
    });
  } catch (error) {
    const stderr = (error as { stderr?: unknown }).stderr;
    const text = stderr instanceof Buffer ? stderr.toString().trim().split("\n").slice(0, 3).join("; ") : String(error);
    return { ok: false, reason: `go build failed (${text}): the Go client column is left out` };
  }
  return { ok: true, binary };
}
