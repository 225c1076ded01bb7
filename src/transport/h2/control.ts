/**
 * Two pieces of an HTTP/2 connection's bookkeeping that need no knowledge of its states or
 * streams' lives, kept apart from connection.ts so each can be read (and changed) alone:
 * - `PingLedger`: our PINGs awaiting their ACK, matched by payload and bounded in number;
 * - `ReceiveWindows`: what the server may still send us, on the connection and per stream, and
 *   the WINDOW_UPDATEs that grant back what the application consumed.
 */
import { FRAME, frame, windowUpdateFrame } from "./frames.js";
import type { H2Stream } from "./stream.js";
import type { FrameWriter } from "./writer.js";

/** Our PINGs awaiting their ACK; each settles once, by its payload, or with the connection's failure. */
export class PingLedger {
  private readonly waiting = new Map<string, (error: unknown) => void>();
  private count = 0;

  /** Pings go out through `writer`; at most `max` may await their ACK at once. */
  constructor(
    private readonly writer: FrameWriter,
    private readonly max: number,
  ) {}

  /** Sends a PING; `done` gets null on its ACK. False (nothing sent) when `max` already wait. */
  send(done: (error: unknown) => void): boolean {
    if (this.waiting.size >= this.max) return false;
    const payload = Buffer.alloc(8);
    payload.writeUInt32BE(++this.count, 4);
    this.waiting.set(payload.toString("hex"), done);
    this.writer.push(frame(FRAME.PING, 0, 0, payload));
    return true;
  }

  /** A PING ACK arrived. Matched by payload: an ACK we did not ask for (or one repeated) settles nothing. */
  acknowledged(payload: Buffer): void {
    const key = payload.toString("hex");
    const done = this.waiting.get(key);
    if (done === undefined) return;
    this.waiting.delete(key);
    done(null);
  }

  /** The connection is gone: every PING still waiting hears `error`. */
  failAll(error: unknown): void {
    const all = [...this.waiting.values()];
    this.waiting.clear();
    for (const done of all) done(error);
  }
}

/**
 * Receive-side flow control. Credit goes back as the application consumes, not as bytes arrive,
 * in WINDOW_UPDATEs of at least half a window, so that a reader that stops reading stops the server.
 */
export class ReceiveWindows {
  /** What the server may still send on the connection; below 0 it overran. */
  private window: number;
  /** Consumed bytes not yet granted back on the connection. */
  private consumed = 0;

  /** `size` is our window per stream and for the connection (already announced to the server). */
  constructor(
    private readonly writer: FrameWriter,
    readonly size: number,
  ) {
    this.window = size;
  }

  /** Charges `n` bytes of DATA (padding included) to the connection; false when that overran its window. */
  take(n: number): boolean {
    this.window -= n;
    return this.window >= 0;
  }

  /** Counts `n` consumed bytes and sends WINDOW_UPDATEs once half a window is owed (the stream's only while it may still send). */
  credit(stream: H2Stream | undefined, n: number): void {
    if (n <= 0) return;
    this.consumed += n;
    if (this.consumed >= this.size / 2) {
      this.writer.push(windowUpdateFrame(0, this.consumed));
      this.window += this.consumed;
      this.consumed = 0;
    }
    if (stream === undefined || stream.remoteEnded) return;
    stream.recvConsumed += n;
    if (stream.recvConsumed >= this.size / 2) {
      this.writer.push(windowUpdateFrame(stream.id, stream.recvConsumed));
      stream.recvWindow += stream.recvConsumed;
      stream.recvConsumed = 0;
    }
  }
}
