/**
 * One gRPC call on one HTTP/2 stream, unary or bidirectional: builds the request headers, frames
 * and unframes messages, reads grpc-status, and turns every way a call can fail into an
 * `EtcdError` whose `delivery` says whether the request could have reached the server.
 *
 * States: `queued` (waiting for its session: provably unsent), `open` (the stream exists; the
 * request may have left), `done` (settled exactly once, by the reply, a failure, or an abort).
 */
import { listen, unlisten } from "../abort-slot.js";
import { EtcdError, type Delivery } from "../errors.js";
import { grpcError } from "../codec/v3-errors.js";
import { FrameDecoder, GrpcFrameError, encodeFrame } from "./grpc-frame.js";
import type { GrpcSession, SessionWaiter } from "./grpc-session.js";
import { H2Error, H2_ERROR, type H2Stream, type H2StreamHandler, type HeaderField } from "./h2/connection.js";
import { checkFields } from "./h2/hpack-encode.js";

/** Extra request headers, e.g. `{ token: "…", hasleader: "true" }`. */
export type Metadata = Readonly<Record<string, string>>;

/** What a call needs to know besides its session. */
export interface CallSpec {
  readonly path: string;
  readonly metadata: Metadata | undefined;
  readonly timeout: number | undefined;
  readonly signal: AbortSignal | undefined;
  readonly maxMessageBytes: number;
}

/** How a call reports: each message, then exactly one end (not after `cancel`). */
export interface CallSink {
  message(message: Uint8Array): void;
  end(error: unknown, reply: Uint8Array | undefined): void;
}

/** Response headers or trailers, by name (the few a call reads). */
type Headers = Record<string, string>;

// Errors raised before anything could have been written: safe to send again anywhere.
const NEVER_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "EADDRNOTAVAIL"]);
const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|UNABLE_TO_|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH|ERR_OSSL_)/;

/** One gRPC call; `unary` calls collect exactly one reply message, streams pass each one on. */
export class GrpcCall implements SessionWaiter, H2StreamHandler {
  private stream: H2Stream | undefined;
  private sawHeaders = false;
  private done = false;
  private status: number | undefined;
  private statusMessage = "";
  private reply: Uint8Array | undefined;
  private replies = 0;
  private streamError: unknown;
  private rstCode: number | undefined;
  private readonly decoder: FrameDecoder;
  // Writes and the half-close asked for before the stream existed.
  private pending: Uint8Array[] | undefined;
  private ended = false;
  // Counted by the session (between `enter` and `release`).
  private entered = false;
  private readonly onAbort = (): void => {
    this.abort();
  };

  /** Prepares a call; nothing is sent until `start` (the session calls it once ready). */
  constructor(
    private session: GrpcSession,
    private readonly spec: CallSpec,
    private readonly unary: boolean,
    private readonly sink: CallSink,
  ) {
    this.decoder = new FrameDecoder(spec.maxMessageBytes, (m) => {
      this.onMessage(m);
    });
    if (spec.signal !== undefined) listen(spec.signal, this.onAbort);
  }

  /** Hands the call to its session (or to `session`, its successor), which starts it now or once ready. */
  enter(session?: GrpcSession): void {
    if (this.done) return;
    if (session !== undefined) this.session = session;
    this.entered = true;
    this.session.enter(this);
  }

  /** Creates the HTTP/2 stream; called by the session once it is ready. */
  start(): void {
    if (this.done) return;
    let stream: H2Stream;
    try {
      stream = this.session.h2.request(this.headerFields(), this);
    } catch (error) {
      // The session stopped taking streams (GOAWAY, destroyed) before this one was submitted.
      this.finish(failure(this.session, error, "unsent"), undefined);
      return;
    }
    this.stream = stream;
    const pending = this.pending;
    this.pending = undefined;
    if (pending !== undefined) {
      const last = pending.length - 1;
      pending.forEach((m, i) => {
        stream.write(encodeFrame(m), this.ended && i === last);
      });
    }
    if (this.ended && (pending === undefined || pending.length === 0)) stream.write(EMPTY, true);
  }

  /** H2StreamHandler: response headers, or trailers. */
  headers(fields: readonly HeaderField[], end: boolean): void {
    this.session.reads++;
    // The first block is the response headers (with grpc-status in a trailers-only reply), the second the trailers.
    if (this.sawHeaders) {
      this.readStatus(fields);
      return;
    }
    const status = field(fields, ":status");
    // An informational (1xx) block comes before the response and says nothing about the call.
    if (isInformational(status)) {
      if (end) this.fault("MALFORMED_RESPONSE", `the stream ended with an informational ${status ?? ""} block`, toHeaders(fields));
      return;
    }
    this.sawHeaders = true;
    this.onHeaders(fields, status);
  }

  /** H2StreamHandler: one DATA payload. */
  data(chunk: Buffer): void {
    this.session.reads++;
    this.onData(chunk);
  }

  /** H2StreamHandler: the stream is over. */
  close(code: number | undefined, error: unknown): void {
    if (error !== undefined) this.streamError ??= error;
    if (code !== undefined && code !== 0) this.rstCode = code;
    this.onClose();
  }

  /** The session failed while this call was queued: nothing was sent. */
  fail(cause: unknown): void {
    this.finish(failure(this.session, cause, "unsent"), undefined);
  }

  /** Sends one message (queued until the stream exists). */
  write(message: Uint8Array): void {
    if (this.done || this.ended) return;
    if (this.stream !== undefined) this.stream.write(encodeFrame(message), false);
    else (this.pending ??= []).push(message);
  }

  /** Sends one message and half-closes, in one write: the unary request. */
  send(message: Uint8Array): void {
    if (this.stream !== undefined) this.stream.write(encodeFrame(message), true);
    else {
      this.pending = [message];
      this.ended = true;
    }
  }

  /** Half-closes the request side. */
  end(): void {
    if (this.done || this.ended) return;
    this.ended = true;
    this.stream?.write(EMPTY, true);
  }

  /** Stops the call without reporting it: RST_STREAM(CANCEL), or out of the queue. */
  cancel(): void {
    if (this.done) return;
    this.done = true;
    this.release();
  }

  private abort(): void {
    if (this.done) return;
    const reason: unknown = this.spec.signal?.reason;
    if (this.stream === undefined) {
      this.finish(new EtcdError("UNAVAILABLE", `${this.session.endpoint}: abandoned before it was sent`, { endpoint: this.session.endpoint, delivery: "unsent", cause: reason }), undefined);
    } else {
      // Sent: the caller's reason, unchanged (undici's convention, which the engine relies on).
      this.finish(reason, undefined);
    }
  }

  private headerFields(): readonly HeaderField[] {
    // The method's fields, cached and checked by the session, plus the per-call ones (the
    // timeout is our own digits and unit; metadata is checked here).
    const base = this.session.requestHeaders(this.spec.path);
    const timeout = this.spec.timeout;
    const metadata = this.spec.metadata;
    if (timeout === undefined && metadata === undefined) return base;
    const fields: HeaderField[] = [...base];
    if (timeout !== undefined) fields.push(["grpc-timeout", grpcTimeout(timeout)]);
    if (metadata !== undefined) {
      const extra = Object.keys(metadata).map((name): HeaderField => [name, metadata[name] ?? ""]);
      checkFields(extra);
      fields.push(...extra);
    }
    return fields;
  }

  private onHeaders(fields: readonly HeaderField[], httpStatus: string | undefined): void {
    if (httpStatus !== "200") {
      this.fault("UNEXPECTED_STATUS", `HTTP status ${httpStatus ?? "missing"} instead of 200`, toHeaders(fields));
      return;
    }
    // A trailers-only reply (an error before any message) carries grpc-status in its headers.
    if (field(fields, "grpc-status") !== undefined) {
      this.readStatus(fields);
      return;
    }
    const type = field(fields, "content-type");
    if (type === undefined || !(type === "application/grpc" || type.startsWith("application/grpc+") || type.startsWith("application/grpc;"))) {
      this.fault("MALFORMED_RESPONSE", `content-type ${type ?? "missing"} is not application/grpc`, toHeaders(fields));
    }
  }

  private onData(chunk: Buffer): void {
    if (this.done) return;
    try {
      this.decoder.push(chunk);
    } catch (error) {
      if (!(error instanceof GrpcFrameError)) throw error;
      if (error.kind === "too-large") this.tooLarge(error);
      else this.fault("MALFORMED_RESPONSE", error.message, undefined);
    }
  }

  private onMessage(message: Uint8Array): void {
    if (this.done) return;
    if (!this.unary) {
      this.sink.message(message);
      return;
    }
    this.replies++;
    this.reply = message;
  }

  private readStatus(fields: readonly HeaderField[]): void {
    const raw = field(fields, "grpc-status");
    if (raw === undefined) return;
    const status = raw !== "" ? Number(raw) : Number.NaN;
    this.status = Number.isInteger(status) && status >= 0 ? status : -1;
    const message = field(fields, "grpc-message");
    this.statusMessage = message === undefined ? "" : decodeGrpcMessage(message);
  }

  private onClose(): void {
    if (this.done) return;
    const status = this.status;
    const endpoint = this.session.endpoint;
    const cause = this.streamError;
    if (status === undefined && cause instanceof H2Error && cause.code === "ERR_H2_MALFORMED") {
      // Our own stream error: the member's reply broke HTTP/2's rules for header blocks.
      this.finish(new EtcdError("MALFORMED_RESPONSE", `${endpoint}: ${cause.message}`, { endpoint, delivery: "unknown", cause }), undefined);
    } else if (status === undefined || status < 0) {
      const what = status === undefined ? this.closedWithout() : "an invalid grpc-status";
      this.finish(failure(this.session, this.streamError ?? this.session.failure, this.delivery(), `${endpoint}: ${what}`), undefined);
    } else if (status !== 0) {
      this.finish(grpcError(status, this.statusMessage, endpoint), undefined);
    } else if (!this.decoder.idle) {
      this.finish(malformed(endpoint, "the reply ended inside a message", undefined), undefined);
    } else if (this.unary && this.replies !== 1) {
      this.finish(malformed(endpoint, `a unary reply carried ${this.replies} messages`, undefined), undefined);
    } else {
      this.finish(undefined, this.reply);
    }
  }

  private closedWithout(): string {
    const rst = this.rstCode;
    if (rst !== undefined && rst !== 0) return `stream reset (HTTP/2 error code ${rst})`;
    const cause = this.streamError ?? this.session.failure;
    if (cause instanceof Error) return `the connection failed: ${cause.message}`;
    if (!this.decoder.idle) return "the reply was cut off inside a message";
    return "the reply ended without a grpc-status";
  }

  /** Whether a call that got no status may have run: refused or beyond a GOAWAY's last stream means it did not. */
  private delivery(): Delivery {
    const stream = this.stream;
    if (stream === undefined) return "unsent";
    if (this.rstCode === H2_ERROR.REFUSED_STREAM) return "unsent";
    const last = this.session.goawayLastStreamId;
    if (last >= 0 && stream.id > last) return "unsent";
    return "unknown";
  }

  /** The reply is not gRPC as we accept it: stop reading and fail as of unknown outcome. */
  private fault(code: "MALFORMED_RESPONSE" | "UNEXPECTED_STATUS", what: string, headers: Headers | undefined): void {
    const endpoint = this.session.endpoint;
    this.finish(new EtcdError(code, `${endpoint}: ${what}`, { endpoint, delivery: "unknown", response: headers }), undefined);
  }

  /**
   * A reply message over `maxMessageBytes`: this call ends (its stream reset), the connection and
   * its other calls go on. Not a member failure, so the engine does not retry it elsewhere: the
   * server did answer, and another member's answer would be as large.
   */
  private tooLarge(error: GrpcFrameError): void {
    const endpoint = this.session.endpoint;
    this.finish(new EtcdError("MESSAGE_TOO_LARGE", `${endpoint}: ${error.message}; the request was processed`, { endpoint, cause: error }), undefined);
  }

  private finish(error: unknown, reply: Uint8Array | undefined): void {
    if (this.done) return;
    this.done = true;
    this.release();
    this.sink.end(error, reply);
  }

  private release(): void {
    if (this.spec.signal !== undefined) unlisten(this.spec.signal, this.onAbort);
    if (!this.entered) return;
    this.entered = false;
    const stream = this.stream;
    if (stream === undefined) this.session.dequeue(this);
    else if (!stream.closed) stream.reset(H2_ERROR.CANCEL);
    this.session.leave();
  }
}

/**
 * Maps a session or stream failure to an EtcdError. `delivery` is what the call's own state
 * says; the session's fate can only make it more certain (refused, TLS) or more pending (hung).
 */
export function failure(session: GrpcSession, cause: unknown, delivery: Delivery, what?: string): EtcdError {
  const endpoint = session.endpoint;
  if (cause instanceof H2Error && cause.code === "ERR_H2_PENDING_LIMIT") {
    // A local queue is full: no member failed, so this is the caller's to see, not the engine's to retry.
    return new EtcdError("PENDING_LIMIT", `${endpoint}: ${cause.message}`, { endpoint, cause });
  }
  if (session.closedByClient) {
    return new EtcdError("CLIENT_CLOSED", `${endpoint}: the client was closed`, { endpoint, delivery, cause });
  }
  if (session.hung) {
    const text = cause instanceof Error ? cause.message : `${endpoint} did not acknowledge a keepalive PING`;
    return new EtcdError("UNAVAILABLE", text, { endpoint, delivery: delivery === "unsent" ? "unsent" : "pending", cause });
  }
  const code = errorCode(cause);
  const message = cause instanceof Error ? cause.message : typeof cause === "string" ? cause : "the connection failed";
  if (code !== undefined && TLS_CODES.test(code)) {
    return new EtcdError("TLS_ERROR", `${endpoint}: TLS: ${message} (${code})`, { endpoint, delivery: "unsent", cause });
  }
  const sure = code !== undefined && NEVER_SENT.has(code) ? "unsent" : delivery;
  const detail = what ?? `${endpoint}: ${message}${code === undefined ? "" : ` (${code})`}`;
  return new EtcdError("UNAVAILABLE", detail, { endpoint, delivery: sure, cause });
}

const EMPTY = new Uint8Array(0);

function isInformational(status: string | undefined): boolean {
  return status !== undefined && status.length === 3 && status.startsWith("1");
}

/** The first value of the field `name`, or undefined (a reply's blocks hold a handful of fields, so a scan beats building a map). */
function field(fields: readonly HeaderField[], name: string): string | undefined {
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i] as HeaderField;
    if (f[0] === name) return f[1];
  }
  return undefined;
}

/** A block's fields by name, for an error's `response`; a repeated name keeps its first value. */
function toHeaders(fields: readonly HeaderField[]): Headers {
  const headers: Headers = {};
  for (const [name, value] of fields) headers[name] ??= value;
  return headers;
}

function malformed(endpoint: string, what: string, response: unknown): EtcdError {
  return new EtcdError("MALFORMED_RESPONSE", `${endpoint}: ${what}`, { endpoint, delivery: "unknown", response });
}

function errorCode(error: unknown): string | undefined {
  // Node wraps some failures (ERR_HTTP2_STREAM_CANCEL); the useful code may sit on the cause.
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    if (typeof e === "object" && "code" in e && typeof e.code === "string" && !e.code.startsWith("ERR_HTTP2_")) return e.code;
    e = typeof e === "object" && "cause" in e ? e.cause : undefined;
  }
  if (typeof error === "object" && error !== null && "code" in error && typeof error.code === "string") return error.code;
  return undefined;
}

/** The grpc-timeout header value for `ms`: at most 8 digits, so long deadlines go in seconds. */
export function grpcTimeout(ms: number): string {
  const value = Math.max(0, Math.ceil(ms));
  return value < 100_000_000 ? `${value}m` : `${Math.min(99_999_999, Math.ceil(value / 1000))}S`;
}

/** Decodes grpc-message, which the server percent-encodes; malformed escapes are kept as sent. */
export function decodeGrpcMessage(raw: string): string {
  if (!raw.includes("%")) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return run;
      }
    });
  }
}
