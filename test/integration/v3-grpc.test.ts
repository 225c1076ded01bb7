/**
 * The gRPC transport against real etcd 3.4: unary calls, concurrency, server status mapping, a
 * bidirectional Watch, aborts, grpc-timeout, refused connections, a SIGSTOPped member found by
 * keepalive, etcd's ping policy, and TLS. Messages are hand-encoded so that only the transport is
 * under test (field numbers from etcd's rpc.proto and kv.proto).
 */
import assert from "node:assert/strict";
import { setMaxListeners } from "node:events";
import { after, before, describe, it } from "node:test";
import { EtcdError } from "../../src/errors.js";
import { GrpcTransport, type GrpcStream, type GrpcTransportOptions } from "../../src/transport/grpc.js";
import { startCluster, type Cluster } from "../harness/index.js";
import { rejection } from "./util.js";

// --- a minimal protobuf writer and reader, enough for Put, Range and Watch ---

function varint(value: bigint | number): Buffer {
  let v = BigInt(value);
  const out: number[] = [];
  while (v > 127n) {
    out.push(Number(v & 127n) | 128);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}
const bytesField = (no: number, data: Uint8Array): Buffer => Buffer.concat([varint((no << 3) | 2), varint(data.length), data]);
const intField = (no: number, value: bigint | number): Buffer => Buffer.concat([varint(no << 3), varint(value)]);

/** PutRequest { key = 1; value = 2 }. */
const putRequest = (key: string, value: string): Buffer => Buffer.concat([bytesField(1, Buffer.from(key)), bytesField(2, Buffer.from(value))]);
/** RangeRequest { key = 1; revision = 4 }. */
const rangeRequest = (key: string, revision?: bigint): Buffer =>
  Buffer.concat([bytesField(1, Buffer.from(key)), revision === undefined ? Buffer.alloc(0) : intField(4, revision)]);
/** WatchRequest { create_request = 1: WatchCreateRequest { key = 1 } }. */
const watchCreate = (key: string): Buffer => bytesField(1, bytesField(1, Buffer.from(key)));

type Fields = Map<number, (Buffer | bigint)[]>;

/** Parses one message's varint and length-delimited fields (all etcd uses here). */
function parse(message: Uint8Array): Fields {
  const buf = Buffer.from(message.buffer, message.byteOffset, message.length);
  const fields: Fields = new Map();
  let at = 0;
  const readVarint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const b = buf[at++]!;
      result |= BigInt(b & 127) << shift;
      if (b < 128) return result;
    }
  };
  while (at < buf.length) {
    const tag = Number(readVarint());
    const no = tag >>> 3;
    let value: Buffer | bigint;
    if ((tag & 7) === 0) value = readVarint();
    else if ((tag & 7) === 2) {
      const n = Number(readVarint());
      value = buf.subarray(at, at + n);
      at += n;
    } else throw new Error(`unexpected wire type ${tag & 7}`);
    fields.set(no, [...(fields.get(no) ?? []), value]);
  }
  return fields;
}
const sub = (f: Fields, no: number): Fields[] => (f.get(no) ?? []).map((v) => parse(v as Buffer));
const num = (f: Fields, no: number): bigint => (f.get(no)?.[0] as bigint | undefined) ?? 0n;
const str = (f: Fields, no: number): string => ((f.get(no)?.[0] as Buffer | undefined) ?? Buffer.alloc(0)).toString();

/** The values of RangeResponse.kvs (field 2; KeyValue.value = 5). */
const rangeValues = (reply: Uint8Array): string[] => sub(parse(reply), 2).map((kv) => str(kv, 5));
/** ResponseHeader.revision (header = 1, revision = 3). */
const revisionOf = (reply: Uint8Array): bigint => num(sub(parse(reply), 1)[0]!, 3);

const PUT = "/etcdserverpb.KV/Put";
const RANGE = "/etcdserverpb.KV/Range";
const WATCH = "/etcdserverpb.Watch/Watch";
const STATUS = "/etcdserverpb.Maintenance/Status";
const never = new AbortController().signal;
// Hundreds of concurrent calls share this one signal, each with its own listener.
setMaxListeners(0, never);

/** A watch on `key` whose replies are queued, so a test can wait for the next one. */
class Watch {
  readonly replies: Fields[] = [];
  closed: EtcdError | "ok" | undefined;
  readonly stream: GrpcStream;
  private wake: (() => void) | undefined;

  constructor(t: GrpcTransport, endpoint: string, key: string) {
    this.stream = t.stream(endpoint, WATCH, { metadata: { hasleader: "true" } }, {
      onMessage: (m) => {
        this.replies.push(parse(m));
        this.wake?.();
      },
      onClose: (e) => {
        this.closed = e ?? "ok";
        this.wake?.();
      },
    });
    this.stream.write(watchCreate(key));
  }

  /** The next reply, within `ms`. */
  async next(ms = 10_000): Promise<Fields> {
    const deadline = performance.now() + ms;
    while (this.replies.length === 0) {
      if (this.closed !== undefined) assert.fail(`watch closed: ${String(this.closed)}`);
      if (performance.now() > deadline) assert.fail("no watch reply in time");
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 100);
      });
    }
    return this.replies.shift()!;
  }
}

describe("gRPC transport against a 1-member etcd", () => {
  let cluster: Cluster;
  let ep: string;
  const transports: GrpcTransport[] = [];
  const transport = (extra: Partial<GrpcTransportOptions> = {}): GrpcTransport => {
    const t = new GrpcTransport({ dialTimeout: 2_000, keepAlive: 1_000, ...extra });
    transports.push(t);
    return t;
  };

  before(async () => {
    cluster = await startCluster({ size: 1, name: "grpc" });
    ep = cluster.clientUrl(0);
  });
  after(async () => {
    await Promise.all(transports.map((t) => t.close()));
    await cluster.stop();
  });

  it("a Put then a Range round-trip, on one reused session", async () => {
    const t = transport();
    const key = `${cluster.prefix("rt")}/k`;
    const put = await t.unary(ep, PUT, putRequest(key, "v1"), { signal: never });
    assert.ok(revisionOf(put) > 0n);
    assert.deepEqual(rangeValues(await t.unary(ep, RANGE, rangeRequest(key), { signal: never })), ["v1"]);
    assert.ok((await t.unary(ep, STATUS, new Uint8Array(0), { signal: never, channel: "probe" })).length > 0);
  });

  it("several hundred concurrent calls each get their own reply", async () => {
    const t = transport();
    const prefix = cluster.prefix("many");
    const n = 400;
    await Promise.all(Array.from({ length: n }, (_, i) => t.unary(ep, PUT, putRequest(`${prefix}/${i}`, `value-${i}`), { signal: never })));
    // Keep every reply until all have arrived, so a reused buffer would show up as a wrong value.
    const replies = await Promise.all(Array.from({ length: n }, (_, i) => t.unary(ep, RANGE, rangeRequest(`${prefix}/${i}`), { signal: never })));
    replies.forEach((reply, i) => {
      assert.deepEqual(rangeValues(reply), [`value-${i}`]);
    });
  });

  it("a server error status maps to its code: a future revision is FUTURE_REVISION", async () => {
    const e = await rejection(transport().unary(ep, RANGE, rangeRequest("x", 1_000_000_000n), { signal: never }));
    assert.equal(e.code, "FUTURE_REVISION");
    assert.equal(e.status, 11);
    assert.equal(e.serverMessage, "etcdserver: mvcc: required revision is a future revision");
    assert.equal(e.delivery, undefined);
    assert.equal(e.endpoint, ep);
  });

  it("a bidi Watch gets its created reply and then the put's event; cancel() ends it silently", async () => {
    const t = transport();
    const key = `${cluster.prefix("watch")}/k`;
    const w = new Watch(t, ep, key);
    const created = await w.next();
    assert.equal(num(created, 3), 1n, "created");
    await t.unary(ep, PUT, putRequest(key, "seen"), { signal: never });
    const events = sub(await w.next(), 11);
    assert.equal(events.length, 1);
    assert.equal(str(sub(events[0]!, 2)[0]!, 5), "seen");
    w.stream.cancel();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(w.closed, undefined);
  });

  it("an already-aborted signal is unsent; an abort once sent rejects with the reason unchanged", async () => {
    const t = transport();
    const before = new AbortController();
    before.abort(new Error("early"));
    const e = await rejection(t.unary(ep, PUT, putRequest(`${cluster.prefix("ab")}/k`, "x"), { signal: before.signal }));
    assert.equal(e.code, "UNAVAILABLE");
    assert.equal(e.delivery, "unsent");
    await t.unary(ep, RANGE, rangeRequest("warm"), { signal: never });
    const late = new AbortController();
    const pending = t.unary(ep, PUT, putRequest(`${cluster.prefix("ab")}/k`, "y"), { signal: late.signal });
    const reason = new Error("late");
    late.abort(reason);
    await assert.rejects(pending, (err) => err === reason);
    // The session is still good for the next call.
    await t.unary(ep, RANGE, rangeRequest("warm"), { signal: never });
  });

  it("a refused connection is UNAVAILABLE, unsent, with ECONNREFUSED as its cause", async () => {
    const dead = "http://127.0.0.1:1";
    const e = await rejection(transport().unary(dead, RANGE, rangeRequest("x"), { signal: never }));
    assert.equal(e.code, "UNAVAILABLE");
    assert.equal(e.delivery, "unsent");
    assert.equal((e.cause as { code?: string }).code, "ECONNREFUSED");
  });

  it("an open watch idle for 20 s with keepAlive 1000 is not sent GOAWAY for too many pings", async () => {
    const t = transport({ keepAlive: 1_000 });
    const key = `${cluster.prefix("idle")}/k`;
    const w = new Watch(t, ep, key);
    await w.next();
    await new Promise((r) => setTimeout(r, 20_000));
    assert.equal(w.closed, undefined, `the watch ended: ${String(w.closed)}`);
    // The same stream still delivers, so its session survived the pings.
    await t.unary(ep, PUT, putRequest(key, "after"), { signal: never });
    assert.equal(str(sub(sub(await w.next(), 11)[0]!, 2)[0]!, 5), "after");
    w.stream.cancel();
  });
});

describe("gRPC transport and a SIGSTOPped member", () => {
  let cluster: Cluster;
  let t: GrpcTransport;
  before(async () => {
    cluster = await startCluster({ size: 1, name: "grpcstop" });
    t = new GrpcTransport({ dialTimeout: 2_000, keepAlive: 1_000, keepAliveTimeout: 1_000 });
  });
  after(async () => {
    if (cluster.member(0).paused) await cluster.member(0).resume();
    await t.close();
    await cluster.stop();
  });

  it("keepalive fails a call in flight within keepAlive + keepAliveTimeout, as pending", async () => {
    const ep = cluster.clientUrl(0);
    const key = `${cluster.prefix("stop")}/k`;
    await t.unary(ep, PUT, putRequest(key, "before"), { signal: never });
    await cluster.member(0).pause();
    const started = performance.now();
    const e = await rejection(t.unary(ep, PUT, putRequest(key, "during"), { signal: never }));
    const took = performance.now() - started;
    assert.equal(e.code, "UNAVAILABLE");
    assert.equal(e.delivery, "pending");
    assert.match(e.message, /keepalive PING/);
    // keepAlive (1 s) of silence, one keepalive tick (250 ms), keepAliveTimeout (1 s), and slack for a loaded machine.
    assert.ok(took >= 900 && took < 2_250 + 2_000, `took ${took} ms`);
    await cluster.member(0).resume();
    // A new session serves the next call; the frozen one was destroyed.
    assert.deepEqual(rangeValues(await t.unary(ep, RANGE, rangeRequest(key), { signal: never })).length, 1);
  });
});

describe("gRPC transport and grpc-timeout against a 3-member cluster without quorum", () => {
  let cluster: Cluster;
  const t = new GrpcTransport({ dialTimeout: 2_000, keepAlive: 1_000 });
  before(async () => {
    cluster = await startCluster({ size: 3, name: "grpcto" });
  });
  after(async () => {
    await t.close();
    await cluster.stop();
  });

  it("the server gives up at grpc-timeout: a linearizable Range with no quorum fails TIMEOUT well before etcd's own timeout", async () => {
    await cluster.member(1).kill();
    await cluster.member(2).kill();
    const started = performance.now();
    const e = await rejection(t.unary(cluster.clientUrl(0), RANGE, rangeRequest("x"), { signal: never, timeout: 300 }));
    const took = performance.now() - started;
    assert.equal(e.code, "TIMEOUT", `${e.status}: ${e.message}`);
    // etcd 3.4 passes Go's context error through as UNKNOWN; newer servers say DEADLINE_EXCEEDED.
    assert.ok(e.status === 2 || e.status === 4, String(e.status));
    // A write may have been proposed before the server gave up: its outcome is pending, not "not applied".
    assert.equal(e.delivery, "pending");
    assert.ok(took >= 250 && took < 3_000, `took ${took} ms`);
  });
});

describe("gRPC transport over TLS", () => {
  let cluster: Cluster;
  const transports: GrpcTransport[] = [];
  before(async () => {
    cluster = await startCluster({ size: 1, tls: true, name: "grpctls" });
  });
  after(async () => {
    await Promise.all(transports.map((t) => t.close()));
    await cluster.stop();
  });

  it("verifies the member against the given CA and round-trips", async () => {
    const tls = cluster.requestTls()!;
    const t = new GrpcTransport({ dialTimeout: 2_000, keepAlive: 1_000, tls: { ca: tls.ca } });
    transports.push(t);
    const ep = cluster.clientUrl(0);
    assert.match(ep, /^https:/);
    const key = `${cluster.prefix("tls")}/k`;
    await t.unary(ep, PUT, putRequest(key, "secure"), { signal: never });
    assert.deepEqual(rangeValues(await t.unary(ep, RANGE, rangeRequest(key), { signal: never })), ["secure"]);
  });

  it("without the CA the handshake fails: TLS_ERROR, unsent", async () => {
    const t = new GrpcTransport({ dialTimeout: 2_000, keepAlive: 1_000 });
    transports.push(t);
    const e = await rejection(t.unary(cluster.clientUrl(0), RANGE, rangeRequest("x"), { signal: never }));
    assert.equal(e.code, "TLS_ERROR");
    assert.equal(e.delivery, "unsent");
  });
});
