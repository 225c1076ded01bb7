import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { request, RequestError, startCluster, type Cluster } from "../harness/index.js";

/** v2 write through the plain-HTTP API. */
async function put(url: string, key: string, value: string): Promise<Response> {
  return fetch(`${url}/v2/keys${key}`, {
    method: "PUT",
    body: new URLSearchParams({ value }),
    signal: AbortSignal.timeout(5_000),
  });
}

/** Linearizable v2 read: a plain GET on a follower may not have applied a write it just saw commit. */
async function getValue(url: string, key: string): Promise<string | undefined> {
  const res = await fetch(`${url}/v2/keys${key}?quorum=true`, { signal: AbortSignal.timeout(5_000) });
  if (res.status !== 200) return undefined;
  return ((await res.json()) as { node?: { value?: string } }).node?.value;
}

function codeOf(err: unknown): string | undefined {
  return err instanceof RequestError ? err.code : undefined;
}

describe("a plain 3-member cluster", () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ size: 3 });
  });
  after(async () => {
    await cluster.stop();
  });

  it("becomes healthy with a leader within 5 s of starting", async (t) => {
    t.diagnostic(`3-member start-up took ${cluster.startupMs} ms`);
    // The goal is < 5 s on an idle machine; the assertion is loose because the machine is shared.
    assert.ok(cluster.startupMs < 15_000, `start-up took ${cluster.startupMs} ms`);
    for (const m of cluster.members) assert.equal(await m.healthy(), true, `${m.name} is not healthy`);
    const leader = await cluster.leader();
    assert.ok(leader >= 0 && leader < 3);
  });

  it("lists one distinct loopback endpoint per member, each serving the v2 API", async () => {
    const endpoints = cluster.endpoints();
    assert.equal(endpoints.length, 3);
    assert.equal(new Set(endpoints).size, 3);
    const key = `${cluster.prefix("endpoints")}/k`;
    for (const [i, url] of endpoints.entries()) {
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(url, cluster.clientUrl(i));
      assert.match(cluster.peerUrl(i), /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal((await put(url, key, `v${i}`)).status, i === 0 ? 201 : 200);
    }
    assert.equal(await getValue(endpoints[0]!, key), "v2");
  });

  it("hands out a distinct key prefix per caller, so tests can share a cluster", async () => {
    const a = cluster.prefix("same");
    const b = cluster.prefix("same");
    assert.notEqual(a, b);
    assert.match(a, /^\/t-[0-9a-f]{8}-same$/);
    assert.equal((await put(cluster.clientUrl(0), `${a}/k`, "a")).status, 201);
    assert.equal(await getValue(cluster.clientUrl(0), `${b}/k`), undefined);
  });

  it("stop() kills every member and is idempotent", async () => {
    const spare = await startCluster({ size: 1 });
    const pid = spare.members[0]!.pid!;
    await spare.stop();
    await spare.stop();
    assert.equal(spare.members[0]!.running, false);
    assert.throws(() => process.kill(pid, 0), { code: "ESRCH" });
  });
});

describe("a TLS cluster", () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ size: 1, tls: true });
  });
  after(async () => {
    await cluster.stop();
  });

  it("serves https with a certificate clients reject unless they trust the generated CA", async () => {
    const url = `${cluster.clientUrl(0)}/version`;
    assert.match(url, /^https:/);
    const err = await request(url, { timeoutMs: 5_000 }).then(() => undefined, (e: unknown) => e);
    assert.ok(
      ["SELF_SIGNED_CERT_IN_CHAIN", "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "DEPTH_ZERO_SELF_SIGNED_CERT"].includes(codeOf(err) ?? ""),
      `expected a verification error, got ${String(err)}`,
    );
    const ok = await request(url, { timeoutMs: 5_000, tls: { ca: cluster.tls!.ca } });
    assert.equal(ok.status, 200);
  });

  it("exposes the CA and client certificate as PEM text and as files", async () => {
    const { readFile } = await import("node:fs/promises");
    const tls = cluster.tls!;
    assert.match(tls.ca, /BEGIN CERTIFICATE/);
    assert.match(tls.cert, /BEGIN CERTIFICATE/);
    assert.match(tls.key, /PRIVATE KEY/);
    assert.equal(await readFile(tls.caPath, "utf8"), tls.ca);
    assert.equal(await readFile(tls.certPath, "utf8"), tls.cert);
    assert.equal(await readFile(tls.keyPath, "utf8"), tls.key);
  });
});

describe("a TLS cluster with client-certificate auth", () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ size: 1, clientCertAuth: true });
  });
  after(async () => {
    await cluster.stop();
  });

  it("refuses a client that trusts the CA but presents no certificate", async () => {
    const tls = cluster.tls!;
    const url = `${cluster.clientUrl(0)}/version`;
    await assert.rejects(request(url, { timeoutMs: 5_000, tls: { ca: tls.ca } }), RequestError);
    const ok = await request(url, { timeoutMs: 5_000, tls: { ca: tls.ca, cert: tls.cert, key: tls.key } });
    assert.equal(ok.status, 200);
  });
});

describe("a cluster with v2 auth", () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ size: 1, auth: true, rootPassword: "s3cret" });
  });
  after(async () => {
    await cluster.stop();
  });

  it("has auth enabled with the requested root password", async () => {
    assert.equal(cluster.rootPassword, "s3cret");
    const res = await request(`${cluster.clientUrl(0)}/v2/auth/enable`, { timeoutMs: 5_000 });
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), { enabled: true });
  });

  it("rejects a wrong root password with 401 and accepts the right one", async () => {
    const url = `${cluster.clientUrl(0)}/v2/auth/users`;
    const bad = await request(url, { timeoutMs: 5_000, auth: { user: "root", password: "wrong" } });
    assert.equal(bad.status, 401);
    const good = await request(url, { timeoutMs: 5_000, auth: { user: "root", password: "s3cret" } });
    assert.equal(good.status, 200, good.body);
    assert.match(good.body, /"root"/);
  });
});
