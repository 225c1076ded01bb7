/**
 * What `H2Connection` promises its owner: its states, why it retires, its errors, its events and
 * its options (the limits, whose defaults live in DEFAULTS, src/options.ts).
 */

/** The connection's state; see connection.ts's file comment. */
export type H2State = "preface" | "open" | "draining" | "closed";

/** Why a connection stopped taking new streams. */
export type RetireReason = "goaway" | "exhausted" | "protocol" | "socket" | "destroyed";

/**
 * Stable codes of the errors the connection raises; ERR_H2_MALFORMED is the stream error of a
 * response whose header blocks break RFC 9113 §8 (fields.ts).
 */
export type H2ErrorCode = "ERR_H2_PROTOCOL" | "ERR_H2_CLOSED" | "ERR_H2_GOAWAY" | "ERR_H2_PENDING_LIMIT" | "ERR_H2_STREAM" | "ERR_H2_MALFORMED";

/** A failure of the connection or of one stream, with the HTTP/2 error code when one applies. */
export class H2Error extends Error {
  /** Stable code (see H2ErrorCode). */
  readonly code: H2ErrorCode;
  /** The HTTP/2 error code sent or received (RFC 9113 §7), when there was one. */
  readonly h2Code: number | undefined;

  /** Builds the error. */
  constructor(code: H2ErrorCode, message: string, h2Code?: number, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "H2Error";
    this.code = code;
    this.h2Code = h2Code;
  }
}

/** Receives what happens to the connection. */
export interface H2ConnectionEvents {
  /** The server's first SETTINGS arrived: it speaks HTTP/2 and takes streams. */
  ready(): void;
  /** The connection stopped taking new streams, for `reason`; told once. `error` when it failed. */
  retired(reason: RetireReason, error: unknown): void;
  /** The socket closed; every stream has been told. */
  close(error: unknown): void;
}

/** How the connection sets up its side, and its limits (defaults in DEFAULTS, src/options.ts). */
export interface H2ConnectionOptions {
  /** Our receive window per stream and for the connection, in bytes. */
  readonly window: number;
  /** Our SETTINGS_MAX_HEADER_LIST_SIZE, and the most a header block may take before it is decoded. */
  readonly maxHeaderListBytes: number;
  /** Once a stream id above this is used, the connection drains so that a fresh one takes new streams. */
  readonly maxStreamId: number;
  /** Streams that may wait for a concurrency slot; more are refused with ERR_H2_PENDING_LIMIT. */
  readonly maxPendingStreams: number;
  /** Our PINGs that may await their ACK at once. */
  readonly maxOutstandingPings: number;
  /** Entries one SETTINGS frame may carry. */
  readonly maxSettingsEntries: number;
  /** ACKs (PING, SETTINGS) we may owe before the peer counts as flooding us (ENHANCE_YOUR_CALM). */
  readonly maxQueuedControlFrames: number;
}
