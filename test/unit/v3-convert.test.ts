/**
 * The v3 argument conversions, without a server: range ends for prefixes (0xff bytes included),
 * option checks, transaction requests (nested, every compare target and result) as they go on
 * the wire, and a client that refuses bad calls with INVALID_ARGUMENT before opening a socket.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { after, before, describe, it } from "node:test";
import { EtcdError } from "../../src/errors.js";
import {
  deleteRequest,
  prefixEnd,
  putRequest,
  rangeEndOf,
  rangeRequest,
  toBytes,
  toInt64,
  toKey,
  txnReadsOnly,
  txnRequest,
  txnServedLocally,
} from "../../src/v3/convert.js";
import { EtcdV3Client } from "../../src/v3/client.js";
import { RangeRequest, TxnRequest } from "../../src/v3/gen/etcdserverpb.js";
import type { EtcdV3ClientOptions, TxnSpec } from "../../src/v3/types.js";

const hex = (b: Buffer): string => b.toString("hex");
const bytes = (...b: number[]): Buffer => Buffer.from(b);

/** Asserts that `fn` throws INVALID_ARGUMENT whose message matches `message`. */
function refuses(fn: () => unknown, message?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof EtcdError, `not an EtcdError: ${String(error)}`);
    assert.equal(error.code, "INVALID_ARGUMENT");
    assert.equal(error.delivery, undefined, "an argument error is never a member failure");
    if (message !== undefined) assert.match(error.message, message);
    return true;
  });
}

describe("prefixEnd", () => {
  it("increments the last byte", () => {
    assert.equal(prefixEnd(Buffer.from("a/")).toString(), "a0");
    assert.equal(prefixEnd(Buffer.from("abc")).toString(), "abd");
  });
  it("drops trailing 0xff bytes and increments the byte before them", () => {
    assert.equal(hex(prefixEnd(bytes(0x61, 0xff))), "62");
    assert.equal(hex(prefixEnd(bytes(0x01, 0xfe, 0xff, 0xff))), "01ff");
    assert.equal(hex(prefixEnd(bytes(0x00))), "01");
  });
  it("is \\0 (every key from the start key on) when every byte is 0xff", () => {
    assert.equal(hex(prefixEnd(bytes(0xff))), "00");
    assert.equal(hex(prefixEnd(bytes(0xff, 0xff, 0xff))), "00");
  });
  it("leaves its input alone and never hands out a shared buffer", () => {
    const key = bytes(0x61, 0xff);
    prefixEnd(key);
    assert.equal(hex(key), "61ff");
    const a = prefixEnd(bytes(0xff));
    a[0] = 9;
    assert.equal(hex(prefixEnd(bytes(0xff))), "00");
  });
  it("covers exactly the keys with the prefix", () => {
    const prefix = bytes(0x70, 0xff);
    const end = prefixEnd(prefix);
    const inside = [bytes(0x70, 0xff), bytes(0x70, 0xff, 0x00), bytes(0x70, 0xff, 0xff, 0xff)];
    const outside = [bytes(0x70, 0xfe, 0xff), bytes(0x71), bytes(0x71, 0x00)];
    for (const k of inside) assert.ok(Buffer.compare(k, prefix) >= 0 && Buffer.compare(k, end) < 0, hex(k));
    for (const k of outside) assert.ok(!(Buffer.compare(k, prefix) >= 0 && Buffer.compare(k, end) < 0), hex(k));
  });
});

describe("keys, values and integers", () => {
  it("takes strings as UTF-8 and Uint8Array views without copying the wrong bytes", () => {
    assert.equal(hex(toBytes("é", "value")), "c3a9");
    const backing = new Uint8Array([1, 2, 3, 4, 5]);
    assert.equal(hex(toBytes(backing.subarray(1, 3), "value")), "0203");
    assert.equal(hex(toKey(bytes(0xff, 0xfe))), "fffe");
  });
  it("refuses empty keys and keys of the wrong type", () => {
    refuses(() => toKey(""), /must not be empty/);
    refuses(() => toKey(Buffer.alloc(0)));
    refuses(() => toKey(42 as unknown as string), /string or bytes/);
    refuses(() => toBytes(null as unknown as string, "value"));
  });
  it("keeps 64-bit integers exact and refuses what is not one", () => {
    assert.equal(toInt64(0x7fffffffffffffffn, "revision"), 0x7fffffffffffffffn);
    assert.equal(toInt64(12, "revision"), 12n);
    assert.equal(toInt64(undefined, "revision"), 0n);
    refuses(() => toInt64(-1, "revision"), /between 0/);
    refuses(() => toInt64(1.5, "revision"), /integer/);
    refuses(() => toInt64(Number.NaN, "revision"));
    refuses(() => toInt64(2 ** 53 + 2, "limit"), /integer/);
    refuses(() => toInt64(0x8000000000000000n, "lease"), /2\^63-1/);
    refuses(() => toInt64("5" as unknown as number, "limit"));
  });
});

describe("range, put and delete requests", () => {
  it("maps every get option to the RangeRequest field etcd reads", () => {
    const r = rangeRequest(
      "k",
      {
        rangeEnd: "z",
        limit: 7,
        revision: 9n,
        sortOrder: "descend",
        sortTarget: "mod",
        keysOnly: true,
        countOnly: true,
        minModRevision: 1,
        maxModRevision: 2n,
        minCreateRevision: 3,
        maxCreateRevision: 4n,
      },
      false,
    );
    const wire = RangeRequest.decode(RangeRequest.encode(r).finish());
    assert.deepEqual(
      { ...wire, key: wire.key.toString(), rangeEnd: wire.rangeEnd.toString() },
      {
        key: "k",
        rangeEnd: "z",
        limit: 7n,
        revision: 9n,
        sortOrder: 2,
        sortTarget: 3,
        serializable: false,
        keysOnly: true,
        countOnly: true,
        minModRevision: 1n,
        maxModRevision: 2n,
        minCreateRevision: 3n,
        maxCreateRevision: 4n,
      },
    );
  });
  it("numbers sort orders and targets as etcd's enums do", () => {
    const order = (o: "none" | "ascend" | "descend"): number => rangeRequest("k", { sortOrder: o }, false).sortOrder;
    assert.deepEqual([order("none"), order("ascend"), order("descend")], [0, 1, 2]);
    const target = (t: "key" | "version" | "create" | "mod" | "value"): number => rangeRequest("k", { sortTarget: t }, false).sortTarget;
    assert.deepEqual([target("key"), target("version"), target("create"), target("mod"), target("value")], [0, 1, 2, 3, 4]);
    refuses(() => rangeRequest("k", { sortOrder: "up" as "ascend" }, false), /sortOrder/);
    refuses(() => rangeRequest("k", { sortTarget: "toString" as "key" }, false), /sortTarget/);
  });
  it("serializable follows the client's consistency unless the call says otherwise", () => {
    assert.equal(rangeRequest("k", {}, true).serializable, true);
    assert.equal(rangeRequest("k", {}, false).serializable, false);
    assert.equal(rangeRequest("k", { serializable: false }, true).serializable, false);
    assert.equal(rangeRequest("k", { serializable: true }, false).serializable, true);
  });
  it("a prefix becomes its range end; prefix and rangeEnd together are refused", () => {
    assert.equal(rangeRequest("a/", { prefix: true }, false).rangeEnd.toString(), "a0");
    assert.equal(hex(deleteRequest(bytes(0xff), { prefix: true }).rangeEnd), "00");
    assert.equal(rangeRequest("a", { rangeEnd: "\0" }, false).rangeEnd.toString(), "\0");
    assert.equal(rangeRequest("a", {}, false).rangeEnd.length, 0);
    refuses(() => rangeEndOf(Buffer.from("a"), { prefix: true, rangeEnd: "b" }), /either prefix or rangeEnd/);
  });

  it("fromKey ends the range at \"\\0\"; the empty key with prefix or fromKey covers every key, and alone is refused", () => {
    assert.equal(hex(rangeRequest("a", { fromKey: true }, false).rangeEnd), "00");
    for (const options of [{ prefix: true }, { fromKey: true }]) {
      const request = rangeRequest("", options, false);
      assert.deepEqual([hex(request.key), hex(request.rangeEnd)], ["00", "00"]);
      const del = deleteRequest("", options);
      assert.deepEqual([hex(del.key), hex(del.rangeEnd)], ["00", "00"]);
    }
    refuses(() => rangeRequest("", {}, false), /must not be empty/);
    refuses(() => deleteRequest("", { prefix: false }), /must not be empty/);
    refuses(() => rangeEndOf(Buffer.from("a"), { fromKey: true, prefix: true }), /fromKey/);
    refuses(() => rangeEndOf(Buffer.from("a"), { fromKey: true, rangeEnd: "b" }), /fromKey/);
    refuses(() => rangeEndOf(Buffer.from("a"), { fromKey: "yes" as unknown as boolean }), /fromKey must be a boolean/);
  });
  it("refuses option values of the wrong type instead of reading them as false", () => {
    refuses(() => rangeRequest("k", { keysOnly: "yes" as unknown as boolean }, false), /keysOnly must be a boolean/);
    refuses(() => rangeRequest("k", { prefix: 1 as unknown as boolean }, false), /prefix must be a boolean/);
    refuses(() => putRequest("k", "v", { prevKv: "true" as unknown as boolean }), /prevKv/);
    refuses(() => deleteRequest("k", { prevKv: 1 as unknown as boolean }), /prevKv/);
    refuses(() => rangeRequest("k", { limit: -1 }, false), /limit/);
  });
  it("put: lease and prevKv reach the request; ignoreValue/ignoreLease contradictions are refused", () => {
    const p = putRequest(bytes(0), bytes(0xff, 0x00), { lease: 0x7fffffffffffffffn, prevKv: true });
    assert.deepEqual([hex(p.key), hex(p.value), p.lease, p.prevKv], ["00", "ff00", 0x7fffffffffffffffn, true]);
    assert.equal(putRequest("k", "", { ignoreValue: true }).ignoreValue, true);
    refuses(() => putRequest("k", "v", { ignoreValue: true }), /ignoreValue/);
    refuses(() => putRequest("k", "v", { ignoreLease: true, lease: 5n }), /ignoreLease/);
  });
});

describe("transaction requests", () => {
  it("encodes each compare target into etcd's target number and oneof field", () => {
    const spec: TxnSpec = {
      compare: [
        { key: "a", target: "version", result: "==", value: 1 },
        { key: "b", target: "create", result: ">", value: 2n },
        { key: "c", target: "mod", result: "<", value: 3 },
        { key: "d", target: "value", result: "!=", value: bytes(0xff, 0xfe) },
        { key: "e", target: "lease", result: "==", value: 0x123456789abcdefn },
        { key: "f/", target: "version", result: ">", value: 0, prefix: true },
      ],
    };
    const wire = TxnRequest.decode(TxnRequest.encode(txnRequest(spec)).finish());
    const got = wire.compare.map((c) => [c.key.toString("latin1"), c.target, c.result, c.targetUnion?.$case, c.targetUnion?.value, c.rangeEnd.toString()]);
    assert.deepEqual(got, [
      ["a", 0, 0, "version", 1n, ""],
      ["b", 1, 1, "createRevision", 2n, ""],
      ["c", 2, 2, "modRevision", 3n, ""],
      ["d", 3, 3, "value", bytes(0xff, 0xfe), ""],
      ["e", 4, 0, "lease", 0x123456789abcdefn, ""],
      ["f/", 0, 1, "version", 0n, "f0"],
    ]);
  });
  it("checks that each compare value has its target's type", () => {
    refuses(() => txnRequest({ compare: [{ key: "k", target: "value", result: "==", value: 1 }] }), /string or bytes/);
    refuses(() => txnRequest({ compare: [{ key: "k", target: "version", result: "==", value: "1" }] }), /bigint or an integer/);
    refuses(() => txnRequest({ compare: [{ key: "k", target: "mod", result: "==", value: -1 }] }), /between 0/);
    refuses(() => txnRequest({ compare: [{ key: "k", target: "size" as "mod", result: "==", value: 1 }] }), /compare target/);
    refuses(() => txnRequest({ compare: [{ key: "k", target: "mod", result: ">=" as "==", value: 1 }] }), /compare result/);
    refuses(() => txnRequest({ compare: [{ key: "", target: "mod", result: "==", value: 1 }] }), /compare key/);
    refuses(() => txnRequest({ compare: [null as unknown as never] }), /comparison must be an object/);
  });
  it("builds put, get, delete and nested txn operations, in order, on both branches", () => {
    const spec: TxnSpec = {
      compare: [{ key: "k", target: "value", result: "==", value: "v" }],
      success: [
        { put: { key: "k", value: "w", prevKv: true } },
        { get: { key: "p/", prefix: true, limit: 2 } },
        { delete: { key: "d", prevKv: true } },
        {
          txn: {
            compare: [{ key: "n", target: "version", result: "==", value: 0 }],
            success: [{ put: { key: "n", value: "1" } }],
            failure: [{ txn: { success: [{ get: { key: "deep" } }] } }],
          },
        },
      ],
      failure: [{ get: { key: "k", serializable: true } }],
    };
    const wire = TxnRequest.decode(TxnRequest.encode(txnRequest(spec)).finish());
    assert.deepEqual(
      wire.success.map((op) => op.request?.$case),
      ["requestPut", "requestRange", "requestDeleteRange", "requestTxn"],
    );
    const [put, get, del, nested] = wire.success.map((op) => op.request);
    assert.ok(put?.$case === "requestPut" && put.value.prevKv && put.value.value.toString() === "w");
    assert.ok(get?.$case === "requestRange" && get.value.rangeEnd.toString() === "p0" && get.value.limit === 2n && !get.value.serializable);
    assert.ok(del?.$case === "requestDeleteRange" && del.value.prevKv);
    assert.ok(nested?.$case === "requestTxn");
    assert.equal(nested.value.compare[0]?.key.toString(), "n");
    const inner = nested.value.failure[0]?.request;
    assert.ok(inner?.$case === "requestTxn");
    const deep = inner.value.success[0]?.request;
    assert.ok(deep?.$case === "requestRange" && deep.value.key.toString() === "deep");
    const failure = wire.failure[0]?.request;
    assert.ok(failure?.$case === "requestRange" && failure.value.serializable, "a serializable read in a txn stays serializable");
  });
  it("refuses malformed operations and runaway nesting", () => {
    refuses(() => txnRequest({ success: [{} as never] }), /exactly one of/);
    refuses(() => txnRequest({ success: [{ put: { key: "a", value: "b" }, get: { key: "a" } }] }), /exactly one of/);
    refuses(() => txnRequest({ success: [{ put: { key: "", value: "b" } }] }), /key must not be empty/);
    refuses(() => txnRequest({ success: { put: { key: "a", value: "b" } } as never }), /success must be an array/);
    let spec: TxnSpec = {};
    for (let i = 0; i < 70; i++) spec = { success: [{ txn: spec }] };
    refuses(() => txnRequest(spec), /nest too deep/);
  });
  it("knows which transactions only read, and which etcd serves without a quorum round", () => {
    const write: TxnSpec = { success: [{ get: { key: "a" } }], failure: [{ txn: { success: [{ delete: { key: "a" } }] } }] };
    const read: TxnSpec = { success: [{ get: { key: "a" } }], failure: [{ txn: { success: [{ get: { key: "b" } }] } }] };
    assert.equal(txnReadsOnly(write), false);
    assert.equal(txnReadsOnly(read), true);
    assert.equal(txnReadsOnly({ compare: [{ key: "a", target: "version", result: "==", value: 0 }] }), true);
    assert.equal(txnServedLocally(txnRequest(read)), false);
    assert.equal(txnServedLocally(txnRequest({ success: [{ get: { key: "a", serializable: true } }] })), true);
    assert.equal(txnServedLocally(txnRequest({ success: [{ get: { key: "a", serializable: true } }, { get: { key: "b" } }] })), false);
  });
});

describe("client option validation", () => {
  const bad: [string, unknown, RegExp][] = [
    ["no options", undefined, /options must be an object/],
    ["null", null, /options must be an object/],
    ["no endpoints", {}, /endpoints/],
    ["empty endpoints", { endpoints: [] }, /endpoints/],
    ["a number endpoint", { endpoints: [2379] }, /must be a string/],
    ["not a URL", { endpoints: ["http://[::1:2379"] }, /not a URL/],
    ["grpc scheme", { endpoints: ["grpc://127.0.0.1:2379"] }, /http/],
    ["a path", { endpoints: ["http://127.0.0.1:2379/v3"] }, /bare origin/],
    ["credentials", { endpoints: ["http://u:p@127.0.0.1:2379"] }, /credentials/],
    ["consistency", { endpoints: ["http://127.0.0.1:2379"], consistency: "eventual" }, /consistency/],
    ["negative timeout", { endpoints: ["http://127.0.0.1:2379"], requestTimeout: -1 }, /requestTimeout/],
    ["string timeout", { endpoints: ["http://127.0.0.1:2379"], dialTimeout: "1000" }, /dialTimeout/],
    ["NaN keepAlive", { endpoints: ["http://127.0.0.1:2379"], keepAlive: Number.NaN }, /keepAlive/],
    ["zero window", { endpoints: ["http://127.0.0.1:2379"], window: 0 }, /window/],
    ["negative healthInterval", { endpoints: ["http://127.0.0.1:2379"], healthInterval: -5 }, /healthInterval/],
    ["auth without password", { endpoints: ["http://127.0.0.1:2379"], auth: { username: "root" } }, /auth/],
    ["tls not an object", { endpoints: ["https://127.0.0.1:2379"], tls: "ca.pem" }, /tls/],
    ["checkRetry not a function", { endpoints: ["http://127.0.0.1:2379"], checkRetry: true }, /checkRetry/],
  ];
  for (const [name, options, message] of bad) {
    it(`refuses ${name}`, () => {
      refuses(() => new EtcdV3Client(options as EtcdV3ClientOptions), message);
    });
  }
});

describe("INVALID_ARGUMENT before anything is sent", () => {
  let server: Server;
  let connections = 0;
  let client: EtcdV3Client;
  before(async () => {
    server = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    assert.ok(address !== null && typeof address === "object");
    client = new EtcdV3Client({ endpoints: [`http://127.0.0.1:${address.port}`], requestTimeout: 2000 });
  });
  after(async () => {
    await client.close();
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
  });

  const rejects = async (call: () => Promise<unknown>, message: RegExp): Promise<void> => {
    await assert.rejects(call, (error: unknown) => error instanceof EtcdError && error.code === "INVALID_ARGUMENT" && message.test(error.message));
  };

  it("every KV method checks its arguments without opening a connection", async () => {
    await rejects(() => client.put("", "v"), /key must not be empty/);
    await rejects(() => client.put("k", 5 as unknown as string), /value must be a string or bytes/);
    await rejects(() => client.put("k", "v", { lease: -1n }), /lease/);
    await rejects(() => client.put("k", "v", null as never), /put options must be an object/);
    await rejects(() => client.put("k", "v", { timeout: 0 }), /timeout/);
    await rejects(() => client.put("k", "v", { signal: {} as AbortSignal }), /signal/);
    await rejects(() => client.get("k", { prefix: true, rangeEnd: "z" }), /either prefix or rangeEnd/);
    await rejects(() => client.get("k", { revision: 1.5 }), /revision/);
    await rejects(() => client.get("k", { minModRevision: -3 }), /minModRevision/);
    await rejects(() => client.get("k", { timeout: Number.POSITIVE_INFINITY }), /timeout/);
    await rejects(() => client.delete("k", { prefix: "x" as unknown as boolean }), /prefix/);
    await rejects(() => client.txn({ success: [{ put: { key: "a", value: "b", ignoreLease: true, lease: 1n } }] }), /ignoreLease/);
    await rejects(() => client.txn({ compare: [{ key: "k", target: "value", result: "==", value: 7n }] }), /string or bytes/);
    await rejects(() => client.compact(-1), /revision/);
    await rejects(() => client.compact(0), /above 0/);
    await rejects(() => client.compact(5, { physical: "yes" as unknown as boolean }), /physical/);
    assert.throws(() => client.getAll("p/", { pageSize: 0 }), /pageSize/);
    assert.throws(() => client.getAll("p/", { pageSize: 1.5 }), /pageSize/);
    assert.throws(() => client.getAll("", { prefix: false }), /key must not be empty/);
    assert.throws(() => client.getAll("p/", { prefix: true, rangeEnd: "q" }), /either prefix or rangeEnd/);
    assert.equal(connections, 0, "a refused call opened a connection");
  });

  it("the same client does send a valid call (so the count above could have moved)", async () => {
    await assert.rejects(() => client.get("k", { timeout: 1500 }), (error: unknown) => error instanceof EtcdError && error.code !== "INVALID_ARGUMENT");
    assert.ok(connections > 0);
  });
});
