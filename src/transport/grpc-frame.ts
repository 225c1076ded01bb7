/**
 * gRPC message framing: each message travels as a 1-byte compressed flag, a 4-byte big-endian
 * length and the message bytes, and HTTP/2 may cut that anywhere (a message across several DATA
 * chunks, several messages in one chunk). Pure and server-free so that it is tested byte by byte.
 *
 * This is the hot path of every call: a message that lies whole inside one chunk is handed out as
 * a view of that chunk (no copy). A split message is copied into a buffer that grows (doubling)
 * as its bytes arrive, never to more than the bytes received so far allow: the 4-byte length is
 * the peer's word, and allocating it up front let one 5-byte prefix cost us 500 MiB.
 */

/** Bytes of the prefix in front of every gRPC message. */
export const FRAME_HEADER_BYTES = 5;

/** Frames one message: flag 0 (uncompressed), its length, then its bytes, in one buffer. */
export function encodeFrame(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + message.length);
  frame[0] = 0;
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, FRAME_HEADER_BYTES);
  return frame;
}

/** The first buffer of a split message; it doubles from there as bytes arrive. */
const INITIAL_BODY = 64 * 1024;

/** Why a byte stream is not a sequence of gRPC messages we accept. */
export class GrpcFrameError extends Error {
  /** `too-large`: a message declared longer than the limit; `malformed`: anything else. */
  readonly kind: "malformed" | "too-large";

  /** Builds the error; the message says which rule the bytes broke. */
  constructor(message: string, kind: "malformed" | "too-large" = "malformed") {
    super(message);
    this.name = "GrpcFrameError";
    this.kind = kind;
  }
}

/** Reassembles gRPC messages from DATA chunks; throws GrpcFrameError on bytes it cannot accept. */
export class FrameDecoder {
  // The prefix of the message being read, while it is itself split across chunks.
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerFill = 0;
  // The message being reassembled, while it is split across chunks.
  private body: Buffer | undefined;
  private bodyFill = 0;
  private bodyLength = 0;
  private readonly maxBytes: number;
  private readonly onMessage: (message: Uint8Array) => void;

  /** Builds a decoder that hands each complete message to `onMessage` and refuses ones over `maxBytes`. */
  constructor(maxBytes: number, onMessage: (message: Uint8Array) => void) {
    this.maxBytes = maxBytes;
    this.onMessage = onMessage;
  }

  /** Bytes held for the message being reassembled (its buffer's size): at most twice those received. */
  get bufferedBytes(): number {
    return this.body?.length ?? 0;
  }

  /** True between messages, i.e. when the bytes so far end exactly on a message boundary. */
  get idle(): boolean {
    return this.headerFill === 0 && this.body === undefined;
  }

  /** Consumes one chunk, calling `onMessage` for every message it completes. */
  push(chunk: Uint8Array): void {
    let at = 0;
    const end = chunk.length;
    if (!this.idle) at = this.resume(chunk);
    while (at < end) {
      if (end - at < FRAME_HEADER_BYTES) {
        this.header.set(chunk.subarray(at, end), 0);
        this.headerFill = end - at;
        return;
      }
      const length = this.check(chunk[at] ?? 0, readLength(chunk, at));
      const start = at + FRAME_HEADER_BYTES;
      if (end - start >= length) {
        at = start + length;
        this.onMessage(chunk.subarray(start, at));
      } else {
        this.startBody(length, chunk.subarray(start, end));
        return;
      }
    }
  }

  /** Continues a message (or its prefix) left incomplete by the previous chunk; returns where it stopped. */
  private resume(chunk: Uint8Array): number {
    if (this.body === undefined) {
      const need = FRAME_HEADER_BYTES - this.headerFill;
      if (chunk.length < need) {
        this.header.set(chunk, this.headerFill);
        this.headerFill += chunk.length;
        return chunk.length;
      }
      this.header.set(chunk.subarray(0, need), this.headerFill);
      this.headerFill = 0;
      const at = need;
      const length = this.check(this.header[0] ?? 0, this.header.readUInt32BE(1));
      if (chunk.length - at >= length) {
        this.onMessage(chunk.subarray(at, at + length));
        return at + length;
      }
      this.startBody(length, chunk.subarray(at));
      return chunk.length;
    }
    const take = Math.min(this.bodyLength - this.bodyFill, chunk.length);
    const body = this.reserve(this.bodyFill + take);
    body.set(take === chunk.length ? chunk : chunk.subarray(0, take), this.bodyFill);
    this.bodyFill += take;
    if (this.bodyFill === this.bodyLength) {
      this.body = undefined;
      this.bodyFill = 0;
      this.onMessage(body.length === this.bodyLength ? body : body.subarray(0, this.bodyLength));
    }
    return take;
  }

  private startBody(length: number, first: Uint8Array): void {
    const body = Buffer.allocUnsafe(Math.min(length, Math.max(INITIAL_BODY, first.length * 2)));
    body.set(first, 0);
    this.body = body;
    this.bodyLength = length;
    this.bodyFill = first.length;
  }

  /** The body buffer, grown (doubling, never past the declared length) to hold `bytes`. */
  private reserve(bytes: number): Buffer {
    const body = this.body ?? Buffer.alloc(0);
    if (bytes <= body.length) return body;
    const grown = Buffer.allocUnsafe(Math.min(this.bodyLength, Math.max(bytes, body.length * 2)));
    grown.set(body.subarray(0, this.bodyFill), 0);
    this.body = grown;
    return grown;
  }

  private check(flag: number, length: number): number {
    // etcd never compresses, and we advertise no grpc-accept-encoding, so a compressed message
    // means the peer is not the server we think it is.
    if (flag !== 0) throw new GrpcFrameError(flag === 1 ? "compressed gRPC message, but no compression was negotiated" : `invalid gRPC frame flag ${flag}`);
    if (length > this.maxBytes) throw new GrpcFrameError(`gRPC message of ${length} bytes exceeds the ${this.maxBytes}-byte limit (maxMessageBytes)`, "too-large");
    return length;
  }
}

function readLength(chunk: Uint8Array, at: number): number {
  return (((chunk[at + 1] ?? 0) << 24) >>> 0) + (((chunk[at + 2] ?? 0) << 16) | ((chunk[at + 3] ?? 0) << 8) | (chunk[at + 4] ?? 0));
}
