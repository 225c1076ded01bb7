/**
 * The Huffman code HPACK uses for string literals (RFC 7541 Section 5.2 and Appendix B) and its
 * decoder, a state machine over the code tree that takes 4 bits per table lookup.
 *
 * Why 4 bits and not 8: a byte-wide table (256 states x 256 bytes) decodes about a third faster
 * but takes far longer to build cold, and even the nibble table (256 x 16) is filled a row at a time
 * as states are reached. etcd's server
 * indexes what it repeats, so Huffman-coded strings mostly arrive in the first response of a
 * connection, and a one-shot CLI command would pay the build for a handful of strings.
 */

/** The code of each symbol (bytes 0–255, then EOS as 256), right-aligned, as RFC 7541 Appendix B lists it. */
export const HUFFMAN_CODES: readonly number[] = [
  0x1ff8, 0x7fffd8, 0xfffffe2, 0xfffffe3, 0xfffffe4, 0xfffffe5, 0xfffffe6, 0xfffffe7, // 0–7
  0xfffffe8, 0xffffea, 0x3ffffffc, 0xfffffe9, 0xfffffea, 0x3ffffffd, 0xfffffeb, 0xfffffec, // 8–15
  0xfffffed, 0xfffffee, 0xfffffef, 0xffffff0, 0xffffff1, 0xffffff2, 0x3ffffffe, 0xffffff3, // 16–23
  0xffffff4, 0xffffff5, 0xffffff6, 0xffffff7, 0xffffff8, 0xffffff9, 0xffffffa, 0xffffffb, // 24–31
  0x14, 0x3f8, 0x3f9, 0xffa, 0x1ff9, 0x15, 0xf8, 0x7fa, // 32–39
  0x3fa, 0x3fb, 0xf9, 0x7fb, 0xfa, 0x16, 0x17, 0x18, // 40–47
  0x0, 0x1, 0x2, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, // 48–55
  0x1e, 0x1f, 0x5c, 0xfb, 0x7ffc, 0x20, 0xffb, 0x3fc, // 56–63
  0x1ffa, 0x21, 0x5d, 0x5e, 0x5f, 0x60, 0x61, 0x62, // 64–71
  0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, // 72–79
  0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x71, 0x72, // 80–87
  0xfc, 0x73, 0xfd, 0x1ffb, 0x7fff0, 0x1ffc, 0x3ffc, 0x22, // 88–95
  0x7ffd, 0x3, 0x23, 0x4, 0x24, 0x5, 0x25, 0x26, // 96–103
  0x27, 0x6, 0x74, 0x75, 0x28, 0x29, 0x2a, 0x7, // 104–111
  0x2b, 0x76, 0x2c, 0x8, 0x9, 0x2d, 0x77, 0x78, // 112–119
  0x79, 0x7a, 0x7b, 0x7ffe, 0x7fc, 0x3ffd, 0x1ffd, 0xffffffc, // 120–127
  0xfffe6, 0x3fffd2, 0xfffe7, 0xfffe8, 0x3fffd3, 0x3fffd4, 0x3fffd5, 0x7fffd9, // 128–135
  0x3fffd6, 0x7fffda, 0x7fffdb, 0x7fffdc, 0x7fffdd, 0x7fffde, 0xffffeb, 0x7fffdf, // 136–143
  0xffffec, 0xffffed, 0x3fffd7, 0x7fffe0, 0xffffee, 0x7fffe1, 0x7fffe2, 0x7fffe3, // 144–151
  0x7fffe4, 0x1fffdc, 0x3fffd8, 0x7fffe5, 0x3fffd9, 0x7fffe6, 0x7fffe7, 0xffffef, // 152–159
  0x3fffda, 0x1fffdd, 0xfffe9, 0x3fffdb, 0x3fffdc, 0x7fffe8, 0x7fffe9, 0x1fffde, // 160–167
  0x7fffea, 0x3fffdd, 0x3fffde, 0xfffff0, 0x1fffdf, 0x3fffdf, 0x7fffeb, 0x7fffec, // 168–175
  0x1fffe0, 0x1fffe1, 0x3fffe0, 0x1fffe2, 0x7fffed, 0x3fffe1, 0x7fffee, 0x7fffef, // 176–183
  0xfffea, 0x3fffe2, 0x3fffe3, 0x3fffe4, 0x7ffff0, 0x3fffe5, 0x3fffe6, 0x7ffff1, // 184–191
  0x3ffffe0, 0x3ffffe1, 0xfffeb, 0x7fff1, 0x3fffe7, 0x7ffff2, 0x3fffe8, 0x1ffffec, // 192–199
  0x3ffffe2, 0x3ffffe3, 0x3ffffe4, 0x7ffffde, 0x7ffffdf, 0x3ffffe5, 0xfffff1, 0x1ffffed, // 200–207
  0x7fff2, 0x1fffe3, 0x3ffffe6, 0x7ffffe0, 0x7ffffe1, 0x3ffffe7, 0x7ffffe2, 0xfffff2, // 208–215
  0x1fffe4, 0x1fffe5, 0x3ffffe8, 0x3ffffe9, 0xffffffd, 0x7ffffe3, 0x7ffffe4, 0x7ffffe5, // 216–223
  0xfffec, 0xfffff3, 0xfffed, 0x1fffe6, 0x3fffe9, 0x1fffe7, 0x1fffe8, 0x7ffff3, // 224–231
  0x3fffea, 0x3fffeb, 0x1ffffee, 0x1ffffef, 0xfffff4, 0xfffff5, 0x3ffffea, 0x7ffff4, // 232–239
  0x3ffffeb, 0x7ffffe6, 0x3ffffec, 0x3ffffed, 0x7ffffe7, 0x7ffffe8, 0x7ffffe9, 0x7ffffea, // 240–247
  0x7ffffeb, 0xffffffe, 0x7ffffec, 0x7ffffed, 0x7ffffee, 0x7ffffef, 0x7fffff0, 0x3ffffee, // 248–255
  0x3fffffff, // 256 (EOS)
];

/** The length in bits of each code in HUFFMAN_CODES, as RFC 7541 Appendix B lists it. */
export const HUFFMAN_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, // 0–7
  28, 24, 30, 28, 28, 30, 28, 28, // 8–15
  28, 28, 28, 28, 28, 28, 30, 28, // 16–23
  28, 28, 28, 28, 28, 28, 28, 28, // 24–31
  6, 10, 10, 12, 13, 6, 8, 11, // 32–39
  10, 10, 8, 11, 8, 6, 6, 6, // 40–47
  5, 5, 5, 6, 6, 6, 6, 6, // 48–55
  6, 6, 7, 8, 15, 6, 12, 10, // 56–63
  13, 6, 7, 7, 7, 7, 7, 7, // 64–71
  7, 7, 7, 7, 7, 7, 7, 7, // 72–79
  7, 7, 7, 7, 7, 7, 7, 7, // 80–87
  8, 7, 8, 13, 19, 13, 14, 6, // 88–95
  15, 5, 6, 5, 6, 5, 6, 6, // 96–103
  6, 5, 7, 7, 6, 6, 6, 5, // 104–111
  6, 7, 6, 5, 5, 6, 7, 7, // 112–119
  7, 7, 7, 15, 11, 14, 13, 28, // 120–127
  20, 22, 20, 20, 22, 22, 22, 23, // 128–135
  22, 23, 23, 23, 23, 23, 24, 23, // 136–143
  24, 24, 22, 23, 24, 23, 23, 23, // 144–151
  23, 21, 22, 23, 22, 23, 23, 24, // 152–159
  22, 21, 20, 22, 22, 23, 23, 21, // 160–167
  23, 22, 22, 24, 21, 22, 23, 23, // 168–175
  21, 21, 22, 21, 23, 22, 23, 23, // 176–183
  20, 22, 22, 22, 23, 22, 22, 23, // 184–191
  26, 26, 20, 19, 22, 23, 22, 25, // 192–199
  26, 26, 26, 27, 27, 26, 24, 25, // 200–207
  19, 21, 26, 27, 27, 26, 27, 24, // 208–215
  21, 21, 26, 26, 28, 27, 27, 27, // 216–223
  20, 24, 20, 21, 22, 21, 21, 23, // 224–231
  22, 22, 25, 25, 24, 24, 26, 23, // 232–239
  26, 27, 26, 26, 27, 27, 27, 27, // 240–247
  27, 28, 27, 27, 27, 27, 27, 26, // 248–255
  30, // 256 (EOS)
];

/** The symbol that may never appear inside an encoded string (RFC 7541 Section 5.2). */
export const HUFFMAN_EOS = 256;

// A transition packs the next state (bits 0-7), the symbol that came out (bits 8-15), whether one
// did (bit 16) and whether the nibble ran into EOS (bit 17). One symbol at most, because the
// shortest code is 5 bits.
const STATE_MASK = 0xff;
const EMIT = 1 << 16;
const FAIL = 1 << 17;

// States are the internal nodes of the code tree (root = 0); 257 leaves make exactly 256 of them.
// The tree is built on first use, so that a process that never meets a Huffman-coded string never
// builds it, and each state's 16 transitions when that state is first reached: a cold process
// decoding a few header strings visits a few dozen states, and filling all 256 rows up front
// took 7-20 ms of a one-shot CLI command (V8 runs it in the interpreter, once).
let tree: Int32Array | undefined;
// Transitions by state * 16 + nibble; UNSET until that state's row is filled.
let transitions: Uint32Array | undefined;
// Whether ending the input in a state is valid padding: the bits since the last symbol are a strict
// prefix of EOS (all ones) and at most 7 of them.
let paddingEnds: Uint8Array | undefined;
// Above every packed transition (they use bits 0-17).
const UNSET = 0xffffffff;

// Decoded bytes land here before becoming a string; it only grows, and decoding is synchronous.
let scratch = Buffer.allocUnsafe(256);

function buildTree(): Int32Array {
  // child[node * 2 + bit]: > 0 an internal node, < 0 the leaf ~symbol, 0 not yet set (the root is
  // never anyone's child, so 0 is free to mean that).
  const child = new Int32Array(512);
  const ends = new Uint8Array(256);
  ends[0] = 1;
  let nodes = 1;
  for (let sym = 0; sym <= HUFFMAN_EOS; sym++) {
    const code = HUFFMAN_CODES[sym] ?? 0;
    const length = HUFFMAN_LENGTHS[sym] ?? 0;
    let node = 0;
    for (let bit = length - 1; bit > 0; bit--) {
      const slot = node * 2 + ((code >>> bit) & 1);
      let next = child[slot] ?? 0;
      if (next === 0) {
        next = nodes++;
        child[slot] = next;
        const depth = length - bit;
        // A node reached by ones only is a prefix of EOS (itself all ones).
        if (depth <= 7 && code >>> bit === (1 << depth) - 1) ends[next] = 1;
      }
      node = next;
    }
    child[node * 2 + (code & 1)] = ~sym;
  }
  paddingEnds = ends;
  transitions = new Uint32Array(256 * 16).fill(UNSET);
  tree = child;
  return child;
}

/** Fills the 16 transitions of `state` from the tree; returns the one for `nibble`. */
function fillRow(table: Uint32Array, state: number, nibble: number): number {
  const child = tree ?? buildTree();
  for (let n = 0; n < 16; n++) {
    let node = state;
    let out = 0;
    for (let bit = 3; bit >= 0; bit--) {
      const next = child[node * 2 + ((n >>> bit) & 1)] ?? 0;
      if (next >= 0) {
        node = next;
      } else if (~next === HUFFMAN_EOS) {
        out = FAIL;
        break;
      } else {
        out = EMIT | (~next << 8);
        node = 0;
      }
    }
    table[state * 16 + n] = out | node;
  }
  return table[state * 16 + nibble] ?? FAIL;
}

/** The transition from `state` on `nibble`. */
function step(table: Uint32Array, state: number, nibble: number): number {
  const t = table[(state << 4) | nibble] ?? FAIL;
  return t === UNSET ? fillRow(table, state, nibble) : t;
}

/**
 * Decodes the Huffman-coded bytes `src[start..end)` to a latin1 string (one char per byte), or
 * returns undefined when they are malformed: EOS inside, or padding that is not up to 7 one bits.
 */
export function decodeHuffman(src: Uint8Array, start: number, end: number): string | undefined {
  if (transitions === undefined) buildTree();
  const table = transitions as Uint32Array;
  // 8 bits in can yield at most 8/5 symbols, so twice the input always fits.
  const room = (end - start) * 2;
  if (scratch.length < room) scratch = Buffer.allocUnsafe(Math.max(room, scratch.length * 2));
  const out = scratch;
  let n = 0;
  let state = 0;
  for (let i = start; i < end; i++) {
    const b = src[i] ?? 0;
    let t = step(table, state, b >>> 4);
    if (t >= FAIL) return undefined;
    if (t >= EMIT) out[n++] = (t >>> 8) & 0xff;
    t = step(table, t & STATE_MASK, b & 15);
    if (t >= FAIL) return undefined;
    if (t >= EMIT) out[n++] = (t >>> 8) & 0xff;
    state = t & STATE_MASK;
  }
  if (paddingEnds?.[state] !== 1) return undefined;
  return n === 0 ? "" : out.toString("latin1", 0, n);
}
