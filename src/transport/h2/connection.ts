/**
 * A client-side HTTP/2 connection (RFC 9113) over a socket the caller dialled: just what gRPC
 * needs, without node:http2's per-stream Duplex, header objects and async resources, which
 * profiling showed were half of the v3 client's CPU per call (docs/performance.md).
 *
 * What it does: the preface and SETTINGS exchange, streams with request headers and DATA in both
 * directions, flow control both ways (receive windows are replenished at once, since every DATA
 * payload is handed to its stream synchronously), SETTINGS_MAX_CONCURRENT_STREAMS (streams over
 * the limit wait for a slot), RST_STREAM, PING, GOAWAY, CONTINUATION, and a bound on header
 * blocks (SETTINGS_MAX_HEADER_LIST_SIZE, before and while decoding). It does not do server push
 * (disabled in our SETTINGS), priorities, or HPACK indexing on the sending side.
 *
 * Everything written in one tick leaves in one socket write, so a burst of calls costs one
 * syscall rather than one per frame. Frames that reading itself produces (PING and SETTINGS
 * ACKs, WINDOW_UPDATEs) wait for the end of the event loop's I/O phase instead, so that they leave
 * with the requests the completed calls' callers send next rather than in a write of their own.
 */
import type { Socket } from "node:net";
import { HeaderListTooLargeError, HpackDecoder, HpackError, type HeaderField } from "./hpack.js";
import {
  DEFAULT_MAX_FRAME,
  DEFAULT_WINDOW,
  FLAG,
  FRAME,
  FRAME_HEADER,
  H2_ERROR,
  MAX_WINDOW,
  PREFACE,
  SETTING,
  frame,
  goawayFrame,
  rstFrame,
  settingsFrame,
  windowUpdateFrame,
} from "./frames.js";

export { H2_ERROR } from "./frames.js";
export type { HeaderField } from "./hpack.js";

/**
 * Our SETTINGS_MAX_HEADER_LIST_SIZE, and the most a header block may take before it is decoded:
 * etcd's replies carry well under 1 KiB of headers, and without a bound a server could grow one
 * block without end through CONTINUATION frames, or make a small one decode to gigabytes.
 */
export const MAX_HEADER_LIST = 256 * 1024;

/** Receives what happens on one stream. */
export interface H2StreamHandler {
  /** Response headers, or trailers; `end` when the server ended its side with them. */
  headers(fields: readonly HeaderField[], end: boolean): void;
  /** A DATA payload: a view of the socket's buffer, valid as long as the caller holds it. */
  data(chunk: Buffer): void;
  /**
   * The stream is over: `code` undefined when the server ended it (END_STREAM), else the
   * RST_STREAM code it sent (REFUSED_STREAM also for streams a GOAWAY refused); `error` when the
   * connection failed. Not called after the caller's own `reset`.
   */
  close(code: number | undefined, error: unknown): void;
}

/** Receives what happens to the connection. */
export interface H2ConnectionEvents {
  /** The server's first SETTINGS arrived: it speaks HTTP/2 and takes streams. */
  ready(): void;
  /** The server sent GOAWAY: streams above `lastStreamId` were refused, and no new ones may start. */
  goaway(code: number, lastStreamId: number): void;
  /** The socket closed; every stream has been told. */
  close(error: unknown): void;
}

/** How the connection sets up its side. */
export interface H2ConnectionOptions {
  /** Our receive window per stream and for the connection, in bytes. */
  readonly window: number;
}

interface Outgoing {
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
  /** @internal */ sendWindow = 0;
  /** @internal */ recvUnacked = 0;
  /** @internal */ localEnded = false;
  /** @internal */ readonly out: Outgoing[] = [];
  /** @internal */ block: Buffer | undefined;

  /** Created by `H2Connection.request`. */
  constructor(
    private readonly connection: H2Connection,
    /** @internal */ readonly handler: H2StreamHandler,
  ) {}

  /** Sends `data` as DATA (split by frame size and flow control); `end` half-closes after it. */
  write(data: Uint8Array, end: boolean): void {
    this.connection.write(this, data, end);
  }

  /** Ends the stream with RST_STREAM (or takes it out of the queue); its handler hears nothing more. */
  reset(code: number): void {
    this.connection.reset(this, code);
  }
}

/** A client HTTP/2 connection on one socket. */
export class H2Connection {
  /** Set by GOAWAY, by `destroy`, or when the socket closes: `request` throws from then on. */
  usable = true;
  private readonly socket: Socket;
  private readonly events: H2ConnectionEvents;
  private readonly window: number;
  private readonly decoder = new HpackDecoder();
  private readonly streams = new Map<number, H2Stream>();
  private readonly queued: H2Stream[] = [];
  private readonly blocked = new Set<H2Stream>();
  private nextId = 1;
  private maxConcurrent = Number.POSITIVE_INFINITY;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = DEFAULT_MAX_FRAME;
  private sendWindow = DEFAULT_WINDOW;
  private recvUnacked = 0;
  private settled = false;
  private goneAway = false;
  private destroyed = false;
  private failure: unknown;
  private partial: Buffer | undefined;
  private continuation: { readonly id: number; readonly flags: number; readonly chunks: Buffer[]; bytes: number } | undefined;
  private readonly pings: ((error: unknown) => void)[] = [];
  private halfClosed: H2Stream[] = [];
  private pingCount = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private flushScheduled = false;
  /** True while a socket read is being parsed. */
  private reading = false;
  private readonly flushNow = (): void => {
    this.flush();
  };

  /** Sends the preface and our SETTINGS on `socket` (written once it connects) and starts reading. */
  constructor(socket: Socket, options: H2ConnectionOptions, events: H2ConnectionEvents) {
    this.socket = socket;
    this.events = events;
    this.window = Math.min(MAX_WINDOW, Math.max(DEFAULT_WINDOW, options.window));
    socket.on("data", (chunk: Buffer) => {
      this.read(chunk);
    });
    socket.on("error", (error) => {
      this.failure ??= error;
    });
    socket.once("close", () => {
      this.onSocketClose();
    });
    this.push(PREFACE);
    this.push(
      settingsFrame([
        [SETTING.ENABLE_PUSH, 0],
        [SETTING.INITIAL_WINDOW_SIZE, this.window],
        [SETTING.MAX_HEADER_LIST_SIZE, MAX_HEADER_LIST],
      ]),
    );
    if (this.window > DEFAULT_WINDOW) this.push(windowUpdateFrame(0, this.window - DEFAULT_WINDOW));
  }

  /**
   * Opens a stream with an encoded request header block; it starts now, or once a stream slot
   * frees up. Throws once the connection takes no new streams.
   */
  request(block: Buffer, handler: H2StreamHandler): H2Stream {
    if (!this.usable) throw Object.assign(new Error("the HTTP/2 connection takes no new streams"), { code: "ERR_H2_GOAWAY" });
    const stream = new H2Stream(this, handler);
    stream.block = block;
    if (this.streams.size < this.maxConcurrent) this.start(stream);
    else this.queued.push(stream);
    return stream;
  }

  /** Sends a PING; `done` gets null on its ACK, or the connection's failure. False when closed. */
  ping(done: (error: unknown) => void): boolean {
    if (this.destroyed) return false;
    const payload = Buffer.alloc(8);
    payload.writeUInt32BE(++this.pingCount, 4);
    this.pings.push(done);
    this.push(frame(FRAME.PING, 0, 0, payload));
    return true;
  }

  /** Keeps the process alive while the caller has streams on it. */
  ref(): void {
    this.socket.ref();
  }

  /** Lets the process exit while the connection is idle. */
  unref(): void {
    this.socket.unref();
  }

  /** Tears the connection down at once; streams fail with `error` when the socket has closed. */
  destroy(error?: unknown): void {
    if (this.destroyed) return;
    if (error !== undefined) this.failure ??= error;
    this.destroyed = true;
    this.usable = false;
    this.flush();
    this.socket.destroy();
  }

  /** @internal Queues a stream's DATA and sends what flow control allows. */
  write(stream: H2Stream, data: Uint8Array, end: boolean): void {
    if (stream.closed || stream.localEnded) return;
    stream.out.push({ data, offset: 0, end });
    if (end) stream.localEnded = true;
    if (stream.id !== 0) this.send(stream);
  }

  /** @internal */
  reset(stream: H2Stream, code: number): void {
    if (stream.closed) return;
    if (stream.id === 0) {
      const i = this.queued.indexOf(stream);
      if (i >= 0) this.queued.splice(i, 1);
      stream.closed = true;
      return;
    }
    if (!this.destroyed) this.push(rstFrame(stream.id, code));
    this.forget(stream, code);
  }

  private start(stream: H2Stream): void {
    if (this.nextId > MAX_WINDOW) {
      // Stream ids are spent: this connection retires like one that got GOAWAY.
      this.usable = false;
      stream.closed = true;
      stream.rstCode = H2_ERROR.REFUSED_STREAM;
      stream.handler.close(H2_ERROR.REFUSED_STREAM, undefined);
      return;
    }
    stream.id = this.nextId;
    this.nextId += 2;
    stream.sendWindow = this.peerInitialWindow;
    this.streams.set(stream.id, stream);
    const block = stream.block ?? Buffer.alloc(0);
    stream.block = undefined;
    this.sendHeaders(stream.id, block);
    if (stream.out.length > 0) this.send(stream);
  }

  private sendHeaders(id: number, block: Buffer): void {
    const max = this.peerMaxFrame;
    if (block.length <= max) {
      this.push(frame(FRAME.HEADERS, FLAG.END_HEADERS, id, block));
      return;
    }
    this.push(frame(FRAME.HEADERS, 0, id, block.subarray(0, max)));
    for (let at = max; at < block.length; at += max) {
      const last = at + max >= block.length;
      this.push(frame(FRAME.CONTINUATION, last ? FLAG.END_HEADERS : 0, id, block.subarray(at, at + max)));
    }
  }

  /** Sends as much of a stream's queued DATA as both windows allow. */
  private send(stream: H2Stream): void {
    const out = stream.out;
    while (out.length > 0 && !stream.closed) {
      const item = out[0];
      if (item === undefined) break;
      const remaining = item.data.length - item.offset;
      const n = Math.min(remaining, stream.sendWindow, this.sendWindow, this.peerMaxFrame);
      if (n <= 0 && remaining > 0) {
        if (this.sendWindow <= 0) this.blocked.add(stream);
        return;
      }
      const last = n === remaining;
      const flags = last && item.end ? FLAG.END_STREAM : 0;
      this.push(frame(FRAME.DATA, flags, stream.id, item.data.subarray(item.offset, item.offset + n)));
      stream.sendWindow -= n;
      this.sendWindow -= n;
      item.offset += n;
      if (last) out.shift();
    }
  }

  private read(chunk: Buffer): void {
    this.reading = true;
    try {
      this.parse(chunk);
    } finally {
      this.reading = false;
    }
  }

  private parse(chunk: Buffer): void {
    let buffer = chunk;
    if (this.partial !== undefined) {
      buffer = Buffer.concat([this.partial, chunk]);
      this.partial = undefined;
    }
    let at = 0;
    while (buffer.length - at >= FRAME_HEADER && !this.destroyed) {
      const length = ((buffer[at] ?? 0) << 16) | ((buffer[at + 1] ?? 0) << 8) | (buffer[at + 2] ?? 0);
      if (length > DEFAULT_MAX_FRAME) {
        this.protocolError(H2_ERROR.FRAME_SIZE_ERROR, `a frame of ${length} bytes exceeds our SETTINGS_MAX_FRAME_SIZE`);
        return;
      }
      if (buffer.length - at - FRAME_HEADER < length) break;
      const type = buffer[at + 3] ?? 0;
      const flags = buffer[at + 4] ?? 0;
      const id = buffer.readUInt32BE(at + 5) & MAX_WINDOW;
      const payload = buffer.subarray(at + FRAME_HEADER, at + FRAME_HEADER + length);
      at += FRAME_HEADER + length;
      this.onFrame(type, flags, id, payload);
    }
    if (at < buffer.length && !this.destroyed) this.partial = buffer.subarray(at);
    if (this.halfClosed.length > 0) this.endHalfClosed();
  }

  private onFrame(type: number, flags: number, id: number, payload: Buffer): void {
    if (this.continuation !== undefined && (type !== FRAME.CONTINUATION || id !== this.continuation.id)) {
      this.protocolError(H2_ERROR.PROTOCOL_ERROR, "a header block was interrupted by another frame");
      return;
    }
    if (!this.settled && type !== FRAME.SETTINGS) {
      this.protocolError(H2_ERROR.PROTOCOL_ERROR, "the server's preface did not start with SETTINGS");
      return;
    }
    switch (type) {
      case FRAME.DATA:
        this.onDataFrame(flags, id, payload);
        return;
      case FRAME.HEADERS:
        this.onHeadersFrame(flags, id, payload);
        return;
      case FRAME.CONTINUATION:
        this.onContinuation(flags, id, payload);
        return;
      case FRAME.RST_STREAM:
        this.onReset(id, payload);
        return;
      case FRAME.SETTINGS:
        this.onSettings(flags, id, payload);
        return;
      case FRAME.PING:
        this.onPing(flags, id, payload);
        return;
      case FRAME.GOAWAY:
        this.onGoaway(id, payload);
        return;
      case FRAME.WINDOW_UPDATE:
        this.onWindowUpdate(id, payload);
        return;
      case FRAME.PUSH_PROMISE:
        this.protocolError(H2_ERROR.PROTOCOL_ERROR, "PUSH_PROMISE although push is disabled");
        return;
      default:
        // PRIORITY and unknown frame types carry nothing we act on (RFC 9113 §4.1, §5.5).
        return;
    }
  }

  private onDataFrame(flags: number, id: number, payload: Buffer): void {
    if (id === 0) {
      this.protocolError(H2_ERROR.PROTOCOL_ERROR, "DATA on stream 0");
      return;
    }
    const data = this.unpad(flags, payload);
    if (data === undefined) return;
    // Flow control counts the whole payload, padding included, even for streams we forgot.
    this.recvUnacked += payload.length;
    if (this.recvUnacked >= this.window / 2) {
      this.push(windowUpdateFrame(0, this.recvUnacked));
      this.recvUnacked = 0;
    }
    const stream = this.streams.get(id);
    if (stream === undefined) return;
    stream.recvUnacked += payload.length;
    if (data.length > 0) stream.handler.data(data);
    if (stream.closed) return;
    if ((flags & FLAG.END_STREAM) !== 0) this.remoteEnd(stream);
    else if (stream.recvUnacked >= this.window / 2) {
      this.push(windowUpdateFrame(id, stream.recvUnacked));
      stream.recvUnacked = 0;
    }
  }

  private onHeadersFrame(flags: number, id: number, payload: Buffer): void {
    if (id === 0) {
      this.protocolError(H2_ERROR.PROTOCOL_ERROR, "HEADERS on stream 0");
      return;
    }
    let fragment = this.unpad(flags, payload);
    if (fragment === undefined) return;
    if ((flags & FLAG.PRIORITY) !== 0) {
      if (fragment.length < 5) {
        this.protocolError(H2_ERROR.FRAME_SIZE_ERROR, "HEADERS too short for its priority fields");
        return;
      }
      fragment = fragment.subarray(5);
    }
    if ((flags & FLAG.END_HEADERS) !== 0) this.onHeaderBlock(id, flags, fragment);
    else this.continuation = { id, flags, chunks: [Buffer.from(fragment)], bytes: fragment.length };
  }

  private onContinuation(flags: number, id: number, payload: Buffer): void {
    const pending = this.continuation;
    if (pending === undefined) {
      this.protocolError(H2_ERROR.PROTOCOL_ERROR, "CONTINUATION without a header block in progress");
      return;
    }
    // An encoded field never takes more octets than it counts for in the list (32 of overhead
    // each), so a block larger than the list limit cannot be one a server may send us.
    pending.bytes += payload.length;
    if (pending.bytes > MAX_HEADER_LIST) {
      this.protocolError(H2_ERROR.ENHANCE_YOUR_CALM, `a header block grew past ${MAX_HEADER_LIST} bytes in CONTINUATION frames`);
      return;
    }
    pending.chunks.push(Buffer.from(payload));
    if ((flags & FLAG.END_HEADERS) === 0) return;
    this.continuation = undefined;
    this.onHeaderBlock(id, pending.flags, Buffer.concat(pending.chunks));
  }

  private onHeaderBlock(id: number, flags: number, block: Buffer): void {
    // Decoded even for a stream we no longer track: the decoder's table must stay in step.
    let fields: HeaderField[];
    try {
      fields = this.decoder.decode(block, MAX_HEADER_LIST);
    } catch (error) {
      if (!(error instanceof HpackError)) throw error;
      // Either way the decoder's table may now differ from the server's: the connection ends.
      if (error instanceof HeaderListTooLargeError) this.protocolError(H2_ERROR.ENHANCE_YOUR_CALM, `a header block broke our SETTINGS_MAX_HEADER_LIST_SIZE: ${error.message}`);
      else this.protocolError(H2_ERROR.COMPRESSION_ERROR, `a header block could not be decoded: ${error.message}`);
      return;
    }
    const stream = this.streams.get(id);
    if (stream === undefined) return;
    const end = (flags & FLAG.END_STREAM) !== 0;
    stream.handler.headers(fields, end);
    if (end && !stream.closed) this.remoteEnd(stream);
  }

  private onReset(id: number, payload: Buffer): void {
    if (payload.length !== 4) {
      this.protocolError(H2_ERROR.FRAME_SIZE_ERROR, "RST_STREAM of the wrong size");
      return;
    }
    const stream = this.streams.get(id);
    if (stream === undefined) return;
    this.end(stream, payload.readUInt32BE(0), undefined);
  }

  private onSettings(flags: number, id: number, payload: Buffer): void {
    if (id !== 0) {
      this.protocolError(H2_ERROR.PROTOCOL_ERROR, "SETTINGS on a stream");
      return;
    }
    if ((flags & FLAG.ACK) !== 0) return;
    if (payload.length % 6 !== 0) {
      this.protocolError(H2_ERROR.FRAME_SIZE_ERROR, "SETTINGS of the wrong size");
      return;
    }
    for (let at = 0; at < payload.length; at += 6) {
      const key = payload.readUInt16BE(at);
      const value = payload.readUInt32BE(at + 2);
      if (key === SETTING.MAX_CONCURRENT_STREAMS) this.maxConcurrent = value;
      else if (key === SETTING.INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW) {
          this.protocolError(H2_ERROR.FLOW_CONTROL_ERROR, "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1");
          return;
        }
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const stream of this.streams.values()) stream.sendWindow += delta;
      } else if (key === SETTING.MAX_FRAME_SIZE) {
        if (value < DEFAULT_MAX_FRAME || value > 0xff_ffff) {
          this.protocolError(H2_ERROR.PROTOCOL_ERROR, "SETTINGS_MAX_FRAME_SIZE out of range");
          return;
        }
        this.peerMaxFrame = value;
      }
      // HEADER_TABLE_SIZE needs nothing (our encoder never indexes); the rest are advisory.
    }
    this.push(frame(FRAME.SETTINGS, FLAG.ACK, 0, undefined));
    for (const stream of [...this.streams.values()]) this.send(stream);
    this.startQueued();
    if (!this.settled) {
      this.settled = true;
      this.events.ready();
    }
  }

  private onPing(flags: number, id: number, payload: Buffer): void {
    if (id !== 0 || payload.length !== 8) {
      this.protocolError(id !== 0 ? H2_ERROR.PROTOCOL_ERROR : H2_ERROR.FRAME_SIZE_ERROR, "malformed PING");
      return;
    }
    if ((flags & FLAG.ACK) === 0) {
      this.push(frame(FRAME.PING, FLAG.ACK, 0, payload));
      return;
    }
    this.pings.shift()?.(null);
  }

  private onGoaway(id: number, payload: Buffer): void {
    if (id !== 0 || payload.length < 8) {
      this.protocolError(H2_ERROR.PROTOCOL_ERROR, "malformed GOAWAY");
      return;
    }
    const lastStreamId = payload.readUInt32BE(0) & MAX_WINDOW;
    const code = payload.readUInt32BE(4);
    this.goneAway = true;
    this.usable = false;
    this.events.goaway(code, lastStreamId);
    // Streams the server never took did not run: they end as refused, safe to send elsewhere.
    for (const stream of [...this.streams.values()]) {
      if (stream.id > lastStreamId) this.end(stream, H2_ERROR.REFUSED_STREAM, undefined);
    }
    for (const stream of this.queued.splice(0)) {
      stream.closed = true;
      stream.rstCode = H2_ERROR.REFUSED_STREAM;
      stream.handler.close(H2_ERROR.REFUSED_STREAM, undefined);
    }
    this.retireIfDone();
  }

  private onWindowUpdate(id: number, payload: Buffer): void {
    if (payload.length !== 4) {
      this.protocolError(H2_ERROR.FRAME_SIZE_ERROR, "WINDOW_UPDATE of the wrong size");
      return;
    }
    const increment = payload.readUInt32BE(0) & MAX_WINDOW;
    if (id === 0) {
      if (increment === 0 || this.sendWindow + increment > MAX_WINDOW) {
        this.protocolError(increment === 0 ? H2_ERROR.PROTOCOL_ERROR : H2_ERROR.FLOW_CONTROL_ERROR, "invalid connection WINDOW_UPDATE");
        return;
      }
      this.sendWindow += increment;
      const blocked = [...this.blocked];
      this.blocked.clear();
      for (const stream of blocked) this.send(stream);
      return;
    }
    const stream = this.streams.get(id);
    if (stream === undefined) return;
    if (increment === 0 || stream.sendWindow + increment > MAX_WINDOW) {
      const code = increment === 0 ? H2_ERROR.PROTOCOL_ERROR : H2_ERROR.FLOW_CONTROL_ERROR;
      this.push(rstFrame(id, code));
      this.end(stream, code, undefined);
      return;
    }
    stream.sendWindow += increment;
    this.send(stream);
  }

  /** The payload without its padding, or undefined (after a connection error) when the padding is invalid. */
  private unpad(flags: number, payload: Buffer): Buffer | undefined {
    if ((flags & FLAG.PADDED) === 0) return payload;
    const pad = payload[0];
    if (pad === undefined || pad >= payload.length) {
      this.protocolError(H2_ERROR.PROTOCOL_ERROR, "padding longer than the frame");
      return undefined;
    }
    return payload.subarray(1, payload.length - pad);
  }

  /**
   * The server ended its side: the call is over. When our side is still open, the stream ends
   * after the rest of this read, so that an RST_STREAM the server sent right behind its
   * END_STREAM (as nghttp2 does for a reset with data pending) is the reason the caller sees;
   * anything we still meant to send is then cancelled.
   */
  private remoteEnd(stream: H2Stream): void {
    if (stream.localEnded && stream.out.length === 0) this.end(stream, undefined, undefined);
    else this.halfClosed.push(stream);
  }

  private endHalfClosed(): void {
    const streams = this.halfClosed;
    this.halfClosed = [];
    for (const stream of streams) {
      if (stream.closed) continue;
      this.push(rstFrame(stream.id, H2_ERROR.CANCEL));
      this.end(stream, undefined, undefined);
    }
  }

  /** Ends a stream and tells its handler. */
  private end(stream: H2Stream, code: number | undefined, error: unknown): void {
    if (stream.closed) return;
    this.forget(stream, code);
    stream.handler.close(code, error);
  }

  private forget(stream: H2Stream, code: number | undefined): void {
    stream.closed = true;
    stream.rstCode = code;
    stream.out.length = 0;
    this.streams.delete(stream.id);
    this.blocked.delete(stream);
    this.startQueued();
    this.retireIfDone();
  }

  private startQueued(): void {
    while (this.queued.length > 0 && this.streams.size < this.maxConcurrent && !this.goneAway && !this.destroyed) {
      const next = this.queued.shift();
      if (next !== undefined) this.start(next);
    }
  }

  /** After GOAWAY, the connection closes once its last stream is done. */
  private retireIfDone(): void {
    if (this.goneAway && this.streams.size === 0 && this.queued.length === 0 && !this.destroyed) {
      this.push(goawayFrame(H2_ERROR.NO_ERROR));
      this.flush();
      this.destroyed = true;
      this.socket.end();
    }
  }

  private protocolError(code: number, what: string): void {
    if (this.destroyed) return;
    this.push(goawayFrame(code));
    this.destroy(Object.assign(new Error(`HTTP/2 protocol error from the server: ${what}`), { code: "ERR_H2_PROTOCOL" }));
  }

  private onSocketClose(): void {
    this.destroyed = true;
    this.usable = false;
    const error = this.failure ?? Object.assign(new Error("the HTTP/2 connection closed"), { code: "ERR_H2_CLOSED" });
    for (const stream of [...this.streams.values()]) this.end(stream, undefined, error);
    for (const stream of this.queued.splice(0)) {
      stream.closed = true;
      stream.handler.close(undefined, error);
    }
    for (const ping of this.pings.splice(0)) ping(error);
    this.events.close(this.failure);
  }

  private push(buffer: Buffer): void {
    this.pending.push(buffer);
    this.pendingBytes += buffer.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // A nextTick flush would run before the promise reactions of the calls this read
      // completed, so an ACK would go alone and their callers' next requests in a second write.
      if (this.reading) setImmediate(this.flushNow);
      else process.nextTick(this.flushNow);
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const pending = this.pending;
    if (pending.length === 0) return;
    this.pending = [];
    const bytes = this.pendingBytes;
    this.pendingBytes = 0;
    if (this.socket.destroyed) return;
    if (pending.length === 1) {
      this.socket.write(pending[0] ?? Buffer.alloc(0));
    } else if (bytes <= 65_536) {
      this.socket.write(Buffer.concat(pending, bytes));
    } else {
      this.socket.cork();
      for (const buffer of pending) this.socket.write(buffer);
      this.socket.uncork();
    }
  }
}
