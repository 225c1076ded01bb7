/**
 * The one supervisor of a client's long-lived gRPC streams: the v3 watch stream and the lease
 * keep-alive stream (lock waits and election observers ride on watches). Each stream is an
 * endpoint-engine long poll, so the engine's health checks and member moves apply to it; what
 * the supervisor adds is written once here instead of once per stream:
 * - opening with require-leader (`hasleader`, so a leaderless member cancels the stream) and the
 *   current auth token;
 * - classifying how a stream ended: a rejected token is refreshed and the stream re-opened
 *   ("restart"); a member failure or an answer no member can cure (the owner's `fatal` codes)
 *   stays as it is; any other end (no leader, an internal error) becomes a movable failure;
 * - reconnecting for as long as the owner wants a stream, with capped, jittered backoff that a
 *   stream which made progress resets.
 *
 * States of the supervisor (`state`):
 * - `idle`: nothing wanted, no stream; `start()` leaves it;
 * - `opening`: the engine picks a member, the token is fetched, the stream is opened;
 * - `open`: a stream runs on one member until it ends "idle" (nothing wanted), "restart"
 *   (token refreshed), or fails (the engine then tries other members);
 * - `backing-off`: the engine gave up on every member, or restarts made no progress: wait;
 * - `closed`: `close()`; final.
 */
import { EtcdError, type EtcdErrorCode } from "../errors.js";
import type { Operation } from "../endpoints/engine.js";
import { pause, reconnectDelay } from "../endpoints/retry.js";
import type { GrpcStream, Metadata } from "../transport/grpc.js";
import type { V3Rpc } from "./rpc.js";

/** Where a supervisor is in its life; see the module comment. */
export type SupervisorState = "idle" | "opening" | "open" | "backing-off" | "closed";

/** Why a stream ended without failing: nothing is wanted any more ("idle"), or its token was refreshed ("restart"). */
export type StreamEnd = "idle" | "restart";

/** Streams are opened with require-leader: a member without a leader cancels them, and the client moves. */
export const REQUIRE_LEADER: Metadata = Object.freeze({ hasleader: "true" });

/** What a supervisor needs from the module whose stream it runs. */
export interface StreamOwner<S extends SupervisedStream> {
  /** The operation's name in errors and events, e.g. "watch". */
  readonly name: string;
  /** Backoff base and cap in ms between attempts that made no progress. */
  readonly backoffBase: number;
  readonly backoffCap: number;
  /** True while a stream is wanted (a watch or a kept lease remains). */
  wanted(): boolean;
  /** Opens one stream on `endpoint`; it settles `done` when it ends. */
  open(endpoint: string, signal: AbortSignal, metadata: Metadata): S;
  /**
   * The engine gave up on every member with `error`: return true to stop for good (the owner has
   * ended its users with it), false to back off and try again.
   */
  gaveUp(error: unknown): boolean;
}

/** Runs one owner's stream for as long as it is wanted; see the module comment for its states. */
export class StreamSupervisor<S extends SupervisedStream> {
  readonly #rpc: V3Rpc;
  readonly #owner: StreamOwner<S>;
  readonly #stop = new AbortController();
  readonly #operation: Operation<StreamEnd>;
  #state: SupervisorState = "idle";
  #stream: S | undefined;
  #running: Promise<void> | undefined;
  #progressed = false;

  /** Binds the client's rpc plumbing and the owner; nothing runs until `start()`. */
  constructor(rpc: V3Rpc, owner: StreamOwner<S>) {
    this.#rpc = rpc;
    this.#owner = owner;
    this.#operation = { name: owner.name, repeat: "read", longPoll: true, run: (endpoint, signal) => this.#open(endpoint, signal) };
  }

  /** The supervisor's state. */
  get state(): SupervisorState {
    return this.#state;
  }

  /** The stream now open, if one is. */
  get stream(): S | undefined {
    return this.#stream?.finished === false ? this.#stream : undefined;
  }

  /** Aborted by `close()`. */
  get closing(): AbortSignal {
    return this.#stop.signal;
  }

  /** The current stream did useful work (a watch created, a renewal acknowledged): the next failure reconnects at once. */
  progressed(): void {
    this.#progressed = true;
  }

  /** Starts the loop unless it runs or the supervisor is closed. */
  start(): void {
    if (this.#running !== undefined || this.#state === "closed") return;
    this.#running = this.#loop().finally(() => {
      this.#running = undefined;
      if (this.#state !== "closed") {
        this.#state = "idle";
        if (this.#owner.wanted()) this.start();
      }
    });
  }

  /** Ends the stream and the loop for good; resolves when the loop has stopped. Idempotent. */
  async close(): Promise<void> {
    if (this.#state !== "closed") {
      this.#state = "closed";
      this.#stream?.end("idle");
      this.#stop.abort(new EtcdError("CLIENT_CLOSED", "the client is closed"));
    }
    await this.#running;
  }

  /**
   * Opens streams while the owner wants one. One backoff rule for every stream: an attempt that
   * made progress resets it and the next stream opens at once; each attempt after that without
   * progress waits longer (capped, jittered), including token restarts, so a refreshed token
   * that is rejected again cannot spin.
   */
  async #loop(): Promise<void> {
    let step = 0;
    while (this.#owner.wanted() && this.#state !== "closed") {
      let end: StreamEnd | "failed";
      try {
        this.#state = "opening";
        end = await this.#rpc.engine.execute(this.#operation, { signal: this.#stop.signal, timeout: 0 });
      } catch (error) {
        if (this.#stop.signal.aborted || this.#rpc.engine.isClosed) return;
        if (this.#owner.gaveUp(error)) return;
        end = "failed";
      }
      step = this.#progressed ? 0 : step + 1;
      this.#progressed = false;
      if (end === "idle" || step === 0 || this.#stop.signal.aborted) continue;
      this.#state = "backing-off";
      await pause(reconnectDelay(step - 1, this.#owner.backoffBase, this.#owner.backoffCap), this.#stop.signal);
    }
  }

  /** One engine attempt: a stream on `endpoint` that lives until it fails, its member is found hung, or nothing is wanted. */
  async #open(endpoint: string, signal: AbortSignal): Promise<StreamEnd> {
    const metadata = await this.#rpc.streamMetadata(signal, REQUIRE_LEADER);
    if (!this.#owner.wanted() || this.#state === "closed") return "idle";
    signal.throwIfAborted();
    const stream = this.#owner.open(endpoint, signal, metadata);
    if (!stream.finished) {
      this.#stream = stream;
      this.#state = "open";
    }
    try {
      return await stream.done;
    } finally {
      if (this.#stream === stream) this.#stream = undefined;
      if (this.#state === "open") this.#state = "opening";
    }
  }
}

/**
 * One bidirectional stream on one member, with the life every supervised stream shares: a
 * `done` promise the engine awaits, the engine's abort, writes that fail the stream, and the
 * classification of how the server ended it. Subclasses decode the messages.
 */
export abstract class SupervisedStream {
  /** Settles when the stream ends: with why it ended cleanly, or with its failure. */
  readonly done: Promise<StreamEnd>;
  /** The member the stream is on. */
  readonly endpoint: string;
  /** The rpc plumbing (transport, tokens). */
  protected readonly rpc: V3Rpc;
  readonly #signal: AbortSignal;
  readonly #token: string | undefined;
  readonly #fatal: ReadonlySet<EtcdErrorCode>;
  readonly #what: string;
  #finished = false;
  #grpc: GrpcStream | undefined;
  #resolve!: (end: StreamEnd) => void;
  #reject!: (error: unknown) => void;

  /**
   * Binds the stream's attempt; `fatal` are the codes that end it as they are, for the owner to
   * end its users with (any other non-member failure becomes a movable one). Call `connect()` last.
   */
  constructor(rpc: V3Rpc, endpoint: string, signal: AbortSignal, metadata: Metadata, what: string, fatal: ReadonlySet<EtcdErrorCode>) {
    this.rpc = rpc;
    this.endpoint = endpoint;
    this.#signal = signal;
    this.#token = metadata["token"];
    this.#fatal = fatal;
    this.#what = what;
    this.done = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    signal.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** True once the stream has ended. */
  get finished(): boolean {
    return this.#finished;
  }

  /** Opens the gRPC stream of `path` with the metadata given to the constructor. */
  protected connect(path: string, metadata: Metadata): void {
    if (this.#finished) return;
    try {
      this.#grpc = this.rpc.transport.stream(this.endpoint, path, { metadata }, {
        onMessage: (message) => {
          if (!this.#finished) this.onMessage(message);
        },
        onClose: (error) => {
          this.#onClose(error);
        },
      });
    } catch (error) {
      this.fail(asEtcdError(error, this.endpoint, this.#what));
    }
  }

  /** Handles one message of the server. */
  protected abstract onMessage(message: Uint8Array): void;

  /** Called once when the stream ends, before `done` settles; `error` is its failure, if any. */
  protected settled?(error: EtcdError | undefined): void;

  /** Sends one message; a failed write fails the stream. */
  protected write(message: Uint8Array): void {
    if (this.#finished) return;
    try {
      this.#grpc?.write(message);
    } catch (error) {
      this.fail(new EtcdError("UNAVAILABLE", `${this.endpoint}: writing to the ${this.#what} stream failed: ${String(error)}`, {
        endpoint: this.endpoint,
        delivery: "unknown",
        cause: error,
      }));
    }
  }

  /** Ends the stream without a failure. */
  end(end: StreamEnd): void {
    if (this.#settle(undefined)) this.#resolve(end);
  }

  /** Ends the stream with a failure the engine sees as this attempt's. */
  fail(error: EtcdError): void {
    if (this.#settle(error)) this.#reject(error);
  }

  /** Drops the stream's token (etcd rejected it) and ends it so that it re-opens with a fresh one. */
  protected restart(): void {
    this.rpc.tokens?.invalidate(this.#token);
    this.end("restart");
  }

  readonly #onAbort = (): void => {
    this.fail(asEtcdError(this.#signal.reason, this.endpoint, this.#what));
  };

  #settle(error: EtcdError | undefined): boolean {
    if (this.#finished) return false;
    this.#finished = true;
    this.#signal.removeEventListener("abort", this.#onAbort);
    this.#grpc?.cancel();
    this.settled?.(error);
    return true;
  }

  #onClose(error: EtcdError | undefined): void {
    if (this.#finished) return;
    const e = error ?? new EtcdError("UNAVAILABLE", `${this.endpoint} ended the ${this.#what} stream`, { endpoint: this.endpoint, delivery: "unknown" });
    if (e.code === "INVALID_AUTH_TOKEN" && this.rpc.tokens !== undefined) {
      this.restart();
      return;
    }
    this.fail(this.#fatal.has(e.code) ? e : movable(e, this.endpoint));
  }
}

/**
 * A stream's end as a failure the engine moves on from: member failures keep their delivery;
 * other ends (no leader, an internal error, a refusal) say nothing against what the stream
 * carries, and another member may serve it. Streams are safe to re-open, so "unknown" costs nothing.
 */
export function movable(error: EtcdError, endpoint: string): EtcdError {
  if (error.memberFailure) return error;
  return new EtcdError(error.code, error.message, { endpoint, status: error.status, serverMessage: error.serverMessage, delivery: "unknown", cause: error });
}

/** Anything thrown, as an EtcdError (a member failure of unknown delivery unless it already is one). */
export function asEtcdError(error: unknown, endpoint: string | undefined, what = "keep-alive"): EtcdError {
  if (error instanceof EtcdError) return error;
  return new EtcdError("UNAVAILABLE", `the ${what} stream failed: ${String(error)}`, { endpoint, delivery: "unknown", cause: error });
}
