/**
 * HPACK with no server: the RFC 7541 Appendix C examples (one decoder across consecutive blocks,
 * so the dynamic table and its evictions show in what later blocks decode to), the Huffman code
 * for every byte, our request encoder round-tripping through our decoder, and the malformed
 * blocks that must be refused.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { HeaderListTooLargeError, HpackDecoder, HpackError, type HeaderField } from "../../src/transport/h2/hpack.js";
import { encodeHeaders } from "../../src/transport/h2/hpack-encode.js";
import { HUFFMAN_CODES, HUFFMAN_EOS, HUFFMAN_LENGTHS, decodeHuffman } from "../../src/transport/h2/huffman.js";

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ""), "hex");
}

// A Huffman encoder for the tests only (the client never Huffman-codes): codes MSB first, then
// padded with the most significant bits of EOS, i.e. ones.
function huffman(bytes: Uint8Array): Buffer {
  const bits: number[] = [];
  for (const b of bytes) {
    const code = HUFFMAN_CODES[b]!;
    for (let i = HUFFMAN_LENGTHS[b]! - 1; i >= 0; i--) bits.push(Math.floor(code / 2 ** i) & 1);
  }
  while (bits.length % 8 !== 0) bits.push(1);
  const out = Buffer.alloc(bits.length / 8);
  bits.forEach((bit, i) => (out[i >> 3]! |= bit << (7 - (i & 7))));
  return out;
}

// An HPACK integer with a `prefixBits` prefix under the first byte's `flags`.
function int(flags: number, prefixBits: number, value: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [flags | value];
  const out = [flags | max];
  let rest = value - max;
  for (; rest >= 128; rest = Math.floor(rest / 128)) out.push((rest & 0x7f) | 0x80);
  out.push(rest);
  return out;
}

function str(s: string): number[] {
  return [...int(0, 7, s.length), ...Buffer.from(s, "latin1")];
}

function huffStr(bytes: Uint8Array): number[] {
  const coded = huffman(bytes);
  return [...int(0x80, 7, coded.length), ...coded];
}

// Literal with incremental indexing and a new name (6.2.1).
function indexedLiteral(name: string, value: string): number[] {
  return [0x40, ...str(name), ...str(value)];
}

// The dynamic table, newest first, read through indexed references (which leave it unchanged).
function dynamicTable(decoder: HpackDecoder): HeaderField[] {
  const entries: HeaderField[] = [];
  for (let index = 62; ; index++) {
    try {
      entries.push(...decoder.decode(Buffer.from(int(0x80, 7, index))));
    } catch (err) {
      assert.ok(err instanceof HpackError);
      return entries;
    }
  }
}

const REQ1: HeaderField[] = [
  [":method", "GET"],
  [":scheme", "http"],
  [":path", "/"],
  [":authority", "www.example.com"],
];
const REQ2: HeaderField[] = [...REQ1, ["cache-control", "no-cache"]];
const REQ3: HeaderField[] = [
  [":method", "GET"],
  [":scheme", "https"],
  [":path", "/index.html"],
  [":authority", "www.example.com"],
  ["custom-key", "custom-value"],
];
const DATE1 = "Mon, 21 Oct 2013 20:13:21 GMT";
const DATE2 = "Mon, 21 Oct 2013 20:13:22 GMT";
const COOKIE = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";
const RESP1: HeaderField[] = [
  [":status", "302"],
  ["cache-control", "private"],
  ["date", DATE1],
  ["location", "https://www.example.com"],
];
const RESP2: HeaderField[] = [[":status", "307"], ...RESP1.slice(1)];
const RESP3: HeaderField[] = [
  [":status", "200"],
  ["cache-control", "private"],
  ["date", DATE2],
  ["location", "https://www.example.com"],
  ["content-encoding", "gzip"],
  ["set-cookie", COOKIE],
];

describe("Huffman code (RFC 7541 Appendix B)", () => {
  it("is a complete canonical prefix code over 256 bytes and EOS", () => {
    assert.equal(HUFFMAN_CODES.length, 257);
    assert.equal(HUFFMAN_LENGTHS.length, 257);
    // Canonical: ordered by (length, symbol), each code is the previous one plus one, shifted left
    // when the length grows; a complete code then ends exactly at 2^30.
    const order = [...Array(257).keys()].sort((a, b) => HUFFMAN_LENGTHS[a]! - HUFFMAN_LENGTHS[b]! || a - b);
    let next = 0;
    let length = HUFFMAN_LENGTHS[order[0]!]!;
    for (const sym of order) {
      next *= 2 ** (HUFFMAN_LENGTHS[sym]! - length);
      length = HUFFMAN_LENGTHS[sym]!;
      assert.equal(HUFFMAN_CODES[sym], next, `symbol ${sym}`);
      next++;
    }
    assert.equal(next, 2 ** 30);
    assert.equal(HUFFMAN_CODES[HUFFMAN_EOS], 2 ** 30 - 1);
    assert.equal(HUFFMAN_LENGTHS[HUFFMAN_EOS], 30);
  });

  it("encodes the RFC's example strings to the RFC's bytes", () => {
    const examples: [string, string][] = [
      ["www.example.com", "f1e3 c2e5 f23a 6ba0 ab90 f4ff"],
      ["no-cache", "a8eb 1064 9cbf"],
      ["custom-value", "25a8 49e9 5bb8 e8b4 bf"],
      ["302", "6402"],
      [DATE1, "d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff"],
      [COOKIE, "94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07"],
    ];
    for (const [text, coded] of examples) {
      assert.deepEqual(huffman(Buffer.from(text)), hex(coded), text);
      assert.equal(decodeHuffman(hex(coded), 0, hex(coded).length), text);
    }
  });

  it("decodes every byte value 0-255, alone, doubled and all in one string", () => {
    for (let b = 0; b < 256; b++) {
      for (const bytes of [Buffer.from([b]), Buffer.from([b, b, 0x61, b])]) {
        const coded = huffman(bytes);
        assert.equal(decodeHuffman(coded, 0, coded.length), bytes.toString("latin1"), `byte ${b}`);
      }
    }
    const all = Buffer.from([...Array(256).keys()]);
    const coded = huffman(all);
    assert.equal(decodeHuffman(coded, 0, coded.length), all.toString("latin1"));
    // And inside a header block, as a name and as a value, at an offset in a larger buffer.
    const block = Buffer.from([0xaa, 0x00, ...huffStr(Buffer.from("x-all")), ...huffStr(all)]);
    assert.deepEqual(new HpackDecoder().decode(block.subarray(1)), [["x-all", all.toString("latin1")]]);
  });

  it("decodes strings longer than its first output buffer, then short ones again", () => {
    for (const text of ["0".repeat(1000), "x".repeat(5000) + "y", "short"]) {
      const coded = huffman(Buffer.from(text));
      assert.equal(decodeHuffman(coded, 0, coded.length), text);
    }
  });

  it("decodes the empty string", () => {
    assert.equal(decodeHuffman(new Uint8Array(0), 0, 0), "");
    assert.deepEqual(new HpackDecoder().decode(hex("00 80 80")), [["", ""]]);
  });
});

describe("HpackDecoder: static table (RFC 7541 Appendix A)", () => {
  it("resolves indexes 1-61 to the RFC's entries, and 62 is dynamic", () => {
    const valued: Record<number, string> = {
      2: "GET", 3: "POST", 4: "/", 5: "/index.html", 6: "http", 7: "https",
      8: "200", 9: "204", 10: "206", 11: "304", 12: "400", 13: "404", 14: "500", 16: "gzip, deflate",
    };
    const names = (
      ":authority :method :method :path :path :scheme :scheme :status :status :status :status :status " +
      ":status :status accept-charset accept-encoding accept-language accept-ranges accept " +
      "access-control-allow-origin age allow authorization cache-control content-disposition " +
      "content-encoding content-language content-length content-location content-range content-type " +
      "cookie date etag expect expires from host if-match if-modified-since if-none-match if-range " +
      "if-unmodified-since last-modified link location max-forwards proxy-authenticate " +
      "proxy-authorization range referer refresh retry-after server set-cookie " +
      "strict-transport-security transfer-encoding user-agent vary via www-authenticate"
    ).split(" ");
    assert.equal(names.length, 61);
    const block = Buffer.from(names.map((_, i) => 0x80 | (i + 1)));
    const expected = names.map((name, i): HeaderField => [name, valued[i + 1] ?? ""]);
    assert.deepEqual(new HpackDecoder().decode(block), expected);
    assert.throws(() => new HpackDecoder().decode(Buffer.from([0x80 | 62])), HpackError);
  });
});

describe("HpackDecoder: RFC 7541 Appendix C.2 (literal fields)", () => {
  it("C.2.1 literal with indexing adds the field to the table", () => {
    const d = new HpackDecoder();
    const block = hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572");
    assert.deepEqual(d.decode(block), [["custom-key", "custom-header"]]);
    assert.deepEqual(dynamicTable(d), [["custom-key", "custom-header"]]);
  });

  it("C.2.2 literal without indexing leaves the table empty", () => {
    const d = new HpackDecoder();
    assert.deepEqual(d.decode(hex("040c 2f73 616d 706c 652f 7061 7468")), [[":path", "/sample/path"]]);
    assert.deepEqual(dynamicTable(d), []);
  });

  it("C.2.3 literal never indexed leaves the table empty", () => {
    const d = new HpackDecoder();
    assert.deepEqual(d.decode(hex("1008 7061 7373 776f 7264 0673 6563 7265 74")), [["password", "secret"]]);
    assert.deepEqual(dynamicTable(d), []);
  });

  it("C.2.4 indexed field from the static table", () => {
    assert.deepEqual(new HpackDecoder().decode(hex("82")), [[":method", "GET"]]);
  });
});

describe("HpackDecoder: RFC 7541 Appendix C.3-C.6 (consecutive blocks on one decoder)", () => {
  it("C.3 requests without Huffman coding", () => {
    const d = new HpackDecoder();
    assert.deepEqual(d.decode(hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d")), REQ1);
    assert.deepEqual(dynamicTable(d), [[":authority", "www.example.com"]]);
    // `be` is the entry the first block added.
    assert.deepEqual(d.decode(hex("8286 84be 5808 6e6f 2d63 6163 6865")), REQ2);
    assert.deepEqual(dynamicTable(d), [["cache-control", "no-cache"], [":authority", "www.example.com"]]);
    assert.deepEqual(d.decode(hex("8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65")), REQ3);
    assert.deepEqual(dynamicTable(d), [
      ["custom-key", "custom-value"],
      ["cache-control", "no-cache"],
      [":authority", "www.example.com"],
    ]);
  });

  it("C.4 requests with Huffman coding", () => {
    const d = new HpackDecoder();
    assert.deepEqual(d.decode(hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff")), REQ1);
    assert.deepEqual(d.decode(hex("8286 84be 5886 a8eb 1064 9cbf")), REQ2);
    assert.deepEqual(d.decode(hex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf")), REQ3);
    assert.deepEqual(dynamicTable(d), [
      ["custom-key", "custom-value"],
      ["cache-control", "no-cache"],
      [":authority", "www.example.com"],
    ]);
  });

  // Both response examples run with SETTINGS_HEADER_TABLE_SIZE = 256 and no size update in the
  // blocks, so the decoder is built with 256; evictions follow from entry sizes (name + value + 32).
  const afterResp1: HeaderField[] = [
    ["location", "https://www.example.com"],
    ["date", DATE1],
    ["cache-control", "private"],
    [":status", "302"],
  ];
  const afterResp2: HeaderField[] = [[":status", "307"], ...afterResp1.slice(0, 3)];
  const afterResp3: HeaderField[] = [
    ["set-cookie", COOKIE],
    ["content-encoding", "gzip"],
    ["date", DATE2],
  ];

  it("C.5 responses without Huffman coding, with evictions", () => {
    const d = new HpackDecoder(256);
    const block1 = hex(`4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
      2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d`);
    assert.deepEqual(d.decode(block1), RESP1);
    assert.deepEqual(dynamicTable(d), afterResp1);
    // Adding :status 307 (42 octets) to 222 evicts :status 302, the oldest.
    assert.deepEqual(d.decode(hex("4803 3330 37c1 c0bf")), RESP2);
    assert.deepEqual(dynamicTable(d), afterResp2);
    const block3 = hex(`88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
      54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
      5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31`);
    assert.deepEqual(d.decode(block3), RESP3);
    assert.deepEqual(dynamicTable(d), afterResp3);
  });

  it("C.6 responses with Huffman coding, with the same evictions", () => {
    const d = new HpackDecoder(256);
    const block1 = hex(`4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
      2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3`);
    assert.deepEqual(d.decode(block1), RESP1);
    assert.deepEqual(dynamicTable(d), afterResp1);
    assert.deepEqual(d.decode(hex("4883 640e ffc1 c0bf")), RESP2);
    assert.deepEqual(dynamicTable(d), afterResp2);
    const block3 = hex(`88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
      77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
      9587 3160 65c0 03ed 4ee5 b106 3d50 07`);
    assert.deepEqual(d.decode(block3), RESP3);
    assert.deepEqual(dynamicTable(d), afterResp3);
  });
});

describe("HpackDecoder: header list size limit", () => {
  it("allows a list of exactly the limit and refuses one octet less, counting 32 per field", () => {
    // ":method: GET" (static index 2) counts 7 + 3 + 32 = 42 octets; ten of them 420.
    const block = Buffer.alloc(10, 0x82);
    assert.equal(new HpackDecoder().decode(block, 420).length, 10);
    assert.throws(() => new HpackDecoder().decode(block, 419), HeaderListTooLargeError);
  });

  it("stops a small block that references one large table entry over and over", () => {
    // 4,000 octets indexed once, then 1,000 one-byte references to it: a 5 KB block that
    // would decode to about 4 MB.
    const big = "x".repeat(4000);
    const block = Buffer.from([...indexedLiteral("k", big), ...Buffer.alloc(1000, 0xbe)]);
    assert.ok(block.length < 6000);
    assert.equal(new HpackDecoder().decode(block).length, 1001, "without a limit the block really expands");
    const limited = new HpackDecoder();
    assert.throws(
      () => limited.decode(block, 256 * 1024),
      (error: unknown) => error instanceof HeaderListTooLargeError && error instanceof HpackError && /262144 octets/.test(error.message),
    );
  });
});

describe("HpackDecoder: dynamic table", () => {
  it("counts an entry as name + value + 32 octets, to the octet", () => {
    // After C.3's first two blocks the entries take 57 + 53 = 110 octets.
    const blocks = [hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"), hex("8286 84be 5808 6e6f 2d63 6163 6865")];
    const fits = new HpackDecoder(110);
    for (const b of blocks) fits.decode(b);
    assert.deepEqual(dynamicTable(fits), [["cache-control", "no-cache"], [":authority", "www.example.com"]]);
    const short = new HpackDecoder(109);
    for (const b of blocks) short.decode(b);
    assert.deepEqual(dynamicTable(short), [["cache-control", "no-cache"]]);
  });

  it("shrinks and evicts on a size update, and empties on size 0", () => {
    const d = new HpackDecoder();
    d.decode(Buffer.from([...indexedLiteral("a", "1"), ...indexedLiteral("b", "2"), ...indexedLiteral("c", "3")]));
    assert.deepEqual(dynamicTable(d), [["c", "3"], ["b", "2"], ["a", "1"]]);
    // 68 octets keep the two newest (34 each); the following insert then has to evict again.
    assert.deepEqual(d.decode(Buffer.from([...int(0x20, 5, 68), ...indexedLiteral("d", "4")])), [["d", "4"]]);
    assert.deepEqual(dynamicTable(d), [["d", "4"], ["c", "3"]]);
    assert.deepEqual(d.decode(hex("20")), []);
    assert.deepEqual(dynamicTable(d), []);
    // Size 0 stays in force: nothing is added afterwards.
    d.decode(Buffer.from(indexedLiteral("e", "5")));
    assert.deepEqual(dynamicTable(d), []);
  });

  it("accepts several size updates at the start of a block, up to the limit", () => {
    const d = new HpackDecoder();
    d.decode(Buffer.from(indexedLiteral("a", "1")));
    assert.deepEqual(d.decode(Buffer.from([0x20, ...int(0x20, 5, 4096), 0x82])), [[":method", "GET"]]);
    // The update to 0 evicted, the update back to 4096 did not bring anything back.
    assert.deepEqual(dynamicTable(d), []);
    d.decode(Buffer.from(indexedLiteral("b", "2")));
    assert.deepEqual(dynamicTable(d), [["b", "2"]]);
  });

  it("empties the table for an entry larger than the whole table, and does not add it", () => {
    const d = new HpackDecoder(100);
    d.decode(Buffer.from(indexedLiteral("a", "1")));
    const big = "x".repeat(100 - 32);
    assert.deepEqual(d.decode(Buffer.from(indexedLiteral("k", big))), [["k", big]]);
    assert.deepEqual(dynamicTable(d), []);
  });

  it("keeps hundreds of entries in order, with multi-byte indexes and lengths", () => {
    const d = new HpackDecoder(1 << 20);
    const long = "v".repeat(300);
    for (let i = 0; i < 500; i++) {
      assert.deepEqual(d.decode(Buffer.from(indexedLiteral(`k${i}`, `${i}${long}`))), [[`k${i}`, `${i}${long}`]]);
    }
    assert.deepEqual(d.decode(Buffer.from(int(0x80, 7, 62))), [["k499", `499${long}`]]);
    assert.deepEqual(d.decode(Buffer.from(int(0x80, 7, 62 + 499))), [["k0", `0${long}`]]);
    assert.throws(() => d.decode(Buffer.from(int(0x80, 7, 62 + 500))), HpackError);
    // A literal naming a dynamic entry by a multi-byte index.
    assert.deepEqual(d.decode(Buffer.from([...int(0x00, 4, 62 + 300), ...str("x")])), [["k199", "x"]]);
  });

  it("decodes a plain Uint8Array at an offset, and bytes 0x80-0xff as latin1", () => {
    const bytes = Buffer.from([0xee, 0x00, ...str("x-bin"), ...str("\u00ff\u0080\u00e9"), 0xee]);
    const view = new Uint8Array(bytes.buffer, bytes.byteOffset + 1, bytes.length - 2);
    assert.deepEqual(new HpackDecoder().decode(view), [["x-bin", "\u00ff\u0080\u00e9"]]);
  });

  it("decodes an empty block to no fields", () => {
    assert.deepEqual(new HpackDecoder().decode(new Uint8Array(0)), []);
  });
});

describe("HpackDecoder: malformed blocks", () => {
  const cases: [string, number[], number?][] = [
    ["index 0", [0x80]],
    ["an index beyond the static table with an empty dynamic table", [0xbe]],
    ["an index just beyond the dynamic table", [...indexedLiteral("a", "1"), 0xbf]],
    ["a literal whose name index is beyond the table", [...int(0x00, 4, 62), ...str("v")]],
    ["a size update above the limit (4097 > 4096)", int(0x20, 5, 4097)],
    ["a size update above a limit of 256", int(0x20, 5, 257), 256],
    ["a size update after a field", [0x82, 0x20]],
    ["a size update after a literal", [...indexedLiteral("a", "1"), 0x3f, 0x01]],
    ["an index cut after its prefix", [0xff]],
    ["a size update cut after its prefix", [0x3f]],
    ["a size update cut inside its continuation bytes", [0x3f, 0x80]],
    ["a string length cut inside its continuation bytes", [0x00, 0x7f, 0x81]],
    ["a string length that is missing", [0x00]],
    ["a value that is missing", [0x40, ...str("a")]],
    ["a name cut short", [0x00, 0x03, 0x61, 0x62]],
    ["a value cut short by its last byte", [0x00, ...str("a"), 0x03, 0x62, 0x63]],
    ["a Huffman string cut short", [0x00, ...str("a"), 0x85, 0xff]],
    ["a Huffman string holding EOS", [0x00, ...str("a"), 0x84, 0xff, 0xff, 0xff, 0xff]],
    ["a Huffman string holding EOS then a symbol", [0x00, ...str("a"), 0x85, 0xff, 0xff, 0xff, 0xfc, 0x1f]],
    ["Huffman padding longer than 7 bits", [0x00, ...str("a"), 0x82, 0x1f, 0xff]],
    ["a Huffman string of padding only (8 bits)", [0x00, ...str("a"), 0x81, 0xff]],
    ["Huffman padding that is not all ones", [0x00, ...str("a"), 0x81, 0x18]],
    ["a Huffman-coded name with bad padding", [0x00, 0x81, 0x1e, ...str("v")]],
  ];
  for (const [what, bytes, limit] of cases) {
    it(`rejects ${what}`, () => {
      assert.throws(() => new HpackDecoder(limit).decode(Buffer.from(bytes)), HpackError);
    });
  }

  // Either would be refused later for another reason, so the message tells that the integer
  // rule fired first.
  it("rejects an integer above 2^31 - 1", () => {
    const block = Buffer.from([0x3f, 0xff, 0xff, 0xff, 0xff, 0x07]);
    assert.throws(() => new HpackDecoder(2 ** 31 - 1).decode(block), { name: "HpackError", message: /overflows/ });
  });

  it("rejects an integer padded with zero continuation bytes", () => {
    const block = Buffer.from([0x3f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]);
    assert.throws(() => new HpackDecoder().decode(block), { name: "HpackError", message: /too many bytes/ });
  });

  it("accepts the near misses of those cases", () => {
    assert.deepEqual(new HpackDecoder().decode(Buffer.from(int(0x20, 5, 4096))), []);
    assert.deepEqual(new HpackDecoder(256).decode(Buffer.from(int(0x20, 5, 256))), []);
    // "a" is 00011: padded with three one bits alone, with six after "aa".
    assert.deepEqual(new HpackDecoder().decode(Buffer.from([0x00, ...str("a"), 0x81, 0x1f])), [["a", "a"]]);
    assert.deepEqual(new HpackDecoder().decode(Buffer.from([0x00, ...str("a"), 0x82, 0x18, 0xff])), [["a", "aa"]]);
    // 2^31 - 1 is the largest integer; here as a size update against a decoder that allows it.
    const max = 2 ** 31 - 1;
    assert.deepEqual(new HpackDecoder(max).decode(Buffer.from(int(0x20, 5, max))), []);
  });
});

describe("encodeHeaders", () => {
  const request: HeaderField[] = [
    [":method", "POST"],
    [":scheme", "http"],
    [":path", "/etcdserverpb.KV/Put"],
    [":authority", "127.0.0.1:2379"],
    ["content-type", "application/grpc"],
    ["te", "trailers"],
    ["user-agent", "etcd-ts"],
    ["grpc-timeout", "5000m"],
    ["token", "abc.def"],
  ];

  it("round-trips a gRPC request through the decoder without adding to its table", () => {
    const d = new HpackDecoder();
    assert.deepEqual(d.decode(encodeHeaders(request)), request);
    assert.deepEqual(dynamicTable(d), []);
  });

  it("uses static indexes, static names and never-indexed credentials, all strings raw", () => {
    const expected = Buffer.from([
      0x83, // :method POST
      0x86, // :scheme http
      0x04, ...str("/etcdserverpb.KV/Put"), // :path by static name 4
      0x01, ...str("127.0.0.1:2379"), // :authority by static name 1
      0x0f, 0x10, ...str("application/grpc"), // content-type, static name 31
      0x00, ...str("te"), ...str("trailers"),
      0x0f, 0x2b, ...str("etcd-ts"), // user-agent, static name 58
      0x00, ...str("grpc-timeout"), ...str("5000m"),
      0x10, ...str("token"), ...str("abc.def"), // never indexed
    ]);
    assert.deepEqual(encodeHeaders(request), expected);
  });

  it("encodes long values and latin1 bytes, and an empty list", () => {
    const fields: HeaderField[] = [
      ["x-long", "y".repeat(70_000)],
      ["x-bin", "\u0000\u007f\u0080\u00ff"],
      [":status", "200"],
      ["accept-encoding", "gzip, deflate"],
      ["authorization", "Bearer t"],
    ];
    const block = encodeHeaders(fields);
    assert.deepEqual(new HpackDecoder().decode(block), fields);
    assert.equal(block.length, 1 + 7 + 4 + 70_000 + 1 + 6 + 5 + 1 + 1 + 2 + 9);
    assert.equal(encodeHeaders([]).length, 0);
  });

  it("refuses upper-case or empty names and chars beyond latin1", () => {
    assert.throws(() => encodeHeaders([["Content-Type", "application/grpc"]]), TypeError);
    assert.throws(() => encodeHeaders([["x-A", "1"]]), TypeError);
    assert.throws(() => encodeHeaders([["x-Z", "1"]]), TypeError);
    assert.deepEqual(new HpackDecoder().decode(encodeHeaders([["x-@[", "1"]])), [["x-@[", "1"]]);
    assert.throws(() => encodeHeaders([["", "1"]]), TypeError);
    assert.throws(() => encodeHeaders([["x-name", "\u20ac"]]), TypeError);
    assert.throws(() => encodeHeaders([["x-\u0100", "1"]]), TypeError);
  });
});
