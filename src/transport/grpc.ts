/**
 * The v3 transport: gRPC over our own HTTP/2 connection (`h2/`), the only code of the v3 client
 * that opens sockets.
 * One main HTTP/2 session per member carries every call and stream, and a second one per member
 * carries only health probes, so a probe never queues behind calls stuck on a hung member.
 *
 * As in the v2 transport (`http.ts`), every failure becomes an `EtcdError` whose `delivery` says
 * whether the request could have reached the server; the engine's retry rule reads nothing else.
 * The pieces: HTTP/2 itself in `h2/` (frames, HPACK, the connection), gRPC message framing in
 * `grpc-frame.ts`, a session's states and keepalive in `grpc-session.ts`, a call's states and
 * error mapping in `grpc-call.ts`. We left node:http2 because its per-stream machinery cost
 * about half of the client's CPU per call (docs/performance.md).
 */
import { EtcdError } from "../errors.js";
import { DEFAULTS, type TlsOptions } from "../options.js";
import { GrpcCall, type CallSpec, type Metadata } from "./grpc-call.js";
import { GrpcSession, type SessionConfig } from "./grpc-session.js";

export type { Metadata } from "./grpc-call.js";

/** Options of the gRPC transport. */
export interface GrpcTransportOptions {
  /** ms allowed for TCP connect, TLS and the server's first SETTINGS. */
  readonly dialTimeout: number;
  /** ms a session with open streams may hear nothing before it is PINGed. */
  readonly keepAlive: number;
  /** ms to wait for a PING's ack before the session is destroyed as hung (default max(keepAlive, 1000)). */
  readonly keepAliveTimeout?: number | undefined;
  /** TLS material for `https://` endpoints, which are verified by default. */
  readonly tls?: TlsOptions | undefined;
  /** Stream and connection flow-control window in bytes (default 8 MiB). */
  readonly window?: number | undefined;
  /** Largest reply message accepted, in bytes (default 64 MiB); a larger one ends its call with MESSAGE_TOO_LARGE. */
  readonly maxMessageBytes?: number | undefined;
  /** Largest response header list, in bytes (default 256 KiB). */
  readonly maxHeaderListBytes?: number | undefined;
  /** Calls that may wait per connection (default 65,536); more end with PENDING_LIMIT. */
  readonly maxPendingStreams?: number | undefined;
  /** Our PINGs that may await their ACK at once (default 10). */
  readonly maxOutstandingPings?: number | undefined;
  /** Entries a server SETTINGS frame may carry (default 32). */
  readonly maxSettingsEntries?: number | undefined;
  /** ACKs we may owe at once before the server counts as flooding us (default 1000). */
  readonly maxQueuedControlFrames?: number | undefined;
  /** Stream id at which a connection is rotated (default 2^30; tests lower it). */
  readonly maxStreamId?: number | undefined;
}

/** Options of one unary call. */
export interface UnaryOptions {
  /** Aborting it cancels the call (RST_STREAM CANCEL) and rejects the promise. */
  readonly signal: AbortSignal;
  /** Extra request headers, e.g. `{ token: "…", hasleader: "true" }`. */
  readonly metadata?: Metadata | undefined;
  /** ms, sent as grpc-timeout so that the server gives up too. */
  readonly timeout?: number | undefined;
  /** "probe" uses a separate session per member, so a probe never queues behind ordinary calls. */
  readonly channel?: "main" | "probe" | undefined;
}

/** Receives a bidirectional stream's messages and its end. */
export interface StreamHandlers {
  /** One decoded gRPC message (without its 5-byte prefix); must not throw. */
  onMessage(message: Uint8Array): void;
  /** Called exactly once, except after `cancel()`: undefined on grpc-status 0. */
  onClose(error: EtcdError | undefined): void;
}

/** The caller's side of a bidirectional stream. */
export interface GrpcStream {
  /** Frames and writes one message. */
  write(message: Uint8Array): void;
  /** Half-closes the request side. */
  end(): void;
  /** Resets the stream (RST_STREAM CANCEL); `onClose` is then not called, since the caller asked for it. */
  cancel(): void;
  /** The member the stream runs on. */
  readonly endpoint: string;
}

/** gRPC calls and bidirectional streams over one HTTP/2 session per member (plus one for probes). */
export class GrpcTransport {
  private readonly sessions = new Map<string, GrpcSession>();
  private readonly probeSessions = new Map<string, GrpcSession>();
  private readonly config: SessionConfig;
  private readonly maxMessageBytes: number;
  private closed = false;

  /** Creates a transport; sessions open lazily, per member. */
  constructor(options: GrpcTransportOptions) {
    this.config = {
      dialTimeout: options.dialTimeout,
      keepAlive: options.keepAlive,
      keepAliveTimeout: options.keepAliveTimeout ?? Math.max(options.keepAlive, 1_000),
      tls: options.tls,
      h2: {
        window: options.window ?? DEFAULTS.window,
        maxHeaderListBytes: options.maxHeaderListBytes ?? DEFAULTS.maxHeaderListBytes,
        maxPendingStreams: options.maxPendingStreams ?? DEFAULTS.maxPendingStreams,
        maxOutstandingPings: options.maxOutstandingPings ?? DEFAULTS.maxOutstandingPings,
        maxSettingsEntries: options.maxSettingsEntries ?? DEFAULTS.maxSettingsEntries,
        maxQueuedControlFrames: options.maxQueuedControlFrames ?? DEFAULTS.maxQueuedControlFrames,
        maxStreamId: Math.min(2 ** 31 - 1, options.maxStreamId ?? DEFAULTS.maxStreamId),
      },
    };
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULTS.maxMessageBytes;
  }

  /**
   * Calls a unary method (`path` like "/etcdserverpb.KV/Put") and resolves with the reply
   * message; rejects with EtcdError, or with the signal's reason once the request may have left.
   */
  unary(endpoint: string, path: string, request: Uint8Array, options: UnaryOptions): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(closedError(endpoint));
    const signal = options.signal;
    if (signal.aborted) {
      return Promise.reject(new EtcdError("UNAVAILABLE", `${endpoint}: abandoned before it was sent`, { endpoint, delivery: "unsent", cause: signal.reason }));
    }
    const session = this.session(options.channel === "probe" ? this.probeSessions : this.sessions, endpoint);
    const spec: CallSpec = { path, metadata: options.metadata, timeout: options.timeout, signal, maxMessageBytes: this.maxMessageBytes };
    return new Promise((resolve, reject) => {
      const call = new GrpcCall(session, spec, true, { message: ignore, end: settle(resolve, reject) });
      call.enter();
      call.send(request);
    });
  }

  /** Opens a bidirectional stream; failures, including an aborted `signal`, arrive at `onClose`. */
  stream(
    endpoint: string,
    path: string,
    options: { readonly signal?: AbortSignal | undefined; readonly metadata?: Metadata | undefined },
    handlers: StreamHandlers,
  ): GrpcStream {
    if (this.closed) return deadStream(endpoint, handlers, closedError(endpoint));
    const signal = options.signal;
    if (signal?.aborted === true) {
      return deadStream(endpoint, handlers, new EtcdError("UNAVAILABLE", `${endpoint}: abandoned before it was sent`, { endpoint, delivery: "unsent", cause: signal.reason }));
    }
    const session = this.session(this.sessions, endpoint);
    const spec: CallSpec = { path, metadata: options.metadata, timeout: undefined, signal, maxMessageBytes: this.maxMessageBytes };
    const call = new GrpcCall(session, spec, false, {
      message: (m) => {
        handlers.onMessage(m);
      },
      end: (error) => {
        handlers.onClose(error === undefined ? undefined : streamError(endpoint, error));
      },
    });
    // Enter after returning, so that onClose never runs before the caller holds the stream.
    // The session may have retired meanwhile (GOAWAY, rotation): a stream then starts on its successor.
    queueMicrotask(() => {
      call.enter(session.usable || this.closed ? session : this.session(this.sessions, endpoint));
    });
    return {
      endpoint,
      write: (message) => {
        call.write(message);
      },
      end: () => {
        call.end();
      },
      cancel: () => {
        call.cancel();
      },
    };
  }

  /** Ends every session; calls in flight fail with CLIENT_CLOSED, and so do later ones. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.sessions.values(), ...this.probeSessions.values()];
    this.sessions.clear();
    this.probeSessions.clear();
    await Promise.all(all.map((s) => s.shutdown()));
  }

  private session(map: Map<string, GrpcSession>, endpoint: string): GrpcSession {
    const existing = map.get(endpoint);
    if (existing?.usable === true) return existing;
    const session = new GrpcSession(endpoint, this.config, (gone) => {
      // A draining session keeps its streams, but new calls get a fresh session.
      if (map.get(endpoint) === gone) map.delete(endpoint);
    });
    map.set(endpoint, session);
    return session;
  }
}

/** Settles a unary promise; the rejection is the signal's reason, unchanged, when the caller aborted. */
function settle(resolve: (reply: Uint8Array) => void, reject: (reason: unknown) => void): (error: unknown, reply: Uint8Array | undefined) => void {
  return (error, reply) => {
    if (reply !== undefined) resolve(reply);
    else reject(error);
  };
}

function ignore(): void {
  // Unary calls collect their reply themselves.
}

function closedError(endpoint: string): EtcdError {
  return new EtcdError("CLIENT_CLOSED", "the client is closed", { endpoint });
}

/** A stream's end as an EtcdError: an abort reason that is not one is wrapped. */
function streamError(endpoint: string, error: unknown): EtcdError {
  if (error instanceof EtcdError) return error;
  return new EtcdError("UNAVAILABLE", `${endpoint}: stream aborted`, { endpoint, delivery: "unknown", cause: error });
}

function deadStream(endpoint: string, handlers: StreamHandlers, error: EtcdError): GrpcStream {
  let cancelled = false;
  queueMicrotask(() => {
    if (!cancelled) handlers.onClose(error);
  });
  return {
    endpoint,
    write: ignore,
    end: ignore,
    cancel: () => {
      cancelled = true;
    },
  };
}
