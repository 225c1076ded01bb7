/**
 * One HTTP/2 stream as the caller of `H2Connection` holds it, and the handler it reports to.
 * The connection keeps the stream's windows and queues here; the caller writes, resets, and
 * (when it holds DATA for later) hands receive-window credit back with `consume`.
 */
import type { ResponsePhase } from "./fields.js";
import type { HeaderField } from "./hpack.js";

/** Receives what happens on one stream; an exception thrown by any method resets that stream only. */
export interface H2StreamHandler {
  /** Response headers, or trailers; `end` when the server ended its side with them. */
  headers(fields: readonly HeaderField[], end: boolean): void;
  /**
   * A DATA payload: a view of the socket's buffer, valid as long as the caller holds it.
   *
   * Flow control: by default (any return value but `false`, or none) the chunk counts as
   * consumed when this returns, and the server may send that many bytes more. A handler that
   * keeps the bytes for a slow reader returns `false` instead; the chunk's bytes then stay charged against both the stream's and the connection's
   * receive windows until the handler calls `stream.consume(chunk.length)` (in any number of
   * parts), so that a reader that stops reading stops the server too. Credit still held when the
   * stream ends goes back to the connection then.
   */
  data(chunk: Buffer): unknown;
  /**
   * The stream is over: `code` undefined when the server ended it (END_STREAM), else the
   * RST_STREAM code (REFUSED_STREAM also for streams a GOAWAY refused, INTERNAL_ERROR when this
   * handler threw, with the exception as `error`); `error` when the connection failed. Not
   * called after the caller's own `reset`.
   */
  close(code: number | undefined, error: unknown): void;
}

/** What a stream asks of its connection. */
export interface H2StreamOwner {
  /** Queues DATA. */
  write(stream: H2Stream, data: Uint8Array, end: boolean): void;
  /** Sends RST_STREAM or takes the stream out of the queue. */
  reset(stream: H2Stream, code: number): void;
  /** Grants receive-window credit the handler held back. */
  consume(stream: H2Stream, bytes: number): void;
}

/** A DATA item waiting for flow control. */
export interface Outgoing {
  readonly data: Uint8Array;
  offset: number;
  readonly end: boolean;
}

/** One HTTP/2 stream as the caller holds it. */
export class H2Stream {
  /** The stream id; 0 while it waits for a concurrency slot. */
  id = 0;
  /** The RST_STREAM code that ended it, if one did. */
  rstCode: number | undefined;
  /** Set once the stream is over, for any reason. */
  closed = false;
  /** @internal How much the server may still send us before a WINDOW_UPDATE; below 0 it overran. */
  recvWindow = 0;
  /** @internal Consumed bytes not yet granted back in a WINDOW_UPDATE. */
  recvConsumed = 0;
  /** @internal Bytes delivered to the handler that it has not consumed yet. */
  held = 0;
  /** @internal */ sendWindow = 0;
  /** @internal Our side has queued its END_STREAM. */
  localEnded = false;
  /** @internal The server has sent END_STREAM: further DATA or HEADERS is a stream error. */
  remoteEnded = false;
  /** @internal Which header block the response expects next (fields.ts). */
  phase: ResponsePhase = "head";
  /** @internal */ readonly out: Outgoing[] = [];
  /** @internal The request header fields, until the connection encodes and sends them. */
  fields: readonly HeaderField[] | undefined;

  /** Created by `H2Connection.request`. */
  constructor(
    private readonly owner: H2StreamOwner,
    /** @internal */ readonly handler: H2StreamHandler,
  ) {}

  /** Sends `data` as DATA (split by frame size and flow control); `end` half-closes after it. */
  write(data: Uint8Array, end: boolean): void {
    this.owner.write(this, data, end);
  }

  /** Ends the stream with RST_STREAM (or takes it out of the queue); its handler hears nothing more. */
  reset(code: number): void {
    this.owner.reset(this, code);
  }

  /** Hands back receive-window credit for `bytes` of DATA the handler kept (see `H2StreamHandler.data`). */
  consume(bytes: number): void {
    this.owner.consume(this, bytes);
  }
}
