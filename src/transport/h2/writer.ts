/**
 * The sending side of an HTTP/2 connection: frames queue here and leave in as few socket writes
 * as possible, and not while the socket pushes back.
 *
 * Everything written in one tick leaves in one socket write, so a burst of calls costs one
 * syscall rather than one per frame. Frames that reading itself produces (PING and SETTINGS
 * ACKs, WINDOW_UPDATEs) wait for the end of the event loop's I/O phase instead, so that they leave
 * with the requests the completed calls' callers send next rather than in a write of their own.
 * When `socket.write()` returns false, nothing more is handed to the socket until 'drain', and
 * the connection frames no more DATA (it stays in its streams' queues, as the caller's buffers);
 * what does queue here is bounded by the pending-stream limit (HEADERS) and the connection's
 * control-frame limit (ACKs, counted in `queuedControl`).
 */
import type { Socket } from "node:net";

/** DATA framed in one tick beyond this waits for the next flush: a 100 MiB write is not copied into frames at once. */
const HIGH_WATER = 1024 * 1024;

/** Batches frames into socket writes and honours the socket's back-pressure. */
export class FrameWriter {
  /** True while a socket read is being parsed: flushes then wait for the end of the I/O phase. */
  reading = false;
  /** ACK frames queued and not yet handed to the socket: what a PING or SETTINGS flood would grow. */
  queuedControl = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private flushScheduled = false;
  private waitingForDrain = false;
  // Set when `blocked` said true: `drained` is owed once the queue has gone out.
  private throttled = false;
  private readonly flushNow = (): void => {
    this.flush();
  };

  /** A writer for `socket`; `drained` runs once DATA it held back (see `blocked`) may be framed again. */
  constructor(
    private readonly socket: Socket,
    private readonly drained: () => void,
  ) {
    socket.on("drain", () => {
      this.waitingForDrain = false;
      this.throttled = true;
      this.flush();
    });
  }

  /**
   * True while the socket pushes back, or while a tick has queued `HIGH_WATER` bytes already:
   * DATA should then stay in its streams' queues, unframed, until `drained` is called.
   */
  get blocked(): boolean {
    if (this.waitingForDrain || this.pendingBytes >= HIGH_WATER) {
      this.throttled = true;
      return true;
    }
    return false;
  }

  /** Bytes queued and not yet handed to the socket. */
  get queuedBytes(): number {
    return this.pendingBytes;
  }

  /** Queues one frame; `control` marks an ACK the peer's frames made us owe. */
  push(buffer: Buffer, control = false): void {
    this.pending.push(buffer);
    this.pendingBytes += buffer.length;
    if (control) this.queuedControl++;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // A nextTick flush would run before the promise reactions of the calls this read
      // completed, so an ACK would go alone and their callers' next requests in a second write.
      if (this.reading) setImmediate(this.flushNow);
      else process.nextTick(this.flushNow);
    }
  }

  /** Hands everything queued to the socket, unless it asked us to wait for 'drain'. */
  flush(): void {
    this.flushScheduled = false;
    if (this.waitingForDrain) return;
    const accepting = this.write();
    if (this.throttled && accepting && !this.socket.destroyed) {
      this.throttled = false;
      this.drained();
    }
  }

  /** Writes the queue; false when the socket asked us to wait for 'drain'. */
  private write(): boolean {
    const pending = this.pending;
    if (pending.length === 0) return true;
    this.pending = [];
    const bytes = this.pendingBytes;
    this.pendingBytes = 0;
    this.queuedControl = 0;
    const socket = this.socket;
    if (socket.destroyed) return true;
    let more: boolean;
    if (pending.length === 1) {
      more = socket.write(pending[0] ?? Buffer.alloc(0));
    } else if (bytes <= 65_536) {
      more = socket.write(Buffer.concat(pending, bytes));
    } else {
      socket.cork();
      more = true;
      for (const buffer of pending) more = socket.write(buffer) && more;
      socket.uncork();
    }
    if (!more) this.waitingForDrain = true;
    return more;
  }

  /** Writes what is queued, back-pressure or not, and ends the socket: the connection's last words. */
  end(): void {
    this.waitingForDrain = false;
    this.flush();
    this.socket.end();
  }
}
