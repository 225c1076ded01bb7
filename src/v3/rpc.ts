/**
 * The plumbing every v3 module shares: turn one gRPC method, a request message and its codecs
 * into an endpoint-engine operation. Each module states only what it sends, how the reply is
 * decoded and whether the call may be repeated; tokens, retries and member choice live here and
 * in the engine.
 */
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import type { EndpointEngine, Operation, ProbeVerdict } from "../endpoints/engine.js";
import { EtcdError, type Repeat } from "../errors.js";
import type { CallOptions } from "../options.js";
import type { GrpcTransport, Metadata } from "../transport/grpc.js";
import { StatusRequest, StatusResponse, type ResponseHeader } from "./gen/etcdserverpb.js";
import { METHODS } from "./methods.js";
import type { TokenSource } from "./tokens.js";

/** The encoder half of a generated message codec. */
export interface Encoder<T> {
  encode(message: T, writer?: BinaryWriter): BinaryWriter;
}

/** The decoder half of a generated message codec. */
export interface Decoder<T> {
  decode(input: Uint8Array, length?: number): T;
}

/** One unary method as the modules describe it. */
export interface UnarySpec<Req, Res> {
  /** Operation name for errors and events, e.g. "put". */
  readonly name: string;
  /** The gRPC path, from METHODS. */
  readonly path: string;
  /** Whether it may be sent again after a possible delivery. */
  readonly repeat: Repeat;
  /** For a write the member serves itself rather than through raft (defragment, moveLeader). */
  readonly local?: boolean;
  /** Request encoder. */
  readonly request: Encoder<Req>;
  /** Reply decoder. */
  readonly response: Decoder<Res>;
}

/** Runs v3 calls through the endpoint engine over the gRPC transport, with the auth token attached. */
export class V3Rpc {
  /** The engine that picks members and retries. */
  readonly engine: EndpointEngine;
  /** The HTTP/2 transport. */
  readonly transport: GrpcTransport;
  /** The auth token source, when the client authenticates. */
  readonly tokens: TokenSource | undefined;

  /** Binds the engine, the transport and the token source. */
  constructor(engine: EndpointEngine, transport: GrpcTransport, tokens: TokenSource | undefined) {
    this.engine = engine;
    this.transport = transport;
    this.tokens = tokens;
  }

  /**
   * Sends one request to a member the engine chooses. `weakRead` marks serializable reads, whose
   * reply revision the engine checks against what the client has already seen. `repeat`, when
   * given, replaces the method's rule for this one call: a caller that built a write so that
   * applying it twice has the effect of once whatever others do (the lock acquire txn) says
   * "read"; it still counts as a raft proposal.
   */
  call<Req, Res extends { header?: ResponseHeader | undefined }>(
    spec: UnarySpec<Req, Res>,
    request: Req,
    options: CallOptions | undefined,
    weakRead = false,
    repeat: Repeat = spec.repeat,
  ): Promise<Res> {
    const bytes = encode(spec.request, request);
    const operation: Operation<Res> = {
      name: spec.name,
      repeat,
      weakRead,
      proposal: spec.repeat !== "read" && spec.local !== true,
      run: (endpoint, signal) => this.attempt(endpoint, spec, bytes, signal),
      progress: progressOf,
    };
    return this.engine.execute(operation, callOptions(options));
  }

  /** This engine and transport without the token (Authenticate must go out bare). */
  withoutToken(): V3Rpc {
    return this.tokens === undefined ? this : new V3Rpc(this.engine, this.transport, undefined);
  }

  /** Sends one request to one given member, not retried elsewhere (status, defragment, hashKV of a member). */
  async callMember<Req, Res>(endpoint: string, spec: UnarySpec<Req, Res>, request: Req, options: CallOptions | undefined): Promise<Res> {
    const bytes = encode(spec.request, request);
    const limit = options?.timeout ?? this.engine.requestTimeout;
    const timeout = AbortSignal.timeout(limit);
    const signal = options?.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout]);
    try {
      return await this.attempt(endpoint, spec, bytes, signal);
    } catch (error) {
      if (options?.signal?.aborted === true) throw options.signal.reason;
      if (timeout.aborted) throw new EtcdError("TIMEOUT", `${spec.name} on ${endpoint} took longer than ${limit} ms`, { endpoint, cause: error });
      throw error;
    }
  }

  /** One attempt on one member; an expired or stale token is refreshed and the call sent once more (etcd rejected it unapplied). */
  async attempt<Req, Res>(endpoint: string, spec: UnarySpec<Req, Res>, bytes: Uint8Array, signal: AbortSignal): Promise<Res> {
    const tokens = this.tokens;
    let token = tokens === undefined ? undefined : await tokens.get(signal);
    for (let refreshed = false; ; refreshed = true) {
      try {
        const reply = await this.transport.unary(endpoint, spec.path, bytes, { signal, metadata: token === undefined ? undefined : { token } });
        return decode(spec.response, reply, endpoint);
      } catch (error) {
        if (tokens === undefined || refreshed || !(error instanceof EtcdError) || !tokenRefused(error, token)) throw error;
        tokens.invalidate(token);
        token = await tokens.get(signal);
      }
    }
  }

  /** Request metadata for a stream: the current token, fetched if need be. */
  async streamMetadata(signal: AbortSignal, extra: Metadata = {}): Promise<Metadata> {
    if (this.tokens === undefined) return extra;
    const token = await this.tokens.get(signal);
    return token === undefined ? extra : { ...extra, token };
  }

  /**
   * The engine's health probe: Maintenance.Status on the transport's separate probe session.
   * A member that answers without knowing a leader is "no-leader"; one that refuses connections
   * is "down"; silence until the probe's deadline is "unresponsive".
   */
  async probe(endpoint: string, signal: AbortSignal, sawTerm?: (term: number) => void): Promise<ProbeVerdict> {
    const token = this.tokens?.current();
    try {
      const reply = await this.transport.unary(endpoint, METHODS.status, STATUS_REQUEST, {
        signal,
        channel: "probe",
        metadata: token === undefined ? undefined : { token },
      });
      const status = StatusResponse.decode(reply);
      sawTerm?.(Number(status.raftTerm));
      return status.leader === 0n ? "no-leader" : "healthy";
    } catch (error) {
      if (signal.aborted) return "unresponsive";
      if (!(error instanceof EtcdError)) return "inconclusive";
      if (error.code === "NO_LEADER") return "no-leader";
      if (error.code === "UNAVAILABLE" && causeCode(error) === "ECONNREFUSED") return "down";
      // Any other answer from the server (an auth refusal, say) still shows the process is alive.
      if (error.delivery === undefined) return "healthy";
      return "inconclusive";
    }
  }
}

const STATUS_REQUEST = StatusRequest.encode({}).finish();

/** A request this large gives its grown buffer up rather than keep it for the life of the process. */
const SHARED_WRITER_MAX = 64 * 1024;
// One writer for every request, since encoding is synchronous: a fresh writer allocated its first
// buffer on its first write, about 0.6 µs of each call's client CPU (docs/performance.md,
// "Client CPU per call, round 3").
let writer = new BinaryWriter();

function encode<T>(codec: Encoder<T>, message: T): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = codec.encode(message, writer).finish();
  } catch (error) {
    // A message that failed halfway left its bytes and forks in the writer.
    writer = new BinaryWriter();
    throw error;
  }
  if (bytes.length > SHARED_WRITER_MAX) writer = new BinaryWriter();
  return bytes;
}

/** Decodes a reply; bytes that are not the expected message are the member's fault, not the caller's. */
export function decode<T>(codec: Decoder<T>, bytes: Uint8Array, endpoint: string): T {
  try {
    return codec.decode(bytes);
  } catch (error) {
    throw new EtcdError("MALFORMED_RESPONSE", `${endpoint} sent a reply that is not a valid protobuf message: ${String(error)}`, {
      endpoint,
      delivery: "unknown",
      cause: error,
    });
  }
}

function progressOf(result: { header?: ResponseHeader | undefined }): { index: number; term: number } | undefined {
  const h = result.header;
  if (h === undefined || h.revision === 0n) return undefined;
  return { index: Number(h.revision), term: Number(h.raftTerm) };
}

/** Only the signal and timeout of an options object go to the engine. */
export function callOptions(options: CallOptions | undefined): CallOptions {
  return options === undefined ? {} : { signal: options.signal, timeout: options.timeout };
}

/**
 * Whether etcd refused the call for its token (expired, or issued before an auth change), or
 * refused a call sent without one because auth was switched on meanwhile: either way it was not
 * applied, and a fresh token fixes it.
 */
function tokenRefused(error: EtcdError, token: string | undefined): boolean {
  if (error.code === "INVALID_AUTH_TOKEN") return true;
  return token === undefined && error.code === "PERMISSION_DENIED" && error.serverMessage?.includes("user name is empty") === true;
}

function causeCode(error: EtcdError): string | undefined {
  let cause: unknown = error.cause;
  for (let depth = 0; depth < 4 && cause !== undefined && cause !== null; depth++) {
    if (typeof cause === "object" && "code" in cause && typeof cause.code === "string") return cause.code;
    cause = typeof cause === "object" && "cause" in cause ? cause.cause : undefined;
  }
  return undefined;
}
