/**
 * Go's `%q` (strconv.Quote) and `%x`, which etcdctl's texts use for keys, values and IDs. Keys
 * and values are bytes, not necessarily UTF-8, so quoting works on bytes: a byte that is not part
 * of a valid UTF-8 sequence is written `\xNN`, as Go does.
 */

const ESCAPES: Readonly<Record<string, string>> = { "\x07": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v", '"': '\\"', "\\": "\\\\" };

// Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. Made
// on first use: building its Unicode classes took ~0.5 ms at start-up in every v3 command.
let printable: RegExp | undefined;

/** Go's `strconv.Quote` of a string or of raw bytes. */
export function goQuote(value: string | Uint8Array): string {
  const bytes = typeof value === "string" ? Buffer.from(value, "utf8") : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  let out = '"';
  let i = 0;
  while (i < bytes.length) {
    const width = runeWidth(bytes, i);
    if (width === 0) {
      out += `\\x${(bytes[i] ?? 0).toString(16).padStart(2, "0")}`;
      i++;
      continue;
    }
    const char = bytes.toString("utf8", i, i + width);
    i += width;
    out += quoteRune(char);
  }
  return `${out}"`;
}

function quoteRune(char: string): string {
  const escaped = ESCAPES[char];
  if (escaped !== undefined) return escaped;
  printable ??= /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
  if (printable.test(char)) return char;
  const code = char.codePointAt(0) ?? 0;
  if (code < 0x80) return `\\x${code.toString(16).padStart(2, "0")}`;
  if (code < 0x10000) return `\\u${code.toString(16).padStart(4, "0")}`;
  return `\\U${code.toString(16).padStart(8, "0")}`;
}

/** The length of the valid UTF-8 sequence starting at `i`, or 0 when the byte there starts none. */
function runeWidth(bytes: Buffer, i: number): number {
  const b = bytes[i] ?? 0;
  if (b < 0x80) return 1;
  const width = b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
  if (width === 0 || i + width > bytes.length) return 0;
  for (let k = 1; k < width; k++) if (((bytes[i + k] ?? 0) & 0xc0) !== 0x80) return 0;
  // Overlong, surrogate and out-of-range forms, which Go's decoder refuses too.
  const second = bytes[i + 1] ?? 0;
  if (b === 0xe0 && second < 0xa0) return 0;
  if (b === 0xed && second > 0x9f) return 0;
  if (b === 0xf0 && second < 0x90) return 0;
  if (b === 0xf4 && second > 0x8f) return 0;
  return width;
}

/** Go's `%x` of an unsigned 64-bit ID; `%016x` when `width` is 16. */
export function goHex(id: bigint, width = 0): string {
  return BigInt.asUintN(64, id).toString(16).padStart(width, "0");
}
