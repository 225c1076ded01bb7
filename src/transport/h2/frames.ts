/**
 * HTTP/2 frame constants and builders (RFC 9113 §6), the little of the wire format the client
 * connection writes. Frames are built into one Buffer each, header and payload together, so a
 * tick's frames go out in a single socket write.
 */

/** Frame types (RFC 9113 §6). */
export const FRAME = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

/** Frame flags (RFC 9113 §6); ACK and END_STREAM share a bit on different frame types. */
export const FLAG = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

/** SETTINGS identifiers (RFC 9113 §6.5.2). */
export const SETTING = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

/** Error codes of RST_STREAM and GOAWAY (RFC 9113 §7). */
export const H2_ERROR = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  ENHANCE_YOUR_CALM: 0xb,
} as const;

/** The client connection preface (RFC 9113 §3.4). */
export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** Size of a frame header. */
export const FRAME_HEADER = 9;
/** The frame size every peer must accept, and the largest we accept (we never raise it). */
export const DEFAULT_MAX_FRAME = 16_384;
/** The initial flow-control window of RFC 9113 §6.9.2. */
export const DEFAULT_WINDOW = 65_535;
/** The largest flow-control window allowed (2^31 - 1). */
export const MAX_WINDOW = 0x7fff_ffff;

/** One frame: 9-byte header followed by `payload` (or `length` bytes the caller fills in afterwards). */
export function frame(type: number, flags: number, streamId: number, payload: Uint8Array | undefined, length = payload?.length ?? 0): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER + length);
  out[0] = (length >>> 16) & 0xff;
  out[1] = (length >>> 8) & 0xff;
  out[2] = length & 0xff;
  out[3] = type;
  out[4] = flags;
  out.writeUInt32BE(streamId & MAX_WINDOW, 5);
  if (payload !== undefined) out.set(payload, FRAME_HEADER);
  return out;
}

/** A SETTINGS frame with the given identifier/value pairs. */
export function settingsFrame(values: readonly (readonly [number, number])[]): Buffer {
  const out = frame(FRAME.SETTINGS, 0, 0, undefined, values.length * 6);
  let at = FRAME_HEADER;
  for (const [id, value] of values) {
    out.writeUInt16BE(id, at);
    out.writeUInt32BE(value, at + 2);
    at += 6;
  }
  return out;
}

/** A WINDOW_UPDATE frame. */
export function windowUpdateFrame(streamId: number, increment: number): Buffer {
  const out = frame(FRAME.WINDOW_UPDATE, 0, streamId, undefined, 4);
  out.writeUInt32BE(increment & MAX_WINDOW, FRAME_HEADER);
  return out;
}

/** An RST_STREAM frame. */
export function rstFrame(streamId: number, code: number): Buffer {
  const out = frame(FRAME.RST_STREAM, 0, streamId, undefined, 4);
  out.writeUInt32BE(code, FRAME_HEADER);
  return out;
}

/** A GOAWAY frame carrying the last stream id we processed (none: the server never opens streams). */
export function goawayFrame(code: number): Buffer {
  const out = frame(FRAME.GOAWAY, 0, 0, undefined, 8);
  out.writeUInt32BE(0, FRAME_HEADER);
  out.writeUInt32BE(code, FRAME_HEADER + 4);
  return out;
}
