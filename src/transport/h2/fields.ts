/**
 * RFC 9113 §8.1–8.3 checks of a response's header blocks, free of sockets so they can be tested
 * and fuzzed alone. A block that fails one makes the response malformed (§8.1.1): a stream error
 * of type PROTOCOL_ERROR that ends that call only.
 *
 * The blocks of one response, in order: any number of informational (1xx) heads, one final head,
 * then at most one trailers block, which must end the stream. Which one comes next is the
 * stream's `ResponsePhase`.
 */
import type { HeaderField } from "./hpack.js";

/** Which header block a response expects next: a head (informational or final), or its trailers. */
export type ResponsePhase = "head" | "trailers";

/** A block's verdict: malformed (with why), or fine and the phase the stream moves to. */
export type BlockVerdict = { readonly ok: false; readonly problem: string } | { readonly ok: true; readonly next: ResponsePhase };

/** Header fields that belong to one HTTP/1.1 connection and must not appear in HTTP/2 (§8.2.2). */
const CONNECTION_SPECIFIC = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]);

// The checks below scan char codes rather than run regular expressions: every reply's two blocks
// pass through them, and a regular expression's call cost was most of their time.

/** Whether a field name holds a byte it must not (§8.2.1): controls, space, upper case, DEL and above, or a colon. */
function badName(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c <= 0x20 || (c >= 0x41 && c <= 0x5a) || c >= 0x7f || c === 0x3a) return true;
  }
  return false;
}

/** Whether a field value holds NUL, LF or CR, or starts or ends with a space or tab (§8.2.1). */
function badValue(value: string): boolean {
  const n = value.length;
  if (n === 0) return false;
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(n - 1);
  if (first === 0x20 || first === 0x09 || last === 0x20 || last === 0x09) return true;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x00 || c === 0x0a || c === 0x0d) return true;
  }
  return false;
}

/** Whether a :status value is a three-digit code from 100 to 999. */
function isStatusCode(value: string): boolean {
  if (value.length !== 3) return false;
  const a = value.charCodeAt(0);
  const b = value.charCodeAt(1);
  const c = value.charCodeAt(2);
  return a >= 0x31 && a <= 0x39 && b >= 0x30 && b <= 0x39 && c >= 0x30 && c <= 0x39;
}

/** Checks one header block of a response, received while the stream expected `phase`; `end` is its END_STREAM flag. */
export function checkResponseBlock(fields: readonly HeaderField[], phase: ResponsePhase, end: boolean): BlockVerdict {
  if (phase === "trailers") {
    // After the final head, a block that does not end the stream has no place in HTTP/2 (§8.1).
    if (!end) return malformed("a header block after the final response head without END_STREAM");
    return verdict(fieldProblem(fields, false), "trailers");
  }
  const problem = fieldProblem(fields, true);
  if (problem !== undefined) return malformed(problem);
  const status = fields[0]?.[1] ?? "";
  if (status === "101") return malformed("status 101 (Switching Protocols), which HTTP/2 does not have");
  if (!status.startsWith("1")) return { ok: true, next: "trailers" };
  if (end) return malformed(`an informational (${status}) head with END_STREAM`);
  return { ok: true, next: "head" };
}

/** The first rule `fields` breaks, or undefined; a head must carry exactly one valid `:status`, first. */
function fieldProblem(fields: readonly HeaderField[], head: boolean): string | undefined {
  let statuses = 0;
  let regular = false;
  for (const [name, value] of fields) {
    if (name.startsWith(":")) {
      if (!head) return `pseudo-header ${quote(name)} in trailers`;
      if (regular) return `pseudo-header ${quote(name)} after a regular header`;
      if (name !== ":status") return `pseudo-header ${quote(name)} in a response`;
      if (++statuses > 1) return "more than one :status";
      if (!isStatusCode(value)) return `:status ${quote(value)} is not a three-digit code`;
      continue;
    }
    regular = true;
    if (name === "" || badName(name)) return `field name ${quote(name)} has upper case or bytes a name may not hold`;
    if (badValue(value)) return `the value of ${quote(name)} has CR, LF, NUL or leading or trailing white space`;
    if (CONNECTION_SPECIFIC.has(name)) return `connection-specific header ${quote(name)}`;
    if (name === "te" && value !== "trailers") return `te: ${quote(value)} (only "trailers" is allowed)`;
  }
  if (head && statuses === 0) return "no :status";
  return undefined;
}

function verdict(problem: string | undefined, next: ResponsePhase): BlockVerdict {
  return problem === undefined ? { ok: true, next } : malformed(problem);
}

function malformed(problem: string): BlockVerdict {
  return { ok: false, problem };
}

/** A name or value for a message: JSON-quoted (control bytes escaped) and cut at 64 characters. */
function quote(text: string): string {
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
}
