/**
 * TLS against a real 3-member cluster that requires client certificates: server certificates are
 * verified by default, a client certificate is presented, and each missing piece fails clearly.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { EtcdError, EtcdV2Client, type EtcdV2ClientOptions, type TlsOptions } from "../../src/index.js";
import { startCluster, type Cluster, type ClusterTls } from "../harness/index.js";

/**
 * Asserts every member failed with `code`. A TLS failure happens before anything is sent, so the
 * engine tries each member and then reports UNAVAILABLE with the per-member errors.
 */
async function everyMemberFails(promise: Promise<unknown>, code: string): Promise<EtcdError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof EtcdError, String(error));
    const codes = error.errors.length === 0 ? [error.code] : error.errors.map((f) => f.code);
    assert.ok(codes.every((c) => c === code), `expected ${code} from every member, got ${error.code}: ${error.message}`);
    return error;
  }
  assert.fail(`expected a rejection with ${code}`);
}

describe("v2 over TLS with client-certificate auth on a 3-member cluster", () => {
  let cluster: Cluster;
  let tls: ClusterTls;
  const clients: EtcdV2Client[] = [];

  const client = (extra: Partial<EtcdV2ClientOptions> & { tls?: TlsOptions | undefined }): EtcdV2Client => {
    const c = new EtcdV2Client({ endpoints: cluster.endpoints(), requestTimeout: 5_000, ...extra });
    clients.push(c);
    return c;
  };

  before(async () => {
    cluster = await startCluster({ size: 3, clientCertAuth: true, name: "v2tls" });
    assert.ok(cluster.tls !== undefined);
    tls = cluster.tls;
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await cluster.stop();
  });

  it("with the CA and a client certificate every call works", async () => {
    const c = client({ tls: { ca: tls.ca, cert: tls.cert, key: tls.key } });
    const key = `${cluster.prefix("tls")}/k`;
    await c.set(key, "secure");
    assert.equal((await c.get(key)).node?.value, "secure");
    assert.equal((await c.health()).health, true);
    assert.equal((await c.members.list()).length, 3);
  });

  it("PEM material may be given as Buffers", async () => {
    const c = client({ tls: { ca: [Buffer.from(tls.ca)], cert: Buffer.from(tls.cert), key: Buffer.from(tls.key) } });
    assert.equal((await c.get("/")).node?.dir, true);
  });

  it("sync over TLS returns the members' https URLs", async () => {
    const c = new EtcdV2Client({ endpoints: [cluster.clientUrl(0)], tls: { ca: tls.ca, cert: tls.cert, key: tls.key } });
    clients.push(c);
    const synced = await c.sync();
    assert.deepEqual([...synced].sort(), cluster.endpoints().sort());
    assert.ok(synced.every((u) => u.startsWith("https://")));
  });

  it("server certificates are verified by default: without the CA it is TLS_ERROR", async () => {
    const c = client({ tls: { cert: tls.cert, key: tls.key } });
    const e = await everyMemberFails(c.get("/"), "TLS_ERROR");
    assert.match(e.message, /certificate/i);
    const plain = client({});
    await everyMemberFails(plain.get("/"), "TLS_ERROR");
  });

  it("verification can be turned off only on purpose", async () => {
    const c = client({ tls: { cert: tls.cert, key: tls.key, rejectUnauthorized: false } });
    assert.equal((await c.get("/")).node?.dir, true);
  });

  it("servername checks the certificate against another name", async () => {
    const good = client({ tls: { ca: tls.ca, cert: tls.cert, key: tls.key, servername: "localhost" } });
    assert.equal((await good.get("/")).node?.dir, true);
    const bad = client({ tls: { ca: tls.ca, cert: tls.cert, key: tls.key, servername: "wrong.example" } });
    const e = await everyMemberFails(bad.get("/"), "TLS_ERROR");
    assert.match(e.message, /wrong\.example/);
  });

  it("without a client certificate the members refuse the request", async () => {
    const c = client({ tls: { ca: tls.ca } });
    await assert.rejects(c.get("/"), (e) => e instanceof EtcdError && (e.code === "TLS_ERROR" || e.code === "UNAVAILABLE"));
  });

  it("plain http to a TLS port fails at once with UNAVAILABLE, not a hang or a parse crash", async () => {
    const c = client({ endpoints: cluster.endpoints().map((u) => u.replace("https://", "http://")) });
    const started = Date.now();
    await everyMemberFails(c.get("/"), "UNAVAILABLE");
    assert.ok(Date.now() - started < 4_000);
  });

  it("a saved config carries the certificate contents and connects again", async () => {
    const original = client({ tls: { ca: tls.ca, cert: tls.cert, key: tls.key } });
    const json = JSON.stringify(original.toConfig());
    assert.ok(json.includes("BEGIN CERTIFICATE") && !json.includes(tls.caPath));
    const restored = EtcdV2Client.fromConfig(json);
    clients.push(restored);
    assert.equal((await restored.get("/")).node?.dir, true);
  });
});
