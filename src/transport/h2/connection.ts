/**
 * A client-side HTTP/2 connection (RFC 9113) over a socket the caller dialled: just what gRPC
 * needs, without node:http2's per-stream Duplex, header objects and async resources, which
 * profiling showed were half of the v3 client's CPU per call (docs/performance.md).
 *
 * One state, `state`:
 * - `preface`: our preface is sent, the server's first SETTINGS not yet seen; streams may be
 *   opened (they queue in the socket until it connects);
 * - `open`: streams start at once (or wait for a SETTINGS_MAX_CONCURRENT_STREAMS slot);
 * - `draining`: no new streams; those started finish. Reached by GOAWAY, or by spending
 *   `maxStreamId` stream ids (rotation, well before the 2^31 of the protocol);
 * - `closed`: the socket is gone or going; every stream has been or is about to be told.
 * Leaving `preface`/`open` is one path, `retire`, which tells the owner once (`retired`).
 *
 * The wire format lives in `codec.ts` (frames in), `frames.ts` (frames out) and `hpack.ts`;
 * DATA within the send windows in `sender.ts`; the receive windows and our PINGs in
 * `control.ts`; the stream table and the one path by which a stream ends in `streams.ts`;
 * batching and back-pressure in `writer.ts`. It does not do server push (disabled
 * in our SETTINGS), priorities, or HPACK indexing on the sending side.
 */
import type { Socket } from "node:net";
import { FrameParser, H2CodecError, type FrameSink, type SettingEntry } from "./codec.js";
import { HeaderListTooLargeError, HpackDecoder, HpackError, type HeaderField } from "./hpack.js";
import { HpackEncoder } from "./hpack-encode.js";
import { DEFAULT_WINDOW, FLAG, FRAME, H2_ERROR, MAX_WINDOW, PREFACE, SETTING, frame, goawayFrame, settingsFrame, windowUpdateFrame } from "./frames.js";
import { H2Stream, type H2StreamHandler } from "./stream.js";
import { StreamTable } from "./streams.js";
import { DataSender } from "./sender.js";
import { PingLedger, ReceiveWindows } from "./control.js";
import { checkResponseBlock } from "./fields.js";
import { FrameWriter } from "./writer.js";

import { H2Error, type H2ConnectionEvents, type H2ConnectionOptions, type H2State, type RetireReason } from "./contract.js";

export { H2_ERROR } from "./frames.js";
export type { HeaderField } from "./hpack.js";
export { H2Stream, type H2StreamHandler } from "./stream.js";
export { H2Error, type H2ConnectionEvents, type H2ConnectionOptions, type H2ErrorCode, type H2State, type RetireReason } from "./contract.js";

/** A client HTTP/2 connection on one socket. */
export class H2Connection {
  /** The lowest last-stream-id of the server's GOAWAYs; -1 before any. */
  goawayLastStreamId = -1;
  private current: H2State = "preface";
  private readonly socket: Socket;
  private readonly events: H2ConnectionEvents;
  private readonly options: H2ConnectionOptions;
  private readonly decoder = new HpackDecoder();
  private readonly encoder = new HpackEncoder();
  private readonly parser: FrameParser;
  private readonly writer: FrameWriter;
  private readonly sender: DataSender;
  private readonly table: StreamTable;
  /** The table's open streams and its queue, which the connection reads on most frames. */
  private readonly streams: Map<number, H2Stream>;
  private readonly queued: H2Stream[];
  private readonly pings: PingLedger;
  private readonly receive: ReceiveWindows;
  private nextId = 1;
  private maxConcurrent = Number.POSITIVE_INFINITY;
  private peerInitialWindow = DEFAULT_WINDOW;
  private failure: unknown;

  /** Sends the preface and our SETTINGS on `socket` (written once it connects) and starts reading. */
  constructor(socket: Socket, options: H2ConnectionOptions, events: H2ConnectionEvents) {
    this.socket = socket;
    this.events = events;
    this.options = options;
    const window = Math.min(MAX_WINDOW, Math.max(DEFAULT_WINDOW, options.window));
    this.writer = new FrameWriter(socket, () => {
      this.sender.resume();
    });
    this.sender = new DataSender(this.writer);
    this.receive = new ReceiveWindows(this.writer, window);
    this.pings = new PingLedger(this.writer, options.maxOutstandingPings);
    this.table = new StreamTable(this.writer, this.sender, this.receive, {
      live: () => this.current !== "closed",
      forgotten: () => {
        this.startQueued();
        this.retireIfDone();
      },
    });
    this.streams = this.table.open;
    this.queued = this.table.queued;
    this.parser = new FrameParser({ maxHeaderBlockBytes: options.maxHeaderListBytes, maxSettingsEntries: options.maxSettingsEntries }, this.sink());
    socket.on("data", (chunk: Buffer) => {
      this.read(chunk);
    });
    socket.on("error", (error) => {
      this.failure ??= error;
    });
    socket.once("close", () => {
      this.onSocketClose();
    });
    this.writer.push(PREFACE);
    this.writer.push(
      settingsFrame([
        [SETTING.ENABLE_PUSH, 0],
        [SETTING.INITIAL_WINDOW_SIZE, window],
        [SETTING.MAX_HEADER_LIST_SIZE, options.maxHeaderListBytes],
      ]),
    );
    if (window > DEFAULT_WINDOW) this.writer.push(windowUpdateFrame(0, window - DEFAULT_WINDOW));
  }

  /** See the file comment. */
  get state(): H2State {
    return this.current;
  }

  /** True while `request` may be called. */
  get takesStreams(): boolean {
    return this.current === "preface" || this.current === "open";
  }

  /**
   * Opens a stream with its request header fields, which must have passed `checkFields`
   * (hpack-encode.ts; the block is encoded when the stream starts, which may be later); it starts
   * now, or once a stream slot frees up. Throws H2Error once the connection takes no new streams
   * or its queue is full.
   */
  request(fields: readonly HeaderField[], handler: H2StreamHandler): H2Stream {
    // A rotated connection still starts the calls its owner admitted before it rotated (a
    // session starts every waiting call at once when it becomes ready); the owner sends no
    // others. Stream ids past maxStreamId remain until 2^31, where `start` refuses them.
    const rotated = this.current === "draining" && this.goawayLastStreamId < 0;
    if (!this.takesStreams && !rotated) throw new H2Error("ERR_H2_GOAWAY", "the HTTP/2 connection takes no new streams");
    const stream = new H2Stream(this.table, handler);
    stream.fields = fields;
    if (this.streams.size < this.maxConcurrent) this.start(stream);
    else if (this.queued.length >= this.options.maxPendingStreams) {
      throw new H2Error("ERR_H2_PENDING_LIMIT", `${this.queued.length} streams already wait for a slot on this connection (maxPendingStreams)`);
    } else this.queued.push(stream);
    return stream;
  }

  /** Sends a PING; `done` gets null on its ACK, or the connection's failure. False when closed or too many await their ACK. */
  ping(done: (error: unknown) => void): boolean {
    return this.current !== "closed" && this.pings.send(done);
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
  destroy(error?: unknown, reason: RetireReason = "destroyed"): void {
    if (this.current === "closed" && this.socket.destroyed) return;
    if (error !== undefined) this.failure ??= error;
    this.retire(reason, "closed", error);
    this.parser.stop();
    this.writer.flush();
    this.socket.destroy();
  }

  private sink(): FrameSink {
    return {
      data: (id, flags, data, flowLength) => {
        this.onData(id, flags, data, flowLength);
      },
      headers: (id, flags, block) => {
        this.onHeaderBlock(id, flags, block);
      },
      reset: (id, code) => {
        const stream = this.known(id);
        if (stream !== undefined) this.table.end(stream, code, undefined);
      },
      settings: (ack, entries) => {
        if (!ack) this.onSettings(entries);
      },
      ping: (ack, payload) => {
        this.onPing(ack, payload);
      },
      goaway: (lastStreamId) => {
        this.onGoaway(lastStreamId);
      },
      windowUpdate: (id, increment) => {
        this.onWindowUpdate(id, increment);
      },
    };
  }

  /**
   * The first path out of `preface`/`open` (to `draining` or `closed`) tells the owner; a
   * later one only moves `draining` on to `closed`.
   */
  private retire(reason: RetireReason, next: "draining" | "closed", error: unknown): void {
    if (this.current === "closed") return;
    const first = this.takesStreams;
    this.current = next;
    if (first) this.events.retired(reason, error);
  }

  private start(stream: H2Stream): void {
    if (this.nextId > MAX_WINDOW) {
      // Only streams queued before a rotation could get here: they end refused, i.e. never sent.
      this.table.refuse(stream, H2_ERROR.REFUSED_STREAM, undefined);
      return;
    }
    stream.id = this.nextId;
    this.nextId += 2;
    stream.sendWindow = this.peerInitialWindow;
    stream.recvWindow = this.receive.size;
    this.streams.set(stream.id, stream);
    // Encoded now, in the order HEADERS leave: the encoder's table must match the server's.
    const block = this.encoder.encode(stream.fields ?? []);
    stream.fields = undefined;
    this.sender.headers(stream.id, block);
    if (stream.out.length > 0) this.sender.send(stream);
    // Rotation: the streams it has finish here while the owner dials a fresh connection.
    if (stream.id >= this.options.maxStreamId && this.takesStreams) this.retire("exhausted", "draining", undefined);
  }

  private read(chunk: Buffer): void {
    this.writer.reading = true;
    try {
      this.parser.push(chunk);
    } catch (error) {
      // Whatever escaped (a codec error, or a fault of ours) ends this connection, not the process.
      if (error instanceof H2CodecError) this.protocolError(error.h2Code, error.message);
      else this.protocolError(H2_ERROR.INTERNAL_ERROR, `reading failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      this.writer.reading = false;
    }
    this.table.endHalfClosed();
  }

  /** The open stream `id`, or undefined for one that is over; a stream never opened is a PROTOCOL_ERROR (RFC 9113 §5.1). */
  private known(id: number): H2Stream | undefined {
    const stream = this.streams.get(id);
    if (stream !== undefined) return stream;
    if (id % 2 === 0 || id >= this.nextId) this.protocolError(H2_ERROR.PROTOCOL_ERROR, `a frame on stream ${id}, which we never opened`);
    return undefined;
  }

  private onData(id: number, flags: number, data: Buffer, flowLength: number): void {
    if (!this.receive.take(flowLength)) {
      this.protocolError(H2_ERROR.FLOW_CONTROL_ERROR, "DATA beyond the connection's receive window");
      return;
    }
    const stream = this.known(id);
    if (stream === undefined || stream.remoteEnded) {
      // Flow control counts every payload, padding included, even for streams that are over.
      this.receive.credit(undefined, flowLength);
      if (stream !== undefined) this.table.streamError(stream, H2_ERROR.STREAM_CLOSED, "DATA after the server ended the stream");
      return;
    }
    stream.recvWindow -= flowLength;
    if (stream.recvWindow < 0) {
      this.receive.credit(undefined, flowLength);
      this.table.streamError(stream, H2_ERROR.FLOW_CONTROL_ERROR, "DATA beyond the stream's receive window");
      return;
    }
    let kept = false;
    if (data.length > 0) {
      try {
        kept = stream.handler.data(data) === false;
      } catch (error) {
        this.receive.credit(undefined, flowLength);
        this.table.handlerFailed(stream, error);
        return;
      }
    }
    if (kept) stream.held += data.length;
    this.receive.credit(stream.closed ? undefined : stream, kept ? flowLength - data.length : flowLength);
    if (stream.closed) return;
    if ((flags & FLAG.END_STREAM) !== 0) this.table.remoteEnd(stream);
  }

  private onHeaderBlock(id: number, flags: number, block: Buffer): void {
    // Decoded even for a stream we no longer track: the decoder's table must stay in step.
    let fields: HeaderField[];
    try {
      fields = this.decoder.decode(block, this.options.maxHeaderListBytes);
    } catch (error) {
      if (!(error instanceof HpackError)) throw error;
      // Either way the decoder's table may now differ from the server's: the connection ends.
      if (error instanceof HeaderListTooLargeError) this.protocolError(H2_ERROR.ENHANCE_YOUR_CALM, `a header block broke our SETTINGS_MAX_HEADER_LIST_SIZE: ${error.message}`);
      else this.protocolError(H2_ERROR.COMPRESSION_ERROR, `a header block could not be decoded: ${error.message}`);
      return;
    }
    const stream = this.known(id);
    if (stream === undefined) return;
    if (stream.remoteEnded) {
      this.table.streamError(stream, H2_ERROR.STREAM_CLOSED, "HEADERS after the server ended the stream");
      return;
    }
    const end = (flags & FLAG.END_STREAM) !== 0;
    const verdict = checkResponseBlock(fields, stream.phase, end);
    if (!verdict.ok) {
      this.table.streamError(stream, H2_ERROR.PROTOCOL_ERROR, `malformed response: ${verdict.problem}`, "ERR_H2_MALFORMED");
      return;
    }
    stream.phase = verdict.next;
    try {
      stream.handler.headers(fields, end);
    } catch (error) {
      this.table.handlerFailed(stream, error);
      return;
    }
    if (end && !stream.closed) this.table.remoteEnd(stream);
  }

  private onSettings(entries: readonly SettingEntry[]): void {
    for (const [key, value] of entries) {
      if (key === SETTING.MAX_CONCURRENT_STREAMS) this.maxConcurrent = value;
      else if (key === SETTING.INITIAL_WINDOW_SIZE) {
        const delta = value - this.peerInitialWindow;
        for (const stream of this.streams.values()) {
          if (stream.sendWindow + delta > MAX_WINDOW) {
            this.protocolError(H2_ERROR.FLOW_CONTROL_ERROR, "SETTINGS_INITIAL_WINDOW_SIZE took a stream's window past 2^31-1");
            return;
          }
        }
        this.peerInitialWindow = value;
        for (const stream of this.streams.values()) stream.sendWindow += delta;
      } else if (key === SETTING.MAX_FRAME_SIZE) this.sender.maxFrame = value;
      else if (key === SETTING.HEADER_TABLE_SIZE) this.encoder.peerTableSize(value);
      // The rest are advisory.
    }
    this.pushControl(frame(FRAME.SETTINGS, FLAG.ACK, 0, undefined));
    for (const stream of [...this.streams.values()]) this.sender.send(stream);
    this.startQueued();
    if (this.current === "preface") {
      this.current = "open";
      this.events.ready();
    }
  }

  private onPing(ack: boolean, payload: Buffer): void {
    if (!ack) {
      this.pushControl(frame(FRAME.PING, FLAG.ACK, 0, payload));
      return;
    }
    this.pings.acknowledged(payload);
  }

  /** Queues an ACK; owing more than `maxQueuedControlFrames` means the peer floods us (CVE-2019-9512/9515). */
  private pushControl(buffer: Buffer): void {
    if (this.writer.queuedControl >= this.options.maxQueuedControlFrames) {
      this.protocolError(H2_ERROR.ENHANCE_YOUR_CALM, `more than ${this.options.maxQueuedControlFrames} PING/SETTINGS ACKs owed at once (a flood)`);
      return;
    }
    this.writer.push(buffer, true);
  }

  private onGoaway(lastStreamId: number): void {
    this.goawayLastStreamId = this.goawayLastStreamId < 0 ? lastStreamId : Math.min(this.goawayLastStreamId, lastStreamId);
    this.retire("goaway", "draining", undefined);
    // Streams the server never took did not run: they end as refused, safe to send elsewhere.
    for (const stream of [...this.streams.values()]) {
      if (stream.id > lastStreamId) this.table.end(stream, H2_ERROR.REFUSED_STREAM, undefined);
    }
    for (const stream of this.queued.splice(0)) this.table.refuse(stream, H2_ERROR.REFUSED_STREAM, undefined);
    this.retireIfDone();
  }

  private onWindowUpdate(id: number, increment: number): void {
    if (id === 0) {
      if (!this.sender.grow(increment)) this.protocolError(H2_ERROR.FLOW_CONTROL_ERROR, "a connection WINDOW_UPDATE past 2^31-1");
      return;
    }
    const stream = this.known(id);
    if (stream === undefined) return;
    if (increment === 0 || stream.sendWindow + increment > MAX_WINDOW) {
      this.table.streamError(stream, increment === 0 ? H2_ERROR.PROTOCOL_ERROR : H2_ERROR.FLOW_CONTROL_ERROR, "invalid stream WINDOW_UPDATE");
      return;
    }
    stream.sendWindow += increment;
    this.sender.send(stream);
  }

  private startQueued(): void {
    while (this.queued.length > 0 && this.streams.size < this.maxConcurrent && this.current !== "closed" && this.goawayLastStreamId < 0) {
      const next = this.queued.shift();
      if (next !== undefined) this.start(next);
    }
  }

  /** A draining connection closes once its last stream is done. */
  private retireIfDone(): void {
    if (this.current === "draining" && this.streams.size === 0 && this.queued.length === 0) {
      this.current = "closed";
      this.parser.stop();
      this.writer.push(goawayFrame(H2_ERROR.NO_ERROR));
      this.writer.end();
    }
  }

  private protocolError(code: number, what: string): void {
    if (this.current === "closed") return;
    this.writer.push(goawayFrame(code));
    this.destroy(new H2Error("ERR_H2_PROTOCOL", `HTTP/2 protocol error from the server: ${what}`, code), "protocol");
  }

  private onSocketClose(): void {
    this.parser.stop();
    const error = this.failure ?? new H2Error("ERR_H2_CLOSED", "the HTTP/2 connection closed");
    this.retire("socket", "closed", this.failure);
    for (const stream of [...this.streams.values()]) this.table.end(stream, undefined, error);
    for (const stream of this.queued.splice(0)) this.table.refuse(stream, undefined, error);
    this.pings.failAll(error);
    this.events.close(this.failure);
  }
}
