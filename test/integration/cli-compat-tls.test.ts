/**
 * etcd-ts against `ETCDCTL_API=2 etcdctl` on a member that requires client certificates: the
 * TLS flags, their ETCDCTL_* variables, and the errors for missing or untrusted certificates.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startCluster, type Cluster } from "../harness/index.js";
import { NO_ETCDCTL, runEtcdctl, runOurs, type Outcome, type RunOptions } from "./cli-kit.js";

describe("etcd-ts prints what etcdctl v2 prints: TLS", { skip: NO_ETCDCTL }, () => {
  let cluster: Cluster;
  let files: { ca: string; cert: string; key: string };
  let prefix: string;

  before(async () => {
    cluster = await startCluster({ size: 1, clientCertAuth: true, name: "cli-tls" });
    const tls = cluster.tls;
    assert.ok(tls !== undefined);
    files = { ca: tls.caPath, cert: tls.certPath, key: tls.keyPath };
    prefix = cluster.prefix("tls");
  });
  after(() => cluster.stop());

  async function same(args: readonly string[], options: RunOptions = {}): Promise<Outcome> {
    const full = ["--endpoints", cluster.clientUrl(0), ...args];
    const theirs = await runEtcdctl(full, options);
    const ours = await runOurs(full, options);
    assert.deepEqual(ours, theirs, args.join(" "));
    return ours;
  }

  it("--ca-file, --cert-file and --key-file", async () => {
    const flags = ["--ca-file", files.ca, "--cert-file", files.cert, "--key-file", files.key];
    await same([...flags, "set", `${prefix}/x`, "secure"]);
    assert.equal((await same([...flags, "-o", "json", "get", `${prefix}/x`])).code, 0);
    await same([...flags, "cluster-health"]);
  });

  it("ETCDCTL_CA_FILE, ETCDCTL_CERT_FILE and ETCDCTL_KEY_FILE", async () => {
    await runEtcdctl(["--endpoints", cluster.clientUrl(0), "--ca-file", files.ca, "--cert-file", files.cert, "--key-file", files.key, "set", `${prefix}/env`, "v"]);
    const env = { ETCDCTL_CA_FILE: files.ca, ETCDCTL_CERT_FILE: files.cert, ETCDCTL_KEY_FILE: files.key };
    assert.equal((await same(["get", `${prefix}/env`], { env })).stdout, "v\n");
  });

  it("an untrusted server certificate, an unreadable file, a certificate without its key", async () => {
    assert.equal((await same(["get", `${prefix}/x`])).code, 4);
    await same(["--ca-file", "/nonexistent/ca.crt", "get", `${prefix}/x`]);
    await same(["--ca-file", files.ca, "--cert-file", files.cert, "get", `${prefix}/x`]);
  });

  it("deliberate difference: a refused client certificate reads as Node reports it", async () => {
    const ours = await runOurs(["--endpoints", cluster.clientUrl(0), "--ca-file", files.ca, "get", `${prefix}/x`]);
    assert.notEqual(ours.code, 0);
    assert.match(ours.stderr, /^Error: {2}client: etcd cluster is unavailable or misconfigured; error #0: /);
  });
});
