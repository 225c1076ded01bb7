/**
 * Replies a real etcd never sends but a proxy, a crash or a cut connection can: HTML error
 * pages, empty and truncated bodies, raft errors on demand. A scripted node:http server on
 * 127.0.0.1 plays the member; each test queues the replies it wants, in order.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, it } from "node:test";
import { EtcdError, EtcdV2Client } from "../../src/index.js";
import { rejectsWith } from "./util.js";

type Reply = (res: ServerResponse) => void;

const GOOD = { action: "get", node: { key: "/k", value: "v", modifiedIndex: 5, createdIndex: 5 } };
const HTML_502 = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>";

function json(status: number, body: unknown, headers: Record<string, string> = { "x-etcd-index": "5", "x-raft-term": "2" }): Reply {
  return (res) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
    res.end(text);
  };
}

function text(status: number, body: string, type = "text/html"): Reply {
  return (res) => {
    res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
    res.end(body);
  };
}

/** A member that answers /health and /version itself and everything else from the script. */
class ScriptedMember {
  readonly seen: string[] = [];
  private readonly script: Reply[] = [];
  private server: Server | undefined;
  url = "";
  healthy = true;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res);
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Queues replies for the next requests (health probes excepted). */
  queue(...replies: Reply[]): void {
    this.script.push(...replies);
  }

  reset(): void {
    this.seen.length = 0;
    this.script.length = 0;
    this.healthy = true;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    const url = req.url ?? "/";
    if (url === "/health") {
      json(this.healthy ? 200 : 503, { health: String(this.healthy) }, {})(res);
      return;
    }
    if (url === "/version") {
      json(200, { etcdserver: "3.4.23", etcdcluster: "3.4.0" }, {})(res);
      return;
    }
    this.seen.push(`${req.method ?? "?"} ${url}`);
    (this.script.shift() ?? json(200, GOOD))(res);
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => { resolve(); }));
  }
}

/** The codes along an error's chain: itself, its per-attempt errors and its causes. */
function chain(error: EtcdError): string[] {
  const codes = [error.code, ...error.errors.map((e) => e.code)];
  return error.cause instanceof EtcdError ? [...codes, ...chain(error.cause)] : codes;
}

describe("v2 replies that are not what etcd sends (scripted server)", () => {
  const member = new ScriptedMember();
  let client: EtcdV2Client;

  before(async () => {
    await member.start();
    client = new EtcdV2Client({ endpoints: [member.url], requestTimeout: 5_000 });
  });
  beforeEach(() => {
    member.reset();
  });
  after(async () => {
    await client.close();
    await member.stop();
  });

  it("a proxy's HTML 502 on a read is a member failure: the read is sent again and the next answer used", async () => {
    member.queue(text(502, HTML_502));
    const res = await client.get("/k");
    assert.equal(res.node?.value, "v");
    assert.equal(member.seen.length, 2);
  });

  it("a proxy's HTML 502 on a create is not repeated and reports OUTCOME_UNKNOWN", async () => {
    member.queue(text(502, HTML_502));
    const e = await rejectsWith(client.create("/k", "v"), "OUTCOME_UNKNOWN");
    const first = e.errors[0];
    assert.equal(first?.code, "UNEXPECTED_STATUS");
    assert.equal(first.status, 502);
    assert.match(first.message, /502 Bad Gateway/);
    assert.equal(member.seen.length, 1);
  });

  it("a 502 on every attempt of a read ends with the 502s, after the allowed attempts", async () => {
    member.queue(text(502, HTML_502), text(502, HTML_502), text(502, HTML_502));
    const e = await client.get("/k").then(() => assert.fail("resolved"), (error: unknown) => error);
    assert.ok(e instanceof EtcdError);
    assert.ok(chain(e).includes("UNEXPECTED_STATUS"), chain(e).join(","));
    assert.equal(member.seen.length, 2);
  });

  it("an empty 200 is EMPTY_RESPONSE: a read is sent again, a write (even a set) is not", async () => {
    member.queue(text(200, "", "application/json"));
    assert.equal((await client.get("/k")).node?.value, "v");
    assert.equal(member.seen.length, 2);
    member.reset();
    // The member answered, so the set may have been applied; a second copy could land after
    // another client's write (docs/retries.md), so the caller is told instead.
    member.queue(text(200, "", "application/json"));
    const set = await rejectsWith(client.set("/k", "v"), "OUTCOME_UNKNOWN");
    assert.equal(set.errors[0]?.code, "EMPTY_RESPONSE");
    assert.equal(member.seen.length, 1);
    member.reset();
    member.queue(text(200, "", "application/json"));
    const e = await rejectsWith(client.create("/k", "v"), "OUTCOME_UNKNOWN");
    assert.equal(e.errors[0]?.code, "EMPTY_RESPONSE");
    assert.equal(member.seen.length, 1);
  });

  it("a body cut off mid-way is MALFORMED_RESPONSE, and a read is sent again", async () => {
    member.queue(text(200, '{"action":"get","node":{"key":"/k","val', "application/json"));
    assert.equal((await client.get("/k")).node?.value, "v");
    member.reset();
    member.queue(text(200, '{"action":"get","node":{"key":"/k","val', "application/json"));
    const e = await rejectsWith(client.compareAndSwap("/k", "v", { prevValue: "u" }), "OUTCOME_UNKNOWN");
    assert.equal(e.errors[0]?.code, "MALFORMED_RESPONSE");
  });

  it("a connection closed before the promised body arrives is a member failure", async () => {
    member.queue((res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": "500" });
      res.write('{"action":"get"');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    assert.equal((await client.get("/k")).node?.value, "v");
    assert.equal(member.seen.length, 2);
  });

  it("a 200 holding a proxy's HTML page, or JSON of another shape, is MALFORMED_RESPONSE", async () => {
    member.queue(text(200, "<html>maintenance</html>"), text(200, "<html>maintenance</html>"));
    const html = await client.get("/k").then(() => assert.fail("resolved"), (error: unknown) => error);
    assert.ok(html instanceof EtcdError && chain(html).includes("MALFORMED_RESPONSE"));
    member.reset();
    member.queue(json(200, { hello: "world" }), json(200, { hello: "world" }));
    const shape = await client.get("/k").then(() => assert.fail("resolved"), (error: unknown) => error);
    assert.ok(shape instanceof EtcdError && chain(shape).includes("MALFORMED_RESPONSE"));
  });

  it('raft error 300 "proposal dropped" was never applied, so even a create is sent again', async () => {
    member.queue(json(500, { errorCode: 300, message: "Raft Internal Error", cause: "raft proposal dropped", index: 0 }, {}));
    assert.equal((await client.create("/k", "v")).node?.value, "v");
    assert.equal(member.seen.length, 2);
  });

  it("raft error 300 after a timeout may still apply: a create is not repeated", async () => {
    member.queue(json(500, { errorCode: 300, message: "Raft Internal Error", cause: "etcdserver: request timed out", index: 0 }, {}));
    const e = await rejectsWith(client.create("/k", "v"), "OUTCOME_UNKNOWN");
    const raft = e.errors[0];
    assert.equal(raft?.code, "RAFT_INTERNAL");
    assert.equal(raft.errorCode, 300);
    assert.equal(raft.serverCause, "etcdserver: request timed out");
    assert.equal(member.seen.length, 1);
  });

  it("error 301 (leader election) on a read is retried", async () => {
    member.queue(json(500, { errorCode: 301, message: "During Leader Election", cause: "", index: 0 }, {}));
    assert.equal((await client.get("/k")).node?.value, "v");
    assert.equal(member.seen.length, 2);
  });

  it("members.leader during an election (503) is LEADER_ELECT and retried", async () => {
    member.queue(json(503, { message: "During election" }, {}), json(200, { id: "a1", name: "m", peerURLs: ["http://p:2380"], clientURLs: [member.url] }, {}));
    assert.equal((await client.members.leader()).id, "a1");
    member.reset();
    member.queue(json(503, { message: "During election" }, {}), json(503, { message: "During election" }, {}));
    const e = await client.members.leader().then(() => assert.fail("resolved"), (error: unknown) => error);
    assert.ok(e instanceof EtcdError && chain(e).includes("LEADER_ELECT"));
  });

  it("health reports an unhealthy member (503) as a result, not an error", async () => {
    member.healthy = false;
    assert.deepEqual(await client.health(), { health: false, endpoint: member.url });
  });

  it("sync falls back to the legacy /v2/machines when /v2/members is missing", async () => {
    const syncer = new EtcdV2Client({ endpoints: [member.url] });
    try {
      member.queue(text(404, "404 page not found\n", "text/plain"), text(200, `${member.url}, http://127.0.0.1:1`, "text/plain"));
      assert.deepEqual([...(await syncer.sync())].sort(), [member.url, "http://127.0.0.1:1"].sort());
      assert.deepEqual(member.seen, ["GET /v2/members", "GET /v2/machines"]);
    } finally {
      await syncer.close();
    }
  });
});
