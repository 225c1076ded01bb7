/**
 * The HTTP/1.1 wire format without a socket: a reply parser (status line and headers,
 * Content-Length, chunked with extensions and trailers, or framed by the end of the connection)
 * and the request checks undici and node:http make before writing. Pure, so every byte sequence
 * can be fuzzed here (test/fuzz/h1.ts) and the pool in h1.ts keeps only the socket bookkeeping.
 *
 * The parser allocates in proportion to the bytes it is given, never to a length a peer declares:
 * a head is capped at MAX_HEAD_BYTES, chunk-size and trailer lines likewise, and the body at the
 * caller's `maxBodyBytes` (checked against a declared Content-Length or chunk size before
 * anything is kept).
 */

/** A complete reply; header names are lower case, repeated headers become arrays. */
export interface H1Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** Largest reply head (status line and headers) accepted; etcd's are a few hundred bytes. */
export const MAX_HEAD_BYTES = 64 * 1024;

/** Why a reply could not be parsed: malformed (HTTP_PARSE) or past the body limit (RESPONSE_TOO_LARGE). */
export type H1ParseErrorCode = "HTTP_PARSE" | "RESPONSE_TOO_LARGE";

/** A reply the parser refused; the connection it came on can't be trusted further. */
export class H1ParseError extends Error {
  /** Which rule the reply broke. */
  readonly code: H1ParseErrorCode;

  /** Creates the error. */
  constructor(code: H1ParseErrorCode, message: string) {
    super(message);
    this.name = "H1ParseError";
    this.code = code;
  }
}

/**
 * What `push` or `end` found: more bytes are needed; a reply is complete (`used` bytes of this
 * input belong to it, and `reusable` says whether the connection may carry another request); or
 * the reply is refused.
 */
export type H1Step =
  | { readonly kind: "more" }
  | { readonly kind: "reply"; readonly reply: H1Reply; readonly reusable: boolean; readonly used: number }
  | { readonly kind: "error"; readonly error: H1ParseError };

const MORE: H1Step = Object.freeze({ kind: "more" });
const CRLF2 = Buffer.from("\r\n\r\n", "latin1");

/** Where in a reply the parser is. */
type Phase = "head" | "fixed" | "chunk-size" | "chunk-data" | "chunk-end" | "trailers" | "until-close" | "done" | "failed";

/** Parses one reply at a time; `expect` before each. */
export class H1ReplyParser {
  private readonly maxBody: number;
  private phase: Phase = "done";
  private headOnly = false;
  private pendingHead: Buffer | undefined;
  private remaining = 0;
  private line = "";
  private trailerBytes = 0;
  private crlfLeft = 0;
  private bodyBytes = 0;
  private status = 0;
  private reusable = true;
  private headers: Record<string, string | string[] | undefined> = {};
  private chunks: Buffer[] = [];
  private failure: H1ParseError | undefined;
  private finished: H1Reply | undefined;

  /** A parser whose replies' bodies may hold at most `maxBodyBytes` bytes. */
  constructor(maxBodyBytes: number) {
    this.maxBody = maxBodyBytes;
  }

  /** Readies the parser for the reply to one request; `headOnly` for a HEAD request (no body follows). */
  expect(headOnly: boolean): void {
    this.phase = "head";
    this.headOnly = headOnly;
    this.pendingHead = undefined;
    this.line = "";
    this.trailerBytes = 0;
    this.bodyBytes = 0;
    this.reusable = true;
    this.headers = {};
    this.chunks = [];
    this.failure = undefined;
    this.finished = undefined;
  }

  /** Whether a reply is being read (between `expect` and its completion or failure). */
  get active(): boolean {
    return this.reading();
  }

  /** A method rather than a getter read inline: parsing steps change the phase behind the compiler's back. */
  private reading(): boolean {
    return this.phase !== "done" && this.phase !== "failed";
  }

  /** Feeds bytes of the reply. */
  push(data: Buffer): H1Step {
    if (!this.reading()) return this.fail("HTTP_PARSE", "bytes arrived with no reply expected");
    let pos = 0;
    while (pos < data.length && this.reading()) pos = this.step(data, pos);
    return this.result(pos);
  }

  /** The connection ended: a reply framed by the end is complete now; anything else was cut off. */
  end(): H1Step {
    if (this.phase === "until-close") {
      this.complete();
      return this.result(0);
    }
    if (this.phase === "failed" && this.failure !== undefined) return { kind: "error", error: this.failure };
    return this.fail("HTTP_PARSE", "the connection closed before the reply was complete");
  }

  private result(used: number): H1Step {
    if (this.phase === "failed") return { kind: "error", error: this.failure as H1ParseError };
    const reply = this.finished;
    if (reply === undefined) return MORE;
    this.finished = undefined;
    return { kind: "reply", reply, reusable: this.reusable, used };
  }

  private fail(code: H1ParseErrorCode, message: string): H1Step {
    this.failure = new H1ParseError(code, code === "HTTP_PARSE" ? `malformed HTTP reply: ${message}` : message);
    this.phase = "failed";
    this.chunks = [];
    this.pendingHead = undefined;
    return { kind: "error", error: this.failure };
  }

  /** Consumes what it can from `pos` in the current phase; returns the new position. */
  private step(data: Buffer, pos: number): number {
    switch (this.phase) {
      case "head":
        return this.readHead(data, pos);
      case "fixed":
      case "chunk-data":
        return this.readBody(data, pos);
      case "chunk-end": {
        const byte = data[pos];
        if (byte !== (this.crlfLeft === 2 ? 0x0d : 0x0a)) {
          this.fail("HTTP_PARSE", "a chunk is not followed by CRLF");
          return data.length;
        }
        if (--this.crlfLeft === 0) this.phase = "chunk-size";
        return pos + 1;
      }
      case "chunk-size":
      case "trailers":
        return this.readLine(data, pos);
      case "until-close": {
        const n = data.length - pos;
        if (!this.keep(n)) return data.length;
        this.chunks.push(pos === 0 ? data : data.subarray(pos));
        return data.length;
      }
      default:
        return data.length;
    }
  }

  /** Counts `n` more body bytes; false (and failed) past the limit. */
  private keep(n: number): boolean {
    this.bodyBytes += n;
    if (this.bodyBytes <= this.maxBody) return true;
    this.fail("RESPONSE_TOO_LARGE", `the reply body exceeds the limit of ${this.maxBody} bytes (maxResponseBytes)`);
    return false;
  }

  private readBody(data: Buffer, pos: number): number {
    const n = Math.min(this.remaining, data.length - pos);
    this.chunks.push(data.subarray(pos, pos + n));
    this.remaining -= n;
    if (this.remaining === 0) {
      if (this.phase === "fixed") this.complete();
      else {
        this.phase = "chunk-end";
        this.crlfLeft = 2;
      }
    }
    return pos + n;
  }

  /** Reads the status line and headers; returns where the body starts, or data.length when incomplete. */
  private readHead(data: Buffer, pos: number): number {
    let buf = pos === 0 ? data : data.subarray(pos);
    // Bytes of the head that arrived in earlier inputs.
    const prefix = this.pendingHead?.length ?? 0;
    if (this.pendingHead !== undefined) {
      // Only as much as could still complete a head is copied, whatever the input's size.
      buf = Buffer.concat([this.pendingHead, buf.subarray(0, MAX_HEAD_BYTES + 4)]);
      this.pendingHead = undefined;
    }
    const from = Math.max(0, prefix - 3);
    const end = buf.indexOf(CRLF2, from);
    if (end < 0 ? buf.length > MAX_HEAD_BYTES : end > MAX_HEAD_BYTES) {
      this.fail("HTTP_PARSE", `a reply head longer than ${MAX_HEAD_BYTES} bytes`);
      return data.length;
    }
    if (end < 0) {
      this.pendingHead = Buffer.from(buf);
      return data.length;
    }
    this.parseHead(buf.toString("latin1", 0, end));
    return pos + end + 4 - prefix;
  }

  /** Parses a head and chooses how the body is framed. Interim (1xx) replies are skipped. */
  private parseHead(text: string): void {
    let eol = text.indexOf("\r\n");
    if (eol < 0) eol = text.length;
    const minor = text.charCodeAt(7);
    const status = digit(text, 9) * 100 + digit(text, 10) * 10 + digit(text, 11);
    if (!text.startsWith("HTTP/1.") || (minor !== 0x30 && minor !== 0x31) || text.charCodeAt(8) !== 0x20 || !(status >= 100) || (eol !== 12 && text.charCodeAt(12) !== 0x20)) {
      this.fail("HTTP_PARSE", `bad status line ${JSON.stringify(text.slice(0, Math.min(eol, 80)))}`);
      return;
    }
    const headers = parseHeaders(text, eol + 2);
    if (typeof headers === "string") {
      this.fail("HTTP_PARSE", headers);
      return;
    }
    if (status < 200) {
      if (status === 101) this.fail("HTTP_PARSE", "an unrequested protocol switch (101)");
      return;
    }
    this.status = status;
    this.headers = headers;
    const connection = headerText(headers.connection).toLowerCase();
    if (connection.includes("close") || (minor === 0x30 && !connection.includes("keep-alive"))) this.reusable = false;
    if (this.headOnly || status === 204 || status === 304) this.complete();
    else this.frameBody(headers);
  }

  /** Chooses the body's framing (RFC 9112 §6.3): Transfer-Encoding over Content-Length, else the connection's end. */
  private frameBody(headers: Record<string, string | string[] | undefined>): void {
    const coding = headerText(headers["transfer-encoding"]).toLowerCase();
    const length = headers["content-length"];
    if (coding !== "") {
      // Both framings at once is how requests are smuggled: read by Transfer-Encoding, then never reuse.
      if (length !== undefined) this.reusable = false;
      if (/(?:^|,)\s*chunked\s*$/.test(coding)) this.phase = "chunk-size";
      else {
        this.phase = "until-close";
        this.reusable = false;
      }
      return;
    }
    if (length === undefined) {
      this.phase = "until-close";
      this.reusable = false;
      return;
    }
    const values = Array.isArray(length) ? length : [length];
    const n = values[0] ?? "";
    if (!/^\d{1,15}$/.test(n) || values.some((v) => v !== n)) {
      this.fail("HTTP_PARSE", `bad content-length ${JSON.stringify(values.join(", ").slice(0, 80))}`);
      return;
    }
    this.remaining = Number(n);
    if (!this.keep(this.remaining)) return;
    if (this.remaining === 0) this.complete();
    else this.phase = "fixed";
  }

  /** Reads a chunk-size or trailer line; returns the position after it (or data.length when incomplete). */
  private readLine(data: Buffer, pos: number): number {
    const nl = data.indexOf(0x0a, pos);
    const stop = nl < 0 ? data.length : nl + 1;
    if (this.line.length + (stop - pos) > MAX_HEAD_BYTES) {
      this.fail("HTTP_PARSE", "a chunk-size or trailer line that does not end");
      return data.length;
    }
    this.line += data.toString("latin1", pos, stop);
    if (nl < 0) return data.length;
    const line = this.line.endsWith("\r\n") ? this.line.slice(0, -2) : this.line.slice(0, -1);
    this.line = "";
    if (this.phase === "trailers") {
      this.trailerBytes += line.length + 2;
      if (line === "") this.complete();
      else if (this.trailerBytes > MAX_HEAD_BYTES) this.fail("HTTP_PARSE", `trailers longer than ${MAX_HEAD_BYTES} bytes`);
      return stop;
    }
    const size = /^([0-9a-fA-F]{1,12})[ \t]*(?:;.*)?$/.exec(line);
    if (size === null) {
      this.fail("HTTP_PARSE", `bad chunk size ${JSON.stringify(line.slice(0, 40))}`);
      return data.length;
    }
    this.remaining = Number.parseInt(size[1] as string, 16);
    if (this.remaining > this.maxBody - this.bodyBytes) {
      this.keep(this.remaining);
      return data.length;
    }
    this.bodyBytes += this.remaining;
    this.phase = this.remaining === 0 ? "trailers" : "chunk-data";
    return stop;
  }

  private complete(): void {
    const chunks = this.chunks;
    const body = chunks.length === 0 ? "" : chunks.length === 1 ? (chunks[0] as Buffer).toString("utf8") : Buffer.concat(chunks).toString("utf8");
    this.finished = { status: this.status, headers: this.headers, body };
    this.phase = "done";
    this.chunks = [];
    this.headers = {};
  }
}

/** The header lines of a head from `pos`, or the reason they are malformed. */
function parseHeaders(text: string, from: number): Record<string, string | string[] | undefined> | string {
  // Scanned by hand rather than split and matched: every reply passes here.
  const headers: Record<string, string | string[] | undefined> = {};
  for (let pos = from; pos < text.length; ) {
    let next = text.indexOf("\r\n", pos);
    if (next < 0) next = text.length;
    const colon = text.indexOf(":", pos);
    if (colon <= pos || colon > next) return `bad header line ${JSON.stringify(text.slice(pos, Math.min(next, pos + 80)))}`;
    const name = lowerCase(text.slice(pos, colon));
    let start = colon + 1;
    while (start < next && isBlank(text.charCodeAt(start))) start++;
    let end = next;
    while (end > start && isBlank(text.charCodeAt(end - 1))) end--;
    const value = text.slice(start, end);
    const previous = headers[name];
    headers[name] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [previous, value];
    pos = next + 2;
  }
  return headers;
}

function headerText(value: string | string[] | undefined): string {
  return value === undefined ? "" : Array.isArray(value) ? value.join(", ") : value;
}

/** The decimal digit at `i`, or NaN. */
function digit(text: string, i: number): number {
  const c = text.charCodeAt(i) - 0x30;
  return c >= 0 && c <= 9 ? c : Number.NaN;
}

function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** Lower-case header names seen, so etcd's few canonical names are not lowered again per reply. */
const LOWER = new Map<string, string>();

function lowerCase(name: string): string {
  let lower = LOWER.get(name);
  if (lower === undefined) {
    lower = name.toLowerCase();
    // Bounded: a server may send any names, and only etcd's own recur.
    if (LOWER.size < 256) LOWER.set(name, lower);
  }
  return lower;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** What node:http and undici refuse in a request target: controls, space, and anything past latin1. */
const BAD_PATH = /[^\u0021-\u00ff]/;
/** Header lines as the transport builds them: `name: value` CRLF, with no CR, LF or NUL in a value. */
const HEADER_LINES = /^(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\0\r\n]*\r\n)*$/;

/**
 * Why a request can't be written as given, or undefined when it can. A CR or LF in the path or
 * a header would end the line early and let the rest pass for a second request (splitting).
 */
export function requestProblem(method: string, path: string, headerLines: string): string | undefined {
  if (!TOKEN.test(method)) return `the method ${JSON.stringify(method.slice(0, 40))} is not an HTTP token`;
  if (!path.startsWith("/") || BAD_PATH.test(path)) {
    return `the path ${JSON.stringify(path.slice(0, 80))} must start with "/" and hold no spaces, control characters (CR, LF, NUL) or characters past U+00FF; percent-encode them`;
  }
  if (!HEADER_LINES.test(headerLines)) return "a header name is not an HTTP token, or a header value holds CR, LF or NUL";
  return undefined;
}
