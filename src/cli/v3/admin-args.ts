/**
 * Argument reading shared by the admin commands, with Go's own error texts: hex IDs as
 * `strconv.ParseInt/ParseUint(s, 16, 64)` read them, decimal TTLs, and `time.Duration.String()`
 * for the times etcdctl prints.
 */

/** A parsed number, or the `strconv` error text etcdctl wraps in its message. */
export type Parsed = { readonly value: bigint; readonly error?: undefined } | { readonly value?: undefined; readonly error: string };

const INT64_MAX = (1n << 63n) - 1n;
const UINT64_MAX = (1n << 64n) - 1n;

/**
 * Go's `strconv.ParseInt(text, base, 64)` (`signed`) or `ParseUint(text, base, 64)` for base 10
 * or 16: a sign only when signed, no prefix, no underscores.
 */
export function goParse(text: string, base: 10 | 16, signed: boolean): Parsed {
  const fn = signed ? "ParseInt" : "ParseUint";
  const fail = (why: string): Parsed => ({ error: `strconv.${fn}: parsing ${goQuoteAscii(text)}: ${why}` });
  const sign = signed && (text.startsWith("-") || text.startsWith("+")) ? text[0] : "";
  const body = text.slice(sign === "" ? 0 : 1);
  const digits = base === 16 ? /^[0-9a-fA-F]+$/ : /^[0-9]+$/;
  if (!digits.test(body)) return fail("invalid syntax");
  const magnitude = BigInt(base === 16 ? `0x${body}` : body);
  const value = sign === "-" ? -magnitude : magnitude;
  if (signed ? value > INT64_MAX || value < -INT64_MAX - 1n : value > UINT64_MAX) return fail("value out of range");
  return { value };
}

/** Go's `%q` for the argument texts in strconv errors (printable ASCII kept, the rest escaped). */
function goQuoteAscii(text: string): string {
  return JSON.stringify(text).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Go's `time.Duration.String()` of a span given in milliseconds (e.g. "4.313945ms", "1.2s"). */
export function goDuration(ms: number): string {
  const ns = Math.round(ms * 1e6);
  if (ns === 0) return "0s";
  if (ns < 1_000) return `${ns}ns`;
  if (ns < 1_000_000) return `${trimFraction(ns / 1_000, 3)}µs`;
  if (ns < 1_000_000_000) return `${trimFraction(ns / 1_000_000, 6)}ms`;
  let rest = ns / 1e9;
  const hours = Math.floor(rest / 3600);
  rest -= hours * 3600;
  const minutes = Math.floor(rest / 60);
  rest -= minutes * 60;
  const seconds = `${trimFraction(rest, 9)}s`;
  if (hours > 0) return `${hours}h${minutes}m${seconds}`;
  if (minutes > 0) return `${minutes}m${seconds}`;
  return seconds;
}

function trimFraction(value: number, digits: number): string {
  return value.toFixed(digits).replace(/\.?0+$/, "");
}
