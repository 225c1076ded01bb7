/**
 * The streams of one HTTP/2 connection and how each one ends, apart from the connection's own
 * state machine (connection.ts): the table of open and queued streams, what callers do to a
 * stream (write, reset, hand back credit), and the one path by which a stream leaves the table,
 * whatever ended it (END_STREAM both ways, RST_STREAM either way, a stream error, a handler
 * that threw, the connection's end), telling its handler once.
 */
import type { ReceiveWindows } from "./control.js";
import { H2Error } from "./contract.js";
import { H2_ERROR, rstFrame } from "./frames.js";
import type { DataSender } from "./sender.js";
import type { H2Stream, H2StreamOwner } from "./stream.js";
import type { FrameWriter } from "./writer.js";

/** What the table needs to know of its connection. */
export interface StreamTableHost {
  /** False once the connection is closed: nothing more goes on the wire, and no credit is granted. */
  live(): boolean;
  /** A stream left the table: a queued one may start now, and a draining connection may close. */
  forgotten(): void;
}

/** The open and queued streams of a connection; callers' streams report to it. */
export class StreamTable implements H2StreamOwner {
  /** Streams with an id, by id. */
  readonly open = new Map<number, H2Stream>();
  /** Streams waiting for a concurrency slot (id 0). */
  readonly queued: H2Stream[] = [];
  /** Streams the server ended while ours was still open; ended after the current read. */
  private halfClosed: H2Stream[] = [];

  /** Frames go out through `writer` and `sender`; consumed DATA is credited to `receive`. */
  constructor(
    private readonly writer: FrameWriter,
    private readonly sender: DataSender,
    private readonly receive: ReceiveWindows,
    private readonly host: StreamTableHost,
  ) {}

  /** Queues a stream's DATA and sends what flow control allows. */
  write(stream: H2Stream, data: Uint8Array, end: boolean): void {
    if (stream.closed || stream.localEnded) return;
    stream.out.push({ data, offset: 0, end });
    if (end) stream.localEnded = true;
    if (stream.id !== 0) this.sender.send(stream);
  }

  /** The caller ends the stream: RST_STREAM, or out of the queue; its handler hears nothing. */
  reset(stream: H2Stream, code: number): void {
    if (stream.closed) return;
    if (stream.id === 0) {
      const i = this.queued.indexOf(stream);
      if (i >= 0) this.queued.splice(i, 1);
      stream.closed = true;
      return;
    }
    if (this.host.live()) this.writer.push(rstFrame(stream.id, code));
    this.forget(stream, code);
  }

  /** Grants back credit a handler held (see H2StreamHandler.data). */
  consume(stream: H2Stream, bytes: number): void {
    const n = Math.min(Math.max(0, bytes), stream.held);
    if (n === 0) return;
    stream.held -= n;
    this.receive.credit(stream.closed ? undefined : stream, n);
  }

  /**
   * The server ended its side: the call is over. When our side is still open, the stream ends
   * after the rest of this read (`endHalfClosed`), so that an RST_STREAM the server sent right
   * behind its END_STREAM (as nghttp2 does for a reset with data pending) is the reason the
   * caller sees; anything we still meant to send is then cancelled.
   */
  remoteEnd(stream: H2Stream): void {
    stream.remoteEnded = true;
    if (stream.localEnded && stream.out.length === 0) this.end(stream, undefined, undefined);
    else this.halfClosed.push(stream);
  }

  /** A read is over: the streams the server ended during it while ours was open end now, cancelled. */
  endHalfClosed(): void {
    if (this.halfClosed.length === 0) return;
    const streams = this.halfClosed;
    this.halfClosed = [];
    for (const stream of streams) {
      if (stream.closed) continue;
      this.writer.push(rstFrame(stream.id, H2_ERROR.CANCEL));
      this.end(stream, undefined, undefined);
    }
  }

  /** A stream error (RFC 9113 §5.4.2): RST_STREAM to the server, and the handler hears why. */
  streamError(stream: H2Stream, code: number, what: string, kind: "ERR_H2_STREAM" | "ERR_H2_MALFORMED" = "ERR_H2_STREAM"): void {
    if (stream.closed) return;
    this.writer.push(rstFrame(stream.id, code));
    this.end(stream, code, new H2Error(kind, `HTTP/2 stream error from the server: ${what}`, code));
  }

  /** A handler threw: only its stream pays (RST_STREAM INTERNAL_ERROR); the exception is the reason it hears. */
  handlerFailed(stream: H2Stream, error: unknown): void {
    if (stream.closed) return;
    if (this.host.live()) this.writer.push(rstFrame(stream.id, H2_ERROR.INTERNAL_ERROR));
    this.end(stream, H2_ERROR.INTERNAL_ERROR, error);
  }

  /** Ends a stream and tells its handler. */
  end(stream: H2Stream, code: number | undefined, error: unknown): void {
    if (stream.closed) return;
    this.forget(stream, code);
    this.tell(stream, code, error);
  }

  /** Ends a stream that never got (or will never use) its id: closed with `code`, the handler told. */
  refuse(stream: H2Stream, code: number | undefined, error: unknown): void {
    stream.closed = true;
    stream.rstCode = code;
    this.tell(stream, code, error);
  }

  /** Calls the handler's `close`, which must not take the connection down with it. */
  private tell(stream: H2Stream, code: number | undefined, error: unknown): void {
    try {
      stream.handler.close(code, error);
    } catch {
      // The stream is over either way; nothing is left to reset.
    }
  }

  private forget(stream: H2Stream, code: number | undefined): void {
    stream.closed = true;
    stream.rstCode = code;
    stream.out.length = 0;
    // Credit the handler still holds goes back to the connection: the stream can't use it.
    const held = stream.held;
    stream.held = 0;
    if (this.host.live()) this.receive.credit(undefined, held);
    this.open.delete(stream.id);
    this.sender.forget(stream);
    this.host.forgotten();
  }
}
