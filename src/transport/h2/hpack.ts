/**
 * HPACK (RFC 7541), the header compression of HTTP/2, for our own HTTP/2 client.
 *
 * Decoding has to follow the peer's dynamic table exactly, since the peer (etcd's Go server)
 * indexes the headers it repeats: after the first response on a connection, `:status 200`,
 * `content-type`, `grpc-status` and `grpc-message` are each a single byte referring to a table
 * entry. The decoder is tuned for that case: a reference hands out the very tuple held by the
 * table (fields are immutable), so a block of references allocates only the returned array.
 *
 * Encoding is in hpack-encode.ts.
 *
 * Names and values are latin1 both ways: one char per byte, so any byte sequence round-trips.
 */
import { decodeHuffman } from "./huffman.js";

/** One header as decoded: lower-case name and value, in wire order. */
export type HeaderField = readonly [name: string, value: string];

/** A malformed header block: a connection error (COMPRESSION_ERROR) for HTTP/2. */
export class HpackError extends Error {
  /** Builds the error; the message says which rule the block broke. */
  constructor(message: string) {
    super(message);
    this.name = "HpackError";
  }
}

/** A header block that decodes to more than the list size the decoder was given. */
export class HeaderListTooLargeError extends HpackError {
  /** Builds the error for a list larger than `limit` octets (RFC 9113 §6.5.2 counting). */
  constructor(limit: number) {
    super(`the header list exceeds ${limit} octets`);
    this.name = "HeaderListTooLargeError";
  }
}

/** RFC 7541 Appendix A, the static table; index i is STATIC_TABLE[i - 1]. */
export const STATIC_TABLE: readonly HeaderField[] = [
  [":authority", ""],
  [":method", "GET"],
  [":method", "POST"],
  [":path", "/"],
  [":path", "/index.html"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "200"],
  [":status", "204"],
  [":status", "206"],
  [":status", "304"],
  [":status", "400"],
  [":status", "404"],
  [":status", "500"],
  ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"],
  ["accept-language", ""],
  ["accept-ranges", ""],
  ["accept", ""],
  ["access-control-allow-origin", ""],
  ["age", ""],
  ["allow", ""],
  ["authorization", ""],
  ["cache-control", ""],
  ["content-disposition", ""],
  ["content-encoding", ""],
  ["content-language", ""],
  ["content-length", ""],
  ["content-location", ""],
  ["content-range", ""],
  ["content-type", ""],
  ["cookie", ""],
  ["date", ""],
  ["etag", ""],
  ["expect", ""],
  ["expires", ""],
  ["from", ""],
  ["host", ""],
  ["if-match", ""],
  ["if-modified-since", ""],
  ["if-none-match", ""],
  ["if-range", ""],
  ["if-unmodified-since", ""],
  ["last-modified", ""],
  ["link", ""],
  ["location", ""],
  ["max-forwards", ""],
  ["proxy-authenticate", ""],
  ["proxy-authorization", ""],
  ["range", ""],
  ["referer", ""],
  ["refresh", ""],
  ["retry-after", ""],
  ["server", ""],
  ["set-cookie", ""],
  ["strict-transport-security", ""],
  ["transfer-encoding", ""],
  ["user-agent", ""],
  ["vary", ""],
  ["via", ""],
  ["www-authenticate", ""],
];
const STATIC_COUNT = STATIC_TABLE.length;

/** RFC 7541 Section 4.1: a table entry costs its octets plus 32 for the implementation's bookkeeping. */
export const ENTRY_OVERHEAD = 32;

// Integers: the largest we accept, and how many continuation bytes that takes at most (5 x 7 bits
// covers 31); more bytes are either an overflow or zero padding meant to make us loop.
const MAX_INT = 0x7fffffff;
const MAX_CONTINUATION_BYTES = 5;

/** Decodes header blocks of one HTTP/2 connection (keeps the dynamic table across blocks). */
export class HpackDecoder {
  // Our SETTINGS_HEADER_TABLE_SIZE: the peer's size updates may not exceed it.
  private readonly maxTableSize: number;
  // The size the peer currently uses (its last size update, else our setting).
  private capacity: number;
  private size = 0;
  // The dynamic table as a ring, oldest entry at (head - count), newest at (head - 1); its length
  // is a power of two so that positions wrap with a mask.
  private ring: (HeaderField | undefined)[] = new Array<HeaderField | undefined>(16).fill(undefined);
  private mask = 15;
  private head = 0;
  private count = 0;
  // Read position in the block being decoded; a field rather than a return value so that reading
  // an integer or a string allocates nothing.
  private pos = 0;

  /** `maxTableSize`: our SETTINGS_HEADER_TABLE_SIZE (default 4096); a dynamic table size update above it is an error. */
  constructor(maxTableSize = 4096) {
    if (!Number.isInteger(maxTableSize) || maxTableSize < 0 || maxTableSize > MAX_INT) {
      throw new RangeError(`HPACK table size must be an integer in [0, 2^31), got ${maxTableSize}`);
    }
    this.maxTableSize = maxTableSize;
    this.capacity = maxTableSize;
  }

  /**
   * Decodes one complete header block (HEADERS + CONTINUATION payloads concatenated); throws
   * HpackError on malformed input, HeaderListTooLargeError past `maxListSize` octets.
   */
  decode(block: Uint8Array, maxListSize = Number.POSITIVE_INFINITY): HeaderField[] {
    // Raw strings are sliced with Buffer's latin1 decoder, which a plain Uint8Array lacks.
    const buf = Buffer.isBuffer(block) ? block : Buffer.from(block.buffer, block.byteOffset, block.byteLength);
    const end = buf.length;
    const out: HeaderField[] = [];
    // Checked as fields are produced, since one-byte references to a 4 KiB table entry can make
    // a small block decode to a list thousands of times its size.
    let listSize = 0;
    this.pos = 0;
    while (this.pos < end) {
      const b = buf[this.pos++] ?? 0;
      let field: HeaderField;
      if (b >= 0x80) {
        // Indexed field (6.1): the commonest case by far once the peer has indexed its headers.
        field = this.entry(b === 0xff ? this.integer(buf, 0x7f) : b & 0x7f);
      } else if (b >= 0x40) {
        // Literal with incremental indexing (6.2.1).
        field = this.literal(buf, b & 0x3f, 0x3f);
        this.insert(field);
      } else if (b >= 0x20) {
        // Dynamic table size update (6.3): only ahead of the first field, so that every field of
        // a block is decoded against one table size.
        if (out.length !== 0) throw new HpackError("dynamic table size update after a header field");
        const size = (b & 0x1f) === 0x1f ? this.integer(buf, 0x1f) : b & 0x1f;
        if (size > this.maxTableSize) {
          throw new HpackError(`dynamic table size update to ${size} exceeds the limit ${this.maxTableSize}`);
        }
        this.capacity = size;
        this.evictTo(size);
        continue;
      } else {
        // Literal without indexing (6.2.2, 0000) or never indexed (6.2.3, 0001): the same to a
        // decoder that does not forward headers.
        field = this.literal(buf, b & 0x0f, 0x0f);
      }
      listSize += field[0].length + field[1].length + ENTRY_OVERHEAD;
      if (listSize > maxListSize) throw new HeaderListTooLargeError(maxListSize);
      out.push(field);
    }
    return out;
  }

  // The rest of an integer whose prefix is saturated (`prefixMax`, all ones), from this.pos.
  private integer(buf: Buffer, prefixMax: number): number {
    let value = prefixMax;
    let scale = 1;
    for (let i = 0; ; i++) {
      if (i === MAX_CONTINUATION_BYTES) throw new HpackError("integer takes too many bytes");
      if (this.pos >= buf.length) throw new HpackError("truncated integer");
      const b = buf[this.pos++] ?? 0;
      value += (b & 0x7f) * scale;
      if (b < 0x80) break;
      scale *= 128;
    }
    if (value > MAX_INT) throw new HpackError("integer overflows 2^31");
    return value;
  }

  // A literal field: name by index (prefix != 0) or as a string, then the value string.
  private literal(buf: Buffer, prefix: number, prefixMax: number): HeaderField {
    const nameIndex = prefix === prefixMax ? this.integer(buf, prefixMax) : prefix;
    const name = nameIndex === 0 ? this.string(buf) : this.entry(nameIndex)[0];
    return [name, this.string(buf)];
  }

  private string(buf: Buffer): string {
    if (this.pos >= buf.length) throw new HpackError("truncated string length");
    const b = buf[this.pos++] ?? 0;
    const length = (b & 0x7f) === 0x7f ? this.integer(buf, 0x7f) : b & 0x7f;
    const start = this.pos;
    const end = start + length;
    if (end > buf.length) throw new HpackError(`string of ${length} bytes overruns the block`);
    this.pos = end;
    if (length === 0) return "";
    if (b < 0x80) return buf.toString("latin1", start, end);
    const decoded = decodeHuffman(buf, start, end);
    if (decoded === undefined) throw new HpackError("malformed Huffman-coded string");
    return decoded;
  }

  // Static then dynamic index space (2.3.3): 62 is the newest dynamic entry.
  private entry(index: number): HeaderField {
    if (index === 0) throw new HpackError("index 0");
    if (index <= STATIC_COUNT) return STATIC_TABLE[index - 1] as HeaderField;
    const age = index - STATIC_COUNT - 1;
    const field = age < this.count ? this.ring[(this.head - 1 - age) & this.mask] : undefined;
    if (field === undefined) throw new HpackError(`index ${index} is beyond the table (${STATIC_COUNT + this.count} entries)`);
    return field;
  }

  private insert(field: HeaderField): void {
    const cost = field[0].length + field[1].length + ENTRY_OVERHEAD;
    if (cost > this.capacity) {
      // 4.4: an entry larger than the whole table empties it and is not added.
      this.evictTo(0);
      return;
    }
    this.evictTo(this.capacity - cost);
    if (this.count === this.ring.length) this.grow();
    this.ring[this.head] = field;
    this.head = (this.head + 1) & this.mask;
    this.count++;
    this.size += cost;
  }

  // Drops the oldest entries until the table holds at most `limit` octets.
  private evictTo(limit: number): void {
    while (this.size > limit) {
      const at = (this.head - this.count) & this.mask;
      const field = this.ring[at];
      if (field === undefined) break;
      // Clear the slot so that evicted strings can be collected.
      this.ring[at] = undefined;
      this.count--;
      this.size -= field[0].length + field[1].length + ENTRY_OVERHEAD;
    }
  }

  // Doubles the ring, laying the entries out oldest first from 0.
  private grow(): void {
    const next = new Array<HeaderField | undefined>(this.ring.length * 2).fill(undefined);
    for (let i = 0; i < this.count; i++) next[i] = this.ring[(this.head - this.count + i) & this.mask];
    this.ring = next;
    this.mask = next.length - 1;
    this.head = this.count;
  }
}
