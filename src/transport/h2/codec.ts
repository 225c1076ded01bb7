/**
 * The HTTP/2 frame codec of the client side (RFC 9113 §4, §6), with no socket and no stream
 * state: bytes in, one sink call per frame out. It checks everything a frame says about itself
 * (its size against our SETTINGS_MAX_FRAME_SIZE, fixed payload sizes, stream 0 or not, padding,
 * the first frame being SETTINGS, CONTINUATION runs and their size, SETTINGS values) and throws
 * `H2CodecError` carrying the connection error code RFC 9113 names. What needs stream state
 * (idle streams, windows) is the connection's part. Buffered bytes never exceed one frame plus
 * one header block, whatever the input; `test/fuzz/h2.ts` checks that with arbitrary bytes.
 */
import { DEFAULT_MAX_FRAME, FLAG, FRAME, FRAME_HEADER, H2_ERROR, MAX_WINDOW, SETTING } from "./frames.js";

/** Bytes from the peer that are not HTTP/2 we accept: a connection error with its RFC 9113 code. */
export class H2CodecError extends Error {
  /** The HTTP/2 error code to send in GOAWAY (RFC 9113 §7). */
  readonly h2Code: number;

  /** Builds the error from the code and what the bytes broke. */
  constructor(h2Code: number, message: string) {
    super(message);
    this.name = "H2CodecError";
    this.h2Code = h2Code;
  }
}

/** One SETTINGS entry: identifier and value. */
export type SettingEntry = readonly [id: number, value: number];

/** Receives the frames the parser decodes, one call each; header blocks arrive whole. */
export interface FrameSink {
  /** DATA without its padding; `flowLength` is what it costs in flow control (padding included). */
  data(id: number, flags: number, data: Buffer, flowLength: number): void;
  /** A complete header block (HEADERS plus any CONTINUATION), with the HEADERS frame's flags. */
  headers(id: number, flags: number, block: Buffer): void;
  /** RST_STREAM. */
  reset(id: number, code: number): void;
  /** SETTINGS (its entries already range-checked) or its ACK. */
  settings(ack: boolean, entries: readonly SettingEntry[]): void;
  /** PING or its ACK, with the 8 opaque bytes. */
  ping(ack: boolean, payload: Buffer): void;
  /** GOAWAY. */
  goaway(lastStreamId: number, code: number): void;
  /** WINDOW_UPDATE; an increment of 0 on a stream is left to the connection (a stream error). */
  windowUpdate(id: number, increment: number): void;
}

/** What the parser accepts at most. */
export interface FrameParserLimits {
  /** The largest header block, HEADERS and CONTINUATION payloads together, in bytes. */
  readonly maxHeaderBlockBytes: number;
  /** The most entries one SETTINGS frame may carry (a flood guard; node's default was 32). */
  readonly maxSettingsEntries: number;
}

interface Continuation {
  readonly id: number;
  readonly flags: number;
  readonly chunks: Buffer[];
  bytes: number;
}

/** Turns the server's bytes into frames; throws H2CodecError on the first frame it refuses. */
export class FrameParser {
  private partial: Buffer | undefined;
  private continuation: Continuation | undefined;
  private settled = false;
  private stopped = false;

  /** A parser that hands each frame to `sink`. */
  constructor(
    private readonly limits: FrameParserLimits,
    private readonly sink: FrameSink,
  ) {}

  /** Bytes held between calls: an incomplete frame and an incomplete header block. */
  get bufferedBytes(): number {
    return (this.partial?.length ?? 0) + (this.continuation?.bytes ?? 0);
  }

  /** Makes every later `push` (and the rest of the current one) a no-op: the connection is gone. */
  stop(): void {
    this.stopped = true;
    this.partial = undefined;
    this.continuation = undefined;
  }

  /** Parses `chunk` after whatever the previous calls left incomplete. */
  push(chunk: Buffer): void {
    let buffer = chunk;
    if (this.partial !== undefined) {
      buffer = Buffer.concat([this.partial, chunk]);
      this.partial = undefined;
    }
    let at = 0;
    while (buffer.length - at >= FRAME_HEADER && !this.stopped) {
      const length = ((buffer[at] ?? 0) << 16) | ((buffer[at + 1] ?? 0) << 8) | (buffer[at + 2] ?? 0);
      if (length > DEFAULT_MAX_FRAME) throw new H2CodecError(H2_ERROR.FRAME_SIZE_ERROR, `a frame of ${length} bytes exceeds our SETTINGS_MAX_FRAME_SIZE`);
      if (buffer.length - at - FRAME_HEADER < length) break;
      const type = buffer[at + 3] ?? 0;
      const flags = buffer[at + 4] ?? 0;
      const id = buffer.readUInt32BE(at + 5) & MAX_WINDOW;
      const payload = buffer.subarray(at + FRAME_HEADER, at + FRAME_HEADER + length);
      at += FRAME_HEADER + length;
      this.frame(type, flags, id, payload);
    }
    if (at < buffer.length && !this.stopped) this.partial = buffer.subarray(at);
  }

  private frame(type: number, flags: number, id: number, payload: Buffer): void {
    if (this.continuation !== undefined && (type !== FRAME.CONTINUATION || id !== this.continuation.id)) {
      throw new H2CodecError(H2_ERROR.PROTOCOL_ERROR, "a header block was interrupted by another frame");
    }
    if (!this.settled) {
      if (type !== FRAME.SETTINGS || (flags & FLAG.ACK) !== 0) throw new H2CodecError(H2_ERROR.PROTOCOL_ERROR, "the server's preface did not start with SETTINGS");
      this.settled = true;
    }
    switch (type) {
      case FRAME.DATA:
        if (id === 0) throw new H2CodecError(H2_ERROR.PROTOCOL_ERROR, "DATA on stream 0");
        this.sink.data(id, flags, unpad(flags, payload), payload.length);
        return;
      case FRAME.HEADERS:
        this.onHeaders(flags, id, payload);
        return;
      case FRAME.CONTINUATION:
        this.onContinuation(flags, id, payload);
        return;
      case FRAME.PRIORITY:
        if (id === 0) throw new H2CodecError(H2_ERROR.PROTOCOL_ERROR, "PRIORITY on stream 0");
        if (payload.length !== 5) throw new H2CodecError(H2_ERROR.FRAME_SIZE_ERROR, "PRIORITY of the wrong size");
        return;
      case FRAME.RST_STREAM:
        if (id === 0) throw new H2CodecError(H2_ERROR.PROTOCOL_ERROR, "RST_STREAM on stream 0");
        if (payload.length !== 4) throw new H2CodecError(H2_ERROR.FRAME_SIZE_ERROR, "RST_STREAM of the wrong size");
        this.sink.reset(id, payload.readUInt32BE(0));
        return;
      case FRAME.SETTINGS:
        this.onSettings(flags, id, payload);
        return;
      case FRAME.PUSH_PROMISE:
        throw new H2CodecError(H2_ERROR.PROTOCOL_ERROR, "PUSH_PROMISE although push is disabled");
      case FRAME.PING:
        if (id !== 0) throw new H2CodecError(H2_ERROR.PROTOCOL_ERROR, "PING on a stream");
        if (payload.length !== 8) throw new H2CodecError(H2_ERROR.FRAME_SIZE_ERROR, "PING of the wrong size");
        this.sink.ping((flags & FLAG.ACK) !== 0, payload);
        return;
      case FRAME.GOAWAY:
        if (id !== 0) throw new H2CodecError(H2_ERROR.PROTOCOL_ERROR, "GOAWAY on a stream");
        if (payload.length < 8) throw new H2CodecError(H2_ERROR.FRAME_SIZE_ERROR, "GOAWAY too short");
        this.sink.goaway(payload.readUInt32BE(0) & MAX_WINDOW, payload.readUInt32BE(4));
        return;
      case FRAME.WINDOW_UPDATE:
        this.onWindowUpdate(id, payload);
        return;
      default:
        // Unknown frame types carry nothing we act on (RFC 9113 §4.1, §5.5).
        return;
    }
  }

  private onHeaders(flags: number, id: number, payload: Buffer): void {
    if (id === 0) throw new H2CodecError(H2_ERROR.PROTOCOL_ERROR, "HEADERS on stream 0");
    let fragment = unpad(flags, payload);
    if ((flags & FLAG.PRIORITY) !== 0) {
      if (fragment.length < 5) throw new H2CodecError(H2_ERROR.FRAME_SIZE_ERROR, "HEADERS too short for its priority fields");
      fragment = fragment.subarray(5);
    }
    if ((flags & FLAG.END_HEADERS) !== 0) {
      this.checkBlock(fragment.length);
      this.sink.headers(id, flags, fragment);
      return;
    }
    this.checkBlock(fragment.length);
    this.continuation = { id, flags, chunks: [Buffer.from(fragment)], bytes: fragment.length };
  }

  private onContinuation(flags: number, id: number, payload: Buffer): void {
    const pending = this.continuation;
    if (pending === undefined) throw new H2CodecError(H2_ERROR.PROTOCOL_ERROR, "CONTINUATION without a header block in progress");
    pending.bytes += payload.length;
    this.checkBlock(pending.bytes, " in CONTINUATION frames");
    pending.chunks.push(Buffer.from(payload));
    if ((flags & FLAG.END_HEADERS) === 0) return;
    this.continuation = undefined;
    this.sink.headers(id, pending.flags, Buffer.concat(pending.chunks));
  }

  /**
   * An encoded field never takes more octets than it counts for in the header list (32 of
   * overhead each), so a block larger than the list limit cannot be one a server may send us;
   * without this a server could grow one block without end through CONTINUATION frames.
   */
  private checkBlock(bytes: number, where = ""): void {
    const max = this.limits.maxHeaderBlockBytes;
    if (bytes > max) throw new H2CodecError(H2_ERROR.ENHANCE_YOUR_CALM, `a header block grew past ${max} bytes${where}`);
  }

  private onSettings(flags: number, id: number, payload: Buffer): void {
    if (id !== 0) throw new H2CodecError(H2_ERROR.PROTOCOL_ERROR, "SETTINGS on a stream");
    if ((flags & FLAG.ACK) !== 0) {
      if (payload.length !== 0) throw new H2CodecError(H2_ERROR.FRAME_SIZE_ERROR, "SETTINGS ACK with a payload");
      this.sink.settings(true, []);
      return;
    }
    if (payload.length % 6 !== 0) throw new H2CodecError(H2_ERROR.FRAME_SIZE_ERROR, "SETTINGS of the wrong size");
    const count = payload.length / 6;
    if (count > this.limits.maxSettingsEntries) {
      throw new H2CodecError(H2_ERROR.ENHANCE_YOUR_CALM, `a SETTINGS frame of ${count} entries (the limit is ${this.limits.maxSettingsEntries})`);
    }
    const entries: SettingEntry[] = [];
    for (let at = 0; at < payload.length; at += 6) {
      const key = payload.readUInt16BE(at);
      const value = payload.readUInt32BE(at + 2);
      if (key === SETTING.INITIAL_WINDOW_SIZE && value > MAX_WINDOW) throw new H2CodecError(H2_ERROR.FLOW_CONTROL_ERROR, "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1");
      if (key === SETTING.MAX_FRAME_SIZE && (value < DEFAULT_MAX_FRAME || value > 0xff_ffff)) throw new H2CodecError(H2_ERROR.PROTOCOL_ERROR, "SETTINGS_MAX_FRAME_SIZE out of range");
      if (key === SETTING.ENABLE_PUSH && value > 1) throw new H2CodecError(H2_ERROR.PROTOCOL_ERROR, "SETTINGS_ENABLE_PUSH neither 0 nor 1");
      entries.push([key, value]);
    }
    this.sink.settings(false, entries);
  }

  private onWindowUpdate(id: number, payload: Buffer): void {
    if (payload.length !== 4) throw new H2CodecError(H2_ERROR.FRAME_SIZE_ERROR, "WINDOW_UPDATE of the wrong size");
    const increment = payload.readUInt32BE(0) & MAX_WINDOW;
    if (id === 0 && increment === 0) throw new H2CodecError(H2_ERROR.PROTOCOL_ERROR, "a connection WINDOW_UPDATE of 0");
    this.sink.windowUpdate(id, increment);
  }
}

/** The payload without its padding (RFC 9113 §6.1); padding as long as the frame is a PROTOCOL_ERROR. */
function unpad(flags: number, payload: Buffer): Buffer {
  if ((flags & FLAG.PADDED) === 0) return payload;
  const pad = payload[0];
  if (pad === undefined || pad >= payload.length) throw new H2CodecError(H2_ERROR.PROTOCOL_ERROR, "padding longer than the frame");
  return payload.subarray(1, payload.length - pad);
}
