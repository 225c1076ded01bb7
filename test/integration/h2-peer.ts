/**
 * A scripted HTTP/2 server for what no real server sends (hostile or broken frames, floods): it
 * reads the client's preface, answers with its own SETTINGS, records every frame the client
 * sends, and lets a test write raw frames back. Loopback only; each test closes what it starts.
 */
import net from "node:net";
import { H2Connection, type H2ConnectionEvents, type H2ConnectionOptions, type HeaderField, type RetireReason } from "../../src/transport/h2/connection.js";
import { encodeHeaders } from "../../src/transport/h2/hpack-encode.js";

/** One frame as the peer saw it. */
export interface PeerFrame {
  readonly type: number;
  readonly flags: number;
  readonly id: number;
  readonly payload: Buffer;
}

/** Frame types and flags used by the tests. */
export const T = { DATA: 0, HEADERS: 1, RST: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8 } as const;
export const F = { END_STREAM: 1, ACK: 1, END_HEADERS: 4 } as const;

/** One HTTP/2 frame's bytes. */
export function h2frame(type: number, flags: number, id: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(id, 5);
  return Buffer.concat([head, payload]);
}

/** A SETTINGS frame's bytes. */
export function settings(entries: readonly (readonly [number, number])[]): Buffer {
  const payload = Buffer.alloc(entries.length * 6);
  entries.forEach(([key, value], i) => {
    payload.writeUInt16BE(key, i * 6);
    payload.writeUInt32BE(value, i * 6 + 2);
  });
  return h2frame(T.SETTINGS, 0, 0, payload);
}

/** A 4-byte big-endian payload (RST_STREAM, WINDOW_UPDATE). */
export function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value);
  return b;
}

/** A response header block: `:status` and gRPC's content-type. */
export function responseHeaders(status = "200"): Buffer {
  return encodeHeaders([
    [":status", status],
    ["content-type", "application/grpc"],
  ]);
}

/** One client connection as the scripted server sees it. */
export class PeerConnection {
  /** Every frame the client sent, in order. */
  readonly frames: PeerFrame[] = [];
  /** Called for each frame as it arrives, after it is recorded: a test's script. */
  onFrame: ((frame: PeerFrame) => void) | undefined;
  private readonly waiters: (() => void)[] = [];

  /** Wraps an accepted socket. */
  constructor(readonly socket: net.Socket) {}

  /** Writes raw bytes to the client. */
  send(...buffers: Buffer[]): void {
    if (!this.socket.destroyed) this.socket.write(Buffer.concat(buffers));
  }

  /** Resolves with the first frame (already seen or to come) that `match` accepts; rejects after `ms`. */
  async waitFor(match: (f: PeerFrame) => boolean, ms = 5_000): Promise<PeerFrame> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.frames.find(match);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`no matching frame within ${ms} ms; saw ${this.frames.map((f) => `${f.type}/${f.flags}/${f.id}`).join(" ")}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  /** @internal */
  record(frame: PeerFrame): void {
    this.frames.push(frame);
    for (const w of this.waiters.splice(0)) w();
    this.onFrame?.(frame);
  }
}

/** The scripted server: `onConnection` runs once the client's preface arrived and our SETTINGS went out. */
export async function scriptedPeer(
  onConnection: (peer: PeerConnection) => void,
  initialSettings: Buffer = settings([]),
): Promise<{ port: number; url: string; connections: PeerConnection[]; close: () => Promise<void> }> {
  const connections: PeerConnection[] = [];
  const server = net.createServer((socket) => {
    const peer = new PeerConnection(socket);
    connections.push(peer);
    socket.on("error", () => undefined);
    let buffer = Buffer.alloc(0);
    let prefaceSeen = false;
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!prefaceSeen) {
        if (buffer.length < 24) return;
        buffer = buffer.subarray(24);
        prefaceSeen = true;
        socket.write(initialSettings);
        onConnection(peer);
      }
      while (buffer.length >= 9) {
        const length = buffer.readUIntBE(0, 3);
        if (buffer.length < 9 + length) break;
        peer.record({ type: buffer[3] ?? 0, flags: buffer[4] ?? 0, id: buffer.readUInt32BE(5) & 0x7fff_ffff, payload: Buffer.from(buffer.subarray(9, 9 + length)) });
        buffer = buffer.subarray(9 + length);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    connections,
    close: async () => {
      for (const c of connections) c.socket.destroy();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    },
  };
}

/** Limits for a bare H2Connection in tests: the defaults but for what a test overrides. */
export function connectionOptions(over: Partial<H2ConnectionOptions> = {}): H2ConnectionOptions {
  return {
    window: 65_535,
    maxHeaderListBytes: 256 * 1024,
    maxStreamId: 2 ** 30,
    maxPendingStreams: 1000,
    maxOutstandingPings: 10,
    maxSettingsEntries: 32,
    maxQueuedControlFrames: 1000,
    ...over,
  };
}

/** A bare H2Connection to `port`, with what its events said. */
export function connect(port: number, over: Partial<H2ConnectionOptions> = {}): {
  h2: H2Connection;
  socket: net.Socket;
  ready: Promise<void>;
  retired: Promise<{ reason: RetireReason; error: unknown }>;
  closed: Promise<unknown>;
} {
  let ready!: () => void;
  let retired!: (r: { reason: RetireReason; error: unknown }) => void;
  let closed!: (e: unknown) => void;
  const events: H2ConnectionEvents = {
    ready: () => {
      ready();
    },
    retired: (reason, error) => {
      retired({ reason, error });
    },
    close: (error) => {
      closed(error);
    },
  };
  const p = {
    ready: new Promise<void>((r) => (ready = r)),
    retired: new Promise<{ reason: RetireReason; error: unknown }>((r) => (retired = r)),
    closed: new Promise<unknown>((r) => (closed = r)),
  };
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => undefined);
  return { h2: new H2Connection(socket, connectionOptions(over), events), socket, ...p };
}

/** The request header fields of a gRPC call to `path`. */
export function requestBlock(path = "/t.S/M"): readonly HeaderField[] {
  return [
    [":method", "POST"],
    [":scheme", "http"],
    [":path", path],
    [":authority", "127.0.0.1"],
    ["content-type", "application/grpc"],
  ];
}
