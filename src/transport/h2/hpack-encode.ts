/**
 * HPACK encoding (RFC 7541) of our request header blocks.
 *
 * Every call on a connection repeats the same few fields (`:authority`, `content-type`, `te`,
 * `user-agent`, and one `:path` per method), so the encoder puts those in the peer's dynamic
 * table the first time and refers to them by index afterwards: one byte each instead of ~100
 * bytes of literals that etcd's decoder parses on every call (measured: 32 extra literal fields
 * cost etcd 19–44 µs more CPU per call). It never evicts: an entry goes in only while the table
 * has room, so our copy of the table and the peer's never need an eviction to agree. The price
 * is state shared with the peer: blocks must reach it in the order they were encoded, which is
 * why the connection encodes a stream's block when it writes its HEADERS, not before.
 *
 * Credentials (`token`, `authorization`) are never indexed (6.2.3), nor is anything that varies
 * per call (`grpc-timeout`, metadata).
 */
import { ENTRY_OVERHEAD, STATIC_TABLE, type HeaderField } from "./hpack.js";

/** Names whose fields repeat on every call of a connection, and so may enter the peer's dynamic table. */
const INDEXED_NAMES: ReadonlySet<string> = new Set([":path", ":authority", "content-type", "te", "user-agent"]);

/** The most of the peer's dynamic table the encoder uses: etcd's ~50 method paths and the other four fields fit. */
export const ENCODER_TABLE_BYTES = 4096;

// etcd's auth token travels as `token`.
const SENSITIVE_NAMES: ReadonlySet<string> = new Set(["authorization", "token"]);

// Exact name and value to index, and name to its first index.
const STATIC_FIELD_INDEX = new Map<string, Map<string, number>>();
const STATIC_NAME_INDEX = new Map<string, number>();
STATIC_TABLE.forEach(([name, value], i) => {
  let values = STATIC_FIELD_INDEX.get(name);
  if (values === undefined) {
    values = new Map<string, number>();
    STATIC_FIELD_INDEX.set(name, values);
    STATIC_NAME_INDEX.set(name, i + 1);
  }
  values.set(value, i + 1);
});

/**
 * Throws TypeError when a field can't be encoded: an empty or upper-case name (RFC 9113 8.2.1
 * makes it malformed) or a char beyond latin1 in either (its low byte would send another header).
 */
export function checkFields(fields: readonly HeaderField[]): void {
  for (const [name, value] of fields) {
    if (name.length === 0) throw new TypeError("header name must not be empty");
    for (let i = 0; i < name.length; i++) {
      const c = name.charCodeAt(i);
      if (c > 0xff) throw new TypeError(`header name has a char beyond latin1: ${JSON.stringify(name)}`);
      if (c >= 0x41 && c <= 0x5a) throw new TypeError(`header name must be lower-case: ${JSON.stringify(name)}`);
    }
    for (let i = 0; i < value.length; i++) {
      if (value.charCodeAt(i) > 0xff) throw new TypeError(`header value has a char beyond latin1: ${JSON.stringify(value)}`);
    }
  }
}

/** Encodes header blocks without touching any dynamic table, for a peer whose decoder state we don't track. */
export function encodeHeaders(fields: readonly HeaderField[]): Buffer {
  checkFields(fields);
  const out = Buffer.allocUnsafe(bound(fields, 0));
  let pos = 0;
  for (const [name, value] of fields) {
    const exact = STATIC_FIELD_INDEX.get(name)?.get(value);
    pos = exact === undefined ? writeLiteral(out, pos, name, value) : writeInteger(out, pos, 0x80, 7, exact);
  }
  return out.subarray(0, pos);
}

/** The request header encoder of one HTTP/2 connection: it keeps our side of the peer's dynamic table. */
export class HpackEncoder {
  // The insertion number (0, 1, ...) of each entry, by name and value.
  private readonly entries = new Map<string, Map<string, number>>();
  private inserted = 0;
  private used = 0;
  private capacity = ENCODER_TABLE_BYTES;
  // Dynamic table size updates owed at the start of the next block (RFC 7541 4.2, at most two).
  private updates: number[] = [];

  /** The peer's SETTINGS_HEADER_TABLE_SIZE: a value below what we use empties the table and shrinks it. */
  peerTableSize(size: number): void {
    const next = Math.min(size, ENCODER_TABLE_BYTES);
    // A larger table is allowed, not required: only a reduction obliges us to signal.
    if (next >= this.capacity) return;
    // An update to 0 evicts every entry on both sides; then the new size, unless it is 0.
    this.entries.clear();
    this.inserted = 0;
    this.used = 0;
    this.capacity = next;
    this.updates = next === 0 ? [0] : [0, next];
  }

  /** One header block; the caller sends blocks in the order they were encoded (fields checked by {@link checkFields}). */
  encode(fields: readonly HeaderField[]): Buffer {
    const out = Buffer.allocUnsafe(bound(fields, this.updates.length));
    let pos = 0;
    for (const size of this.updates) pos = writeInteger(out, pos, 0x20, 5, size);
    this.updates = [];
    for (const [name, value] of fields) {
      const exact = STATIC_FIELD_INDEX.get(name)?.get(value);
      if (exact !== undefined) {
        pos = writeInteger(out, pos, 0x80, 7, exact);
        continue;
      }
      const n = this.entries.get(name)?.get(value);
      if (n !== undefined) {
        // The newest entry is index 62; each insertion since this one moved it one further.
        pos = writeInteger(out, pos, 0x80, 7, STATIC_TABLE.length + this.inserted - n);
        continue;
      }
      const size = name.length + value.length + ENTRY_OVERHEAD;
      if (!INDEXED_NAMES.has(name) || this.used + size > this.capacity) {
        pos = writeLiteral(out, pos, name, value);
        continue;
      }
      // Literal with incremental indexing (6.2.1): the peer adds it to its table, as we do.
      const nameIndex = STATIC_NAME_INDEX.get(name);
      if (nameIndex === undefined) {
        out[pos++] = 0x40;
        pos = writeString(out, pos, name);
      } else pos = writeInteger(out, pos, 0x40, 6, nameIndex);
      pos = writeString(out, pos, value);
      let values = this.entries.get(name);
      if (values === undefined) {
        values = new Map<string, number>();
        this.entries.set(name, values);
      }
      values.set(value, this.inserted++);
      this.used += size;
    }
    return out.subarray(0, pos);
  }
}

// Per field a type byte and at most 6 bytes per string length (7-bit prefix + 5 continuation
// bytes); 6 bytes per size update: one allocation sized up front, no second pass to measure.
function bound(fields: readonly HeaderField[], updates: number): number {
  let bytes = updates * 6;
  for (const [name, value] of fields) bytes += 13 + name.length + value.length;
  return bytes;
}

// Literal without indexing (6.2.2), or never indexed (6.2.3) for credentials so that a proxy that
// re-encodes them keeps them out of its table too (7.1.3).
function writeLiteral(out: Buffer, pos: number, name: string, value: string): number {
  const flags = SENSITIVE_NAMES.has(name) ? 0x10 : 0x00;
  const nameIndex = STATIC_NAME_INDEX.get(name);
  if (nameIndex === undefined) {
    out[pos++] = flags;
    pos = writeString(out, pos, name);
  } else pos = writeInteger(out, pos, flags, 4, nameIndex);
  return writeString(out, pos, value);
}

// An integer with an N-bit prefix (5.1); `flags` are the bits of the first byte above the prefix.
function writeInteger(out: Buffer, pos: number, flags: number, prefixBits: number, value: number): number {
  const prefixMax = (1 << prefixBits) - 1;
  if (value < prefixMax) {
    out[pos++] = flags | value;
    return pos;
  }
  out[pos++] = flags | prefixMax;
  let rest = value - prefixMax;
  while (rest >= 0x80) {
    out[pos++] = (rest & 0x7f) | 0x80;
    rest = Math.floor(rest / 128);
  }
  out[pos++] = rest;
  return pos;
}

// A raw (not Huffman-coded) string literal (5.2), one byte per char (checked by checkFields).
function writeString(out: Buffer, pos: number, s: string): number {
  pos = writeInteger(out, pos, 0x00, 7, s.length);
  for (let i = 0; i < s.length; i++) out[pos++] = s.charCodeAt(i);
  return pos;
}
