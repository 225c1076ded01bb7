/**
 * One option check for both clients (src/options-check.ts): the same options are refused or
 * accepted by EtcdV2Client and EtcdV3Client alike, `host:port` endpoints become http URLs, and
 * setEndpoints replaces the list atomically (a bad list leaves the old one). Nothing is sent:
 * the endpoints are never contacted.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EtcdError, EtcdV2Client, EtcdV3Client } from "../../src/index.js";
import { checkEndpoints } from "../../src/options-check.js";

const invalid = (e: unknown): boolean => e instanceof EtcdError && e.code === "INVALID_ARGUMENT";
const BASE = { endpoints: ["http://127.0.0.1:1"] };

/** Builds each client with `options`; returns which ones refused them. */
function refusals(options: Record<string, unknown>): boolean[] {
  return [EtcdV2Client, EtcdV3Client].map((Client) => {
    try {
      void new Client({ ...BASE, ...options }).close();
      return false;
    } catch (error) {
      assert.ok(invalid(error), String(error));
      return true;
    }
  });
}

describe("option checks shared by both clients", () => {
  it("both clients refuse and accept the same options (they had drifted: v2 took probeTimeout 0)", () => {
    const refused: Record<string, unknown>[] = [
      { probeTimeout: 0 },
      { suspectAfter: 0 },
      { healthInterval: 0 },
      { dialTimeout: 0 },
      { dialTimeout: -1 },
      { requestTimeout: -5 },
      { keepAlive: Number.NaN },
      { autoSync: Number.POSITIVE_INFINITY },
      { maxResponseBytes: 0 },
      { consistency: "eventual" },
      { auth: { username: "u" } },
      { tls: "yes" },
      { onEvent: "log" },
      { endpoints: [] },
      { endpoints: ["ftp://127.0.0.1:2379"] },
      { endpoints: ["http://user:pw@127.0.0.1:2379"] },
      { endpoints: ["http://127.0.0.1:2379/v2"] },
      { endpoints: ["127.0.0.1:2379?x=1"] },
      { endpoints: [42] },
    ];
    for (const options of refused) assert.deepEqual(refusals(options), [true, true], JSON.stringify(options));
    const accepted: Record<string, unknown>[] = [{ requestTimeout: 0 }, { autoSync: 0 }, { keepAlive: 0 }, { probeTimeout: 50 }, { endpoints: ["127.0.0.1:2379", "https://[::1]:2379/"] }];
    for (const options of accepted) assert.deepEqual(refusals(options), [false, false], JSON.stringify(options));
  });

  it("host:port endpoints (as etcdctl takes them) become http:// URLs, in both clients", async () => {
    assert.deepEqual(checkEndpoints(["127.0.0.1:2379", "localhost:4001", "[::1]:2379", "https://e.example:2379/"]), [
      "http://127.0.0.1:2379",
      "http://localhost:4001",
      "http://[::1]:2379",
      "https://e.example:2379",
    ]);
    const v2 = new EtcdV2Client({ endpoints: ["127.0.0.1:2379"] });
    const v3 = new EtcdV3Client({ endpoints: ["127.0.0.1:2379"] });
    assert.deepEqual(v2.endpoints, ["http://127.0.0.1:2379"]);
    assert.deepEqual(v3.endpoints, ["http://127.0.0.1:2379"]);
    await Promise.all([v2.close(), v3.close()]);
  });

  it("setEndpoints replaces the list on both clients; a bad list is refused and the old one stays", async () => {
    for (const client of [new EtcdV2Client({ endpoints: ["http://127.0.0.1:1"] }), new EtcdV3Client({ endpoints: ["http://127.0.0.1:1"] })]) {
      client.setEndpoints(["127.0.0.1:2", "http://127.0.0.1:3"]);
      assert.deepEqual([...client.endpoints].sort(), ["http://127.0.0.1:2", "http://127.0.0.1:3"]);
      assert.throws(() => {
        client.setEndpoints(["http://127.0.0.1:4", "ftp://x"]);
      }, invalid);
      assert.throws(() => {
        client.setEndpoints([]);
      }, invalid);
      assert.deepEqual([...client.endpoints].sort(), ["http://127.0.0.1:2", "http://127.0.0.1:3"]);
      await client.close();
    }
  });
});
