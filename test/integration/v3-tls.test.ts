/**
 * The v3 client over TLS against real clusters: server certificates verified by default, a CA
 * that did not sign them fails at once with TLS_ERROR (never retried forever), client
 * certificates for members started with --client-cert-auth, and put/get/watch over TLS.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { EtcdError, EtcdV3Client, type EtcdV3ClientOptions } from "../../src/index.js";
import { generateTls } from "../harness/tls.js";
import { startCluster, type Cluster, type ClusterTls } from "../harness/index.js";

/** Asserts the call failed with `code` on every member (or as the single error). */
async function everyMemberFails(promise: Promise<unknown>, code: string): Promise<EtcdError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof EtcdError, String(error));
    const codes = error.errors.length === 0 ? [error.code] : error.errors.map((f) => f.code);
    assert.ok(codes.every((c) => c === code), `expected ${code} from every member, got ${error.code} [${codes.join(",")}]: ${error.message}`);
    return error;
  }
  assert.fail(`expected a rejection with ${code}`);
}

async function roundTrip(c: EtcdV3Client, key: string): Promise<void> {
  await c.put(key, "secure");
  assert.equal((await c.get(key)).kvs[0]?.value.toString(), "secure");
}

describe("v3 over TLS with client-certificate auth on a 3-member cluster", () => {
  let cluster: Cluster;
  let tls: ClusterTls;
  let otherCa = "";
  let otherDir = "";
  const clients: EtcdV3Client[] = [];

  const client = (extra: Partial<EtcdV3ClientOptions> = {}): EtcdV3Client => {
    const c = new EtcdV3Client({ endpoints: cluster.endpoints(), requestTimeout: 5_000, ...extra });
    clients.push(c);
    return c;
  };

  before(async () => {
    otherDir = mkdtempSync(join(tmpdir(), "etcd-ts-v3tls-other-"));
    [cluster, otherCa] = await Promise.all([
      startCluster({ size: 3, clientCertAuth: true, name: "v3tls" }),
      generateTls(otherDir).then((t) => t.ca),
    ]);
    assert.ok(cluster.tls !== undefined);
    tls = cluster.tls;
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await cluster.stop();
    rmSync(otherDir, { recursive: true, force: true });
  });

  it("with the CA and a client certificate put, get, txn and admin calls work", async () => {
    const c = client({ tls: { ca: tls.ca, cert: tls.cert, key: tls.key } });
    const key = `${cluster.prefix("tls")}/k`;
    await roundTrip(c, key);
    const txn = await c.txn({ compare: [{ key, target: "value", result: "==", value: "secure" }], success: [{ get: { key } }] });
    assert.equal(txn.succeeded, true);
    const { members } = await c.cluster.list();
    assert.equal(members.length, 3);
    assert.ok(members.every((m) => m.clientUrls.every((u) => u.startsWith("https://"))));
    const status = await c.maintenance.status(cluster.clientUrl(2));
    assert.ok(status.version.startsWith("3."));
  });

  it("a watch over TLS delivers events in order", async () => {
    const c = client({ tls: { ca: tls.ca, cert: tls.cert, key: tls.key } });
    const key = `${cluster.prefix("tlswatch")}/`;
    const controller = new AbortController();
    const seen: string[] = [];
    const done = (async () => {
      for await (const ev of c.watch(key, { prefix: true, signal: controller.signal })) {
        seen.push(`${ev.type}:${ev.kv.key.toString().slice(key.length)}:${ev.kv.value.toString()}`);
        if (seen.length === 3) return;
      }
    })();
    try {
      await new Promise((r) => setTimeout(r, 300));
      const first = await c.put(`${key}a`, "1");
      await c.put(`${key}b`, "2");
      await c.delete(`${key}a`);
      const timeout = setTimeout(() => {
        controller.abort();
      }, 10_000);
      await done.catch(() => undefined);
      clearTimeout(timeout);
      assert.deepEqual(seen, ["put:a:1", "put:b:2", "delete:a:"]);
      assert.ok(first.header.revision > 0n);
    } finally {
      controller.abort();
      await done.catch(() => undefined);
    }
  });

  it("PEM material may be given as Buffers", async () => {
    const c = client({ tls: { ca: [Buffer.from(tls.ca)], cert: Buffer.from(tls.cert), key: Buffer.from(tls.key) } });
    assert.equal((await c.get("/nothing-here")).count, 0n);
  });

  it("server certificates are verified by default: without the CA it is TLS_ERROR, at once", async () => {
    const c = client({ tls: { cert: tls.cert, key: tls.key } });
    const started = Date.now();
    const e = await everyMemberFails(c.get("/k"), "TLS_ERROR");
    assert.match(e.message, /certificate/i);
    assert.ok(Date.now() - started < 4_000, `took ${Date.now() - started} ms`);
  });

  it("a CA that did not sign the members' certificates is TLS_ERROR, not retried until the deadline", async () => {
    const c = client({ tls: { ca: otherCa, cert: tls.cert, key: tls.key }, requestTimeout: 20_000 });
    const started = Date.now();
    await everyMemberFails(c.get("/k"), "TLS_ERROR");
    // Well inside the 20 s deadline: the engine stopped after trying each member, it did not loop.
    assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
    // Writes are never sent either, so they fail the same way (not OUTCOME_UNKNOWN).
    await everyMemberFails(c.put("/k", "v"), "TLS_ERROR");
  });

  it("verification can be turned off only on purpose", async () => {
    const c = client({ tls: { cert: tls.cert, key: tls.key, rejectUnauthorized: false } });
    assert.equal((await c.get("/nothing-here")).count, 0n);
  });

  it("servername checks the certificate against another name", async () => {
    const good = client({ tls: { ca: tls.ca, cert: tls.cert, key: tls.key, servername: "localhost" } });
    assert.equal((await good.get("/nothing-here")).count, 0n);
    const bad = client({ tls: { ca: tls.ca, cert: tls.cert, key: tls.key, servername: "wrong.example" } });
    const e = await everyMemberFails(bad.get("/k"), "TLS_ERROR");
    assert.match(e.message, /wrong\.example/);
  });

  it("without a client certificate the members refuse the handshake: TLS_ERROR, at once", async () => {
    // Not in `clients`: its close() is the next test's subject.
    const c = new EtcdV3Client({ endpoints: cluster.endpoints(), requestTimeout: 8_000, tls: { ca: tls.ca } });
    try {
      const started = Date.now();
      await everyMemberFails(c.get("/k"), "TLS_ERROR");
      assert.ok(Date.now() - started < 3_000, `took ${Date.now() - started} ms`);
    } finally {
      void c.close();
    }
  });

  it("a client whose handshakes were refused still closes", async () => {
    const c = new EtcdV3Client({ endpoints: [cluster.clientUrl(0)], requestTimeout: 3_000, tls: { ca: tls.ca } });
    await assert.rejects(c.get("/k"));
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      c.close().then(() => "closed"),
      new Promise<string>((resolve) => (timer = setTimeout(() => { resolve("still closing after 3 s"); }, 3_000))),
    ]);
    clearTimeout(timer);
    assert.equal(outcome, "closed");
  });

  it("plain http to a TLS port fails at once, not a hang", async () => {
    const c = client({ endpoints: cluster.endpoints().map((u) => u.replace("https://", "http://")) });
    const started = Date.now();
    await assert.rejects(c.get("/k"), (e: unknown) => e instanceof EtcdError && e.code !== "TIMEOUT");
    assert.ok(Date.now() - started < 4_000, `took ${Date.now() - started} ms`);
  });
});

describe("v3 over TLS without client certificates on a 1-member cluster", () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster({ size: 1, tls: true, name: "v3tls1" });
  });
  after(async () => {
    await cluster.stop();
  });

  it("the CA alone is enough, and the member's https URL is used", async () => {
    assert.ok(cluster.tls !== undefined);
    const c = new EtcdV3Client({ endpoints: cluster.endpoints(), tls: { ca: cluster.tls.ca } });
    try {
      await roundTrip(c, `${cluster.prefix("ca-only")}/k`);
      assert.ok(c.currentEndpoint?.startsWith("https://127.0.0.1:"));
    } finally {
      await c.close();
    }
  });
});
