/**
 * Option types shared by every client, and the one frozen object of defaults.
 * Each default is written once, here, so the clients, the engine and the docs cannot drift apart.
 */
import type { CheckRetry } from "./endpoints/retry.js";
import type { EngineEvent } from "./endpoints/events.js";

/** Options every I/O method accepts as its last argument. */
export interface CallOptions {
  /** Aborts the call; its reason is rethrown unchanged. */
  readonly signal?: AbortSignal | undefined;
  /** Overall deadline for this call in milliseconds, across retries (overrides `requestTimeout`). */
  readonly timeout?: number | undefined;
}

/** A minimal logger interface; pass `console` or a pino/winston logger. Nothing is logged by default. */
export interface Logger {
  /** Routine events: member chosen, sync. */
  debug(message: string, data?: Record<string, unknown>): void;
  /** Member set aside or back, retries. */
  warn(message: string, data?: Record<string, unknown>): void;
}

/** How reads are served. */
export type Consistency = "strong" | "weak";

/** Client certificate and CA material, as PEM strings or Buffers. */
export interface TlsOptions {
  /** CA certificate(s) used to verify the members; the system CAs when omitted. */
  readonly ca?: string | Buffer | readonly (string | Buffer)[] | undefined;
  /** Client certificate, for members started with `--client-cert-auth`. */
  readonly cert?: string | Buffer | undefined;
  /** The client certificate's private key. */
  readonly key?: string | Buffer | undefined;
  /** Server name to verify the certificate against, when it differs from the URL's host. */
  readonly servername?: string | undefined;
  /** Set to false only to skip verification deliberately (go-etcd's default, not ours). */
  readonly rejectUnauthorized?: boolean | undefined;
}

/** Username and password for etcd's authentication. */
export interface AuthOptions {
  /** The etcd user name. */
  readonly username: string;
  /** The user's password; never logged and redacted from debug output. */
  readonly password: string;
}

/** Options of the endpoint engine that both clients accept. */
export interface EngineOptions {
  /** Member client URLs, e.g. `["http://127.0.0.1:2379"]`. */
  readonly endpoints: readonly string[];
  /** "strong" (default): linearizable reads; "weak": local reads, checked for staleness. */
  readonly consistency?: Consistency | undefined;
  /** TCP connect timeout in ms (default 1000, as go-etcd). */
  readonly dialTimeout?: number | undefined;
  /** TCP keepalive delay in ms (default 1000, as go-etcd). */
  readonly keepAlive?: number | undefined;
  /** Default overall deadline of a unary call in ms (default 10000). */
  readonly requestTimeout?: number | undefined;
  /** Decides whether and when a failed attempt is retried (go-etcd's CheckRetry). */
  readonly checkRetry?: CheckRetry | undefined;
  /** Refreshes the member list from the cluster every this many ms (off by default). */
  readonly autoSync?: number | undefined;
  /** Receives engine events: member chosen, set aside, back, retry, sync. */
  readonly onEvent?: ((event: EngineEvent) => void) | undefined;
  /** A logger for the same events; nothing is printed by default. */
  readonly logger?: Logger | undefined;
  /**
   * A request unanswered for this many ms makes the client probe its member on a separate
   * connection (default 300). Raise it on hosts so loaded that healthy members answer slowly.
   */
  readonly suspectAfter?: number | undefined;
  /** How long a health probe may take before the member counts as hung (default 700 ms). */
  readonly probeTimeout?: number | undefined;
  /**
   * How often the member in use is health-checked while the client is open, busy or idle
   * (default 1000 ms), so that an idle client notices an isolated or leaderless member before
   * its next request. Each check is a request to that member: raise it when many clients share
   * one cluster.
   */
  readonly healthInterval?: number | undefined;
}

const STRONG: Consistency = "strong";

/** The defaults, in one place. Times are milliseconds. */
export const DEFAULTS = Object.freeze({
  /** Reads are linearizable unless a client asks for "weak". */
  consistency: STRONG,
  /** TCP connect timeout (go-etcd's). */
  dialTimeout: 1000,
  /** TCP keepalive delay (go-etcd's). */
  keepAlive: 1000,
  /** The overall deadline of a call, retries included, when the call sets no `timeout`. */
  requestTimeout: 10_000,
  /** A request unanswered for this long makes the engine probe its member on a separate connection. */
  suspectAfter: 300,
  /** How long a health probe may take before the member counts as unresponsive. */
  probeTimeout: 700,
  /** How often the member in use is health-checked, so an idle client notices isolation. */
  healthInterval: 1000,
  /** How often a set-aside member is probed to see whether it is back. */
  reprobeInterval: 250,
  /**
   * How long a call waits, without spending an attempt, for a member to come back when every
   * member is set aside but some still answer (an election in progress).
   */
  electionWait: 2000,
  /** Backoff of the default retry policy, once every member has been tried. */
  backoffBase: 25,
  /** The longest pause of that backoff. */
  backoffCap: 1000,
  /** Connections per member for ordinary requests (watches use their own). */
  connections: 64,
  /**
   * Connections per member a burst may open beyond `connections` while the member answers (one
   * per request in flight, as Go's client); those above `connections` close after a second idle.
   */
  maxConnections: 1024,
  /**
   * The largest HTTP/1.1 (v2) reply body accepted, long polls included: 64 MiB holds a recursive
   * get of a large v2 store; past it the request fails RESPONSE_TOO_LARGE and its connection is closed.
   */
  maxResponseBytes: 64 * 1024 * 1024,
  /** v2 requests that may wait per member for a free HTTP/1.1 connection; more fail PENDING_LIMIT, unsent. */
  maxPendingRequests: 65_536,
  // The v3 transport's HTTP/2 and gRPC limits (docs/architecture.md, "HTTP/2 connection states and limits").
  /** HTTP/2 flow-control window per stream and per connection, in bytes. */
  window: 8 * 1024 * 1024,
  /** Largest gRPC reply message accepted, in bytes: fits a large range reply (etcd bounds requests at 1.5 MiB, not replies). */
  maxMessageBytes: 64 * 1024 * 1024,
  /** Largest response header list (SETTINGS_MAX_HEADER_LIST_SIZE), in bytes; etcd sends well under 1 KiB. */
  maxHeaderListBytes: 256 * 1024,
  /** Calls that may wait per connection, for it to connect or for a concurrency slot. */
  maxPendingStreams: 65_536,
  /** Our PINGs that may await their ACK at once (node:http2's default). */
  maxOutstandingPings: 10,
  /** Entries one SETTINGS frame from the server may carry (node:http2's default). */
  maxSettingsEntries: 32,
  /** PING and SETTINGS ACKs we may owe at once before the server counts as flooding us. */
  maxQueuedControlFrames: 1000,
  /** A connection that has used a stream id this high drains and is replaced, well before 2^31. */
  maxStreamId: 2 ** 30,
  /** Events a v3 watch buffers for a reader that falls behind before it is paused (canceled on etcd, re-created once drained). */
  watchMaxBufferedEvents: 1000,
  /** Bytes of keys and values a v3 watch buffers before it is paused. */
  watchMaxBufferedBytes: 8 * 1024 * 1024,
  /** TTL in seconds of a concurrency session's lease when none is given (Go's concurrency package default). */
  sessionTtl: 60,
  /**
   * How long before a session lease's certain deadline its signal aborts, at most (and at most a
   * quarter of the TTL): room for a late timer on a busy event loop.
   */
  sessionMargin: 1000,
});
