/**
 * The request header encoder that indexes what every call repeats (src/transport/h2/hpack-encode.ts):
 * its blocks, decoded in order by a decoder that follows RFC 7541, give back exactly the fields,
 * through table growth up to its capacity and through the peer shrinking its table.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { HpackDecoder, type HeaderField } from "../../src/transport/h2/hpack.js";
import { ENCODER_TABLE_BYTES, HpackEncoder, encodeHeaders } from "../../src/transport/h2/hpack-encode.js";

function call(path: string, extra: HeaderField[] = []): HeaderField[] {
  return [
    [":method", "POST"],
    [":scheme", "http"],
    [":path", path],
    [":authority", "127.0.0.1:2379"],
    ["content-type", "application/grpc"],
    ["te", "trailers"],
    ["user-agent", "etcd-ts"],
    ...extra,
  ];
}

describe("HpackEncoder", () => {
  it("indexes the repeated fields on the first call and sends one byte each afterwards", () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    const first = encoder.encode(call("/etcdserverpb.KV/Range"));
    const second = encoder.encode(call("/etcdserverpb.KV/Range"));
    assert.deepEqual(decoder.decode(first), call("/etcdserverpb.KV/Range"));
    assert.deepEqual(decoder.decode(second), call("/etcdserverpb.KV/Range"));
    // :method and :scheme are static; the five others are the dynamic entries 62-66, newest first.
    assert.deepEqual(second, Buffer.from([0x83, 0x86, 0x80 | 66, 0x80 | 65, 0x80 | 64, 0x80 | 63, 0x80 | 62]));
    assert.ok(first.length > 70, `first block ${first.length} bytes`);
  });

  it("a new path is one more entry, and the older ones' indexes move by one", () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    for (const path of ["/a.S/One", "/a.S/Two", "/a.S/One", "/a.S/Two", "/a.S/Three", "/a.S/One"]) {
      assert.deepEqual(decoder.decode(encoder.encode(call(path))), call(path), path);
    }
    assert.equal(encoder.encode(call("/a.S/Two")).length, 7);
  });

  it("never indexes credentials or per-call fields", () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    const extra: HeaderField[] = [
      ["token", "secret"],
      ["grpc-timeout", "5000m"],
    ];
    assert.deepEqual(decoder.decode(encoder.encode(call("/a.S/M", extra))), call("/a.S/M", extra));
    const again = encoder.encode(call("/a.S/M", extra));
    assert.deepEqual(again.subarray(7), Buffer.from([0x10, 5, ...Buffer.from("token"), 6, ...Buffer.from("secret"), 0x00, 12, ...Buffer.from("grpc-timeout"), 5, ...Buffer.from("5000m")]));
    assert.deepEqual(decoder.decode(again), call("/a.S/M", extra));
  });

  it("stops adding entries when the table is full instead of evicting, and stays in step", () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    let literalsAfterFull = 0;
    for (let i = 0; i < 200; i++) {
      const path = `/etcdserverpb.Service/Method${i}`;
      const block = encoder.encode(call(path));
      assert.deepEqual(decoder.decode(block), call(path), path);
      // Once full, a new path goes as a literal without indexing: 0x04 = :path by static name.
      if (block.includes(Buffer.from(path)) && block[2] === 0x04) literalsAfterFull++;
    }
    // 4096 bytes hold the four fixed fields and about 55 paths of ~33 bytes (+32 each).
    assert.ok(literalsAfterFull > 100, `${literalsAfterFull} paths sent unindexed`);
    assert.equal(encoder.encode(call("/etcdserverpb.Service/Method0")).length, 7);
  });

  it("when the peer shrinks its table: size updates 0 then the new size, and indexing starts again", () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    decoder.decode(encoder.encode(call("/a.S/M")));
    encoder.peerTableSize(200);
    const block = encoder.encode(call("/a.S/M"));
    // 0x20 = size update to 0; 0x3f 0xa9 0x01 = size update to 200 (31 + 169).
    assert.deepEqual(block.subarray(0, 4), Buffer.from([0x20, 0x3f, 0xa9, 0x01]));
    assert.deepEqual(decoder.decode(block), call("/a.S/M"));
    assert.deepEqual(decoder.decode(encoder.encode(call("/a.S/M"))), call("/a.S/M"));
    encoder.peerTableSize(4096); // larger: allowed, not required, so no update
    encoder.peerTableSize(0);
    const none = encoder.encode(call("/a.S/M"));
    assert.equal(none[0], 0x20);
    assert.deepEqual(decoder.decode(none), call("/a.S/M"));
    assert.deepEqual(encoder.encode(call("/a.S/M")), encodeHeaders(call("/a.S/M")), "nothing indexed with a 0-byte table");
  });

  it("any order of blocks and table-size changes decodes to the fields sent", () => {
    const name = fc.constantFrom(":path", ":authority", "content-type", "te", "user-agent", "token", "grpc-timeout", "x-other");
    const value = fc.stringMatching(/^[a-z0-9/.:-]{0,40}$/);
    const block = fc.array(fc.tuple(name, value), { maxLength: 8 });
    const step = fc.oneof({ weight: 8, arbitrary: block.map((fields) => ({ fields })) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 * ENCODER_TABLE_BYTES }).map((size) => ({ size })) });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const encoder = new HpackEncoder();
        const decoder = new HpackDecoder();
        for (const s of steps) {
          if ("size" in s) encoder.peerTableSize(s.size);
          else assert.deepEqual(decoder.decode(encoder.encode(s.fields)), s.fields);
        }
      }),
      { numRuns: 300 },
    );
  });
});
