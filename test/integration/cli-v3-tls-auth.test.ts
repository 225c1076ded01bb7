/**
 * etcd-ts against `ETCDCTL_API=3 etcdctl` with the security flags: a member that requires client
 * certificates (--cacert/--cert/--key, their ETCDCTL_* variables, untrusted and unreadable
 * files) and a cluster with v3 auth on (--user name:password, --user with --password, a wrong
 * password, no credentials, the password asked for on stdin).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startCluster, type Cluster } from "../harness/index.js";
import { NO_ETCDCTL, normalize, runEtcdctl, runOurs, type Outcome, type RunOptions } from "./cli-v3-kit.js";

async function same(args: readonly string[], options: RunOptions = {}): Promise<Outcome> {
  const [theirs, ours] = await Promise.all([runEtcdctl(args, options), runOurs(args, options)]);
  assert.deepEqual(normalize(ours, {}), normalize(theirs, {}), args.join(" "));
  return ours;
}

describe("etcd-ts prints what etcdctl v3 prints: TLS", { skip: NO_ETCDCTL }, () => {
  let cluster: Cluster;
  let files: { ca: string; cert: string; key: string };
  let prefix: string;
  let ep: string;

  before(async () => {
    cluster = await startCluster({ size: 1, clientCertAuth: true, name: "cli-v3-tls" });
    const tls = cluster.tls;
    assert.ok(tls !== undefined);
    files = { ca: tls.caPath, cert: tls.certPath, key: tls.keyPath };
    prefix = cluster.prefix("tls");
    ep = cluster.clientUrl(0);
  });
  after(() => cluster.stop());

  it("--cacert, --cert and --key, and their ETCDCTL_* variables", async () => {
    const flags = ["--endpoints", ep, "--cacert", files.ca, "--cert", files.cert, "--key", files.key];
    await same([...flags, "put", `${prefix}/x`, "secure"]);
    assert.equal((await same([...flags, "get", `${prefix}/x`])).stdout, `${prefix}/x\nsecure\n`);
    const env = { ETCDCTL_CACERT: files.ca, ETCDCTL_CERT: files.cert, ETCDCTL_KEY: files.key };
    assert.equal((await same(["--endpoints", ep, "get", `${prefix}/x`], { env })).code, 0);
    // A bare host:port with TLS configured is dialled over TLS.
    await same(["--endpoints", ep.replace(/^https:\/\//, ""), "--cacert", files.ca, "--cert", files.cert, "--key", files.key, "get", `${prefix}/x`]);
  });

  it("unreadable files and empty file names are refused before dialling, exit 128", async () => {
    assert.equal((await same(["--endpoints", ep, "--cacert", "/nonexistent/ca.pem", "get", `${prefix}/x`])).code, 128);
    assert.equal((await same(["--endpoints", ep, "--key=", "get", `${prefix}/x`])).code, 128);
  });

  it("an untrusted server certificate ends in 'context deadline exceeded', exit 1", async () => {
    const args = ["--endpoints", ep, "--command-timeout", "1s", "--insecure-transport=false", "get", `${prefix}/x`];
    const [theirs, ours] = await Promise.all([runEtcdctl(args), runOurs(args)]);
    assert.deepEqual({ stderr: normalize(ours, {}).stderr, code: ours.code }, { stderr: normalize(theirs, {}).stderr, code: theirs.code });
  });
});

describe("etcd-ts prints what etcdctl v3 prints: auth", { skip: NO_ETCDCTL }, () => {
  let cluster: Cluster;
  let ep: string;
  let prefix: string;

  before(async () => {
    cluster = await startCluster({ size: 1, v3Auth: true, name: "cli-v3-auth" });
    ep = cluster.clientUrl(0);
    prefix = cluster.prefix("auth");
  });
  after(() => cluster.stop());

  it("--user name:password, --user with --password, and the password read from stdin", async () => {
    const pw = cluster.rootPassword ?? "rootpw";
    await same(["--endpoints", ep, "--user", `root:${pw}`, "put", `${prefix}/k`, "v"]);
    assert.equal((await same(["--endpoints", ep, "--user", "root", "--password", pw, "get", `${prefix}/k`])).stdout, `${prefix}/k\nv\n`);
    const ours = await runOurs(["--endpoints", ep, "--user", "root", "get", `${prefix}/k`], { stdin: `${pw}\n` });
    assert.deepEqual(ours, { stdout: `${prefix}/k\nv\n`, stderr: "", code: 0 });
  });

  it("a wrong password and no credentials fail with etcd's own texts", async () => {
    // clientv3 authenticates while it is created: a refused password is a failure to connect (2).
    assert.equal((await same(["--endpoints", ep, "--user", "root:wrong", "get", `${prefix}/k`])).code, 2);
    assert.equal((await same(["--endpoints", ep, "get", `${prefix}/k`])).code, 1);
  });
});
