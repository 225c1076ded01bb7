/**
 * The sending half of an HTTP/2 connection: request header blocks, and DATA framed as both
 * flow-control windows (the connection's and the stream's) and the socket allow. A stream that
 * has to wait for connection window or for the socket to drain is parked until `resume`; one
 * waiting for its own window is sent again by the connection when its WINDOW_UPDATE arrives.
 */
import { DEFAULT_MAX_FRAME, DEFAULT_WINDOW, FLAG, FRAME, MAX_WINDOW, frame } from "./frames.js";
import type { H2Stream } from "./stream.js";
import type { FrameWriter } from "./writer.js";

/** Frames and sends requests and DATA for one connection. */
export class DataSender {
  /** The connection's send window: what the peer lets us send on all streams together. */
  window = DEFAULT_WINDOW;
  /** The peer's SETTINGS_MAX_FRAME_SIZE. */
  maxFrame = DEFAULT_MAX_FRAME;
  private readonly parked = new Set<H2Stream>();

  /** A sender writing through `writer`. */
  constructor(private readonly writer: FrameWriter) {}

  /** Sends a request header block, in CONTINUATION frames past the peer's frame size. */
  headers(id: number, block: Buffer): void {
    const max = this.maxFrame;
    if (block.length <= max) {
      this.writer.push(frame(FRAME.HEADERS, FLAG.END_HEADERS, id, block));
      return;
    }
    this.writer.push(frame(FRAME.HEADERS, 0, id, block.subarray(0, max)));
    for (let at = max; at < block.length; at += max) {
      const last = at + max >= block.length;
      this.writer.push(frame(FRAME.CONTINUATION, last ? FLAG.END_HEADERS : 0, id, block.subarray(at, at + max)));
    }
  }

  /** Sends as much of a stream's queued DATA as both windows allow. */
  send(stream: H2Stream): void {
    const out = stream.out;
    while (out.length > 0 && !stream.closed) {
      const item = out[0];
      if (item === undefined) break;
      const remaining = item.data.length - item.offset;
      if (remaining === 0) {
        // An empty DATA costs no window, so it goes even when a window is spent (or negative).
        if (item.end) this.writer.push(frame(FRAME.DATA, FLAG.END_STREAM, stream.id, undefined));
        out.shift();
        continue;
      }
      const n = Math.min(remaining, stream.sendWindow, this.window, this.maxFrame);
      if (n <= 0 || this.writer.blocked) {
        // Waits for a connection WINDOW_UPDATE or the socket's 'drain' (a stream window's own update calls send).
        if (this.window <= 0 || this.writer.blocked) this.parked.add(stream);
        return;
      }
      const last = n === remaining;
      const flags = last && item.end ? FLAG.END_STREAM : 0;
      this.writer.push(frame(FRAME.DATA, flags, stream.id, item.data.subarray(item.offset, item.offset + n)));
      stream.sendWindow -= n;
      this.window -= n;
      item.offset += n;
      if (last) out.shift();
    }
  }

  /** A connection WINDOW_UPDATE; false (nothing changed) when it would pass 2^31-1, a FLOW_CONTROL_ERROR. */
  grow(increment: number): boolean {
    if (this.window + increment > MAX_WINDOW) return false;
    this.window += increment;
    this.resume();
    return true;
  }

  /** Sends what waited for connection window or for the socket to drain. */
  resume(): void {
    const parked = [...this.parked];
    this.parked.clear();
    for (const stream of parked) this.send(stream);
  }

  /** The stream is over: it waits for nothing any more. */
  forget(stream: H2Stream): void {
    this.parked.delete(stream);
  }
}
