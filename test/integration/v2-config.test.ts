/**
 * Client configuration against a real 3-member cluster: saving and loading configs (ours and
 * go-etcd's), validation of options, and the options that change behaviour (requestTimeout,
 * checkRetry, logger, onEvent, a custom transport).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Agent, type Dispatcher } from "undici";
import { EtcdError, EtcdV2Client, type RetryContext } from "../../src/index.js";
import { freePorts } from "../harness/ports.js";
import { startCluster, type Cluster } from "../harness/index.js";
import { rejectsWith } from "./util.js";

const invalid = (e: unknown): boolean => e instanceof EtcdError && e.code === "INVALID_ARGUMENT";

describe("v2 client configuration on a 3-member cluster", () => {
  let cluster: Cluster;
  let deadUrl = "";
  const clients: EtcdV2Client[] = [];
  const track = (c: EtcdV2Client): EtcdV2Client => {
    clients.push(c);
    return c;
  };

  before(async () => {
    cluster = await startCluster({ size: 3, name: "v2config" });
    // A loopback port nobody listens on: connections are refused at once.
    deadUrl = `http://127.0.0.1:${(await freePorts(1))[0] ?? 1}`;
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await cluster.stop();
  });

  it("toConfig saves endpoints, consistency and timeouts, never credentials or hooks", () => {
    const c = track(new EtcdV2Client({
      endpoints: [cluster.clientUrl(0)],
      consistency: "weak",
      requestTimeout: 4_000,
      auth: { username: "root", password: "hunter2" },
      onCurl: () => undefined,
    }));
    const config = c.toConfig();
    assert.deepEqual(config, { endpoints: [cluster.clientUrl(0)], consistency: "weak", dialTimeout: 1000, keepAlive: 1000, requestTimeout: 4000 });
    assert.ok(!JSON.stringify(config).includes("hunter2"));
  });

  it("a saved config, as JSON or as an object, makes a working client with the synced members", async () => {
    const original = track(new EtcdV2Client({ endpoints: [cluster.clientUrl(1)], autoSync: 60_000 }));
    await original.sync();
    const saved = original.toConfig();
    assert.equal(saved.endpoints.length, 3);
    assert.equal(saved.autoSync, 60_000);
    for (const input of [JSON.stringify(saved), saved]) {
      const restored = track(EtcdV2Client.fromConfig(input));
      assert.deepEqual([...restored.endpoints].sort(), cluster.endpoints().sort());
      const key = `${cluster.prefix("config")}/k`;
      await restored.set(key, "restored");
      assert.equal((await restored.get(key)).node?.value, "restored");
    }
  });

  it("fromConfig takes what is never saved (auth, hooks) as a second argument", async () => {
    const lines: string[] = [];
    const c = track(EtcdV2Client.fromConfig({ endpoints: cluster.endpoints() }, { onCurl: (l) => lines.push(l), auth: { username: "u", password: "p" } }));
    await c.get("/");
    assert.match(lines[0] ?? "", /-u 'u:<redacted>'/);
  });

  it("fromConfig reads go-etcd's saved file (machines, consistency, timeout in ns)", async () => {
    const goEtcd = { config: { certFile: "", keyFile: "", caCertFiles: null, timeout: 1_000_000_000, consistency: "STRONG" }, cluster: { leader: "", machines: cluster.endpoints() } };
    const c = track(EtcdV2Client.fromConfig(JSON.stringify(goEtcd)));
    const config = c.toConfig();
    assert.equal(config.consistency, "strong");
    assert.equal(config.dialTimeout, 1000);
    assert.equal((await c.get("/")).node?.dir, true);
  });

  it("go-etcd's certificate file paths are refused: the library never reads files", () => {
    const goEtcd = { config: { certFile: "/etc/etcd/client.crt", keyFile: "/etc/etcd/client.key", caCertFiles: ["/etc/etcd/ca.crt"] }, cluster: { machines: cluster.endpoints() } };
    assert.throws(() => EtcdV2Client.fromConfig(goEtcd), (e) => invalid(e) && /contents/.test((e as Error).message));
  });

  it("bad configs and options are INVALID_ARGUMENT before anything is sent", () => {
    const bad: unknown[] = [
      "{not json",
      "[]",
      { endpoints: "http://127.0.0.1:2379" },
      { endpoints: ["ftp://127.0.0.1:2379"] },
      { endpoints: ["http://user:pw@127.0.0.1:2379"] },
      { endpoints: ["http://127.0.0.1:2379/prefix"] },
      { endpoints: cluster.endpoints(), consistency: "eventual" },
      { endpoints: cluster.endpoints(), requestTimeout: -1 },
      { endpoints: cluster.endpoints(), tls: { ca: 42 } },
      { config: {}, cluster: { machines: [] } },
    ];
    for (const config of bad) assert.throws(() => EtcdV2Client.fromConfig(config as object), invalid, JSON.stringify(config));
    assert.throws(() => new EtcdV2Client({ endpoints: cluster.endpoints(), dialTimeout: Number.NaN }), invalid);
    for (const name of ["suspectAfter", "probeTimeout", "healthInterval"]) {
      assert.throws(() => new EtcdV2Client({ endpoints: cluster.endpoints(), [name]: -1 }), (e: unknown) => invalid(e) && (e as Error).message.includes(name), name);
    }
    assert.throws(() => new EtcdV2Client({ endpoints: cluster.endpoints(), auth: { username: "u" } as never }), invalid);
  });

  it("requestTimeout bounds every call that does not pass its own timeout", async () => {
    const c = track(new EtcdV2Client({ endpoints: cluster.endpoints(), requestTimeout: 300 }));
    const started = Date.now();
    await rejectsWith(c.raw("GET", `/v2/keys${cluster.prefix("timeout")}`, { query: { wait: "true" } }), "TIMEOUT");
    assert.ok(Date.now() - started < 5_000);
  });

  it("checkRetry decides whether a failed attempt is repeated, and sees why it failed", async () => {
    const seen: RetryContext[] = [];
    const c = track(new EtcdV2Client({
      endpoints: [deadUrl],
      checkRetry: (context) => {
        seen.push(context);
        return context.attempt < 3 ? { retry: true, delay: 0 } : { retry: false };
      },
    }));
    const e = await c.get("/").then(() => assert.fail("resolved"), (error: unknown) => error);
    assert.ok(e instanceof EtcdError);
    assert.equal(seen.length, 3);
    assert.equal(seen[0]?.endpoint, deadUrl);
    assert.equal(seen[0].error.code, "UNAVAILABLE");
    assert.equal(seen[0].error.delivery, "unsent");
    assert.equal(seen[0].members, 1);
    assert.equal(seen[0].safe, true);
  });

  it("the logger and onEvent hear about members being chosen and set aside", async () => {
    const debug: string[] = [];
    const warn: string[] = [];
    const events: string[] = [];
    const c = track(new EtcdV2Client({
      endpoints: [deadUrl],
      logger: { debug: (m) => debug.push(m), warn: (m) => warn.push(m) },
      onEvent: (e) => events.push(e.type),
    }));
    await assert.rejects(c.get("/"));
    assert.ok(debug.some((m) => m.includes("member-chosen")), debug.join());
    assert.ok(warn.some((m) => m.includes("member-set-aside")), warn.join());
    assert.ok(events.includes("member-set-aside"));
  });

  it("a custom undici dispatcher carries the requests (go-etcd SetTransport)", async () => {
    let dispatched = 0;
    class CountingAgent extends Agent {
      override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
        dispatched++;
        return super.dispatch(options, handler);
      }
    }
    const agent = new CountingAgent();
    const c = track(new EtcdV2Client({ endpoints: cluster.endpoints(), transport: agent }));
    try {
      await c.get("/");
      assert.ok(dispatched >= 1);
    } finally {
      await c.close();
      await agent.close();
    }
  });
});
