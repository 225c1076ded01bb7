/**
 * The plumbing every v2 API module shares: turn one HTTP request and a decoder into an engine
 * operation, so each module states only what it sends, how it decodes, and whether it may be
 * repeated.
 */
import { decodeJsonReply, decodeShape, expectStatus } from "../codec/v2.js";
import type { EndpointEngine, Operation, Progress } from "../endpoints/engine.js";
import type { CallOptions } from "../options.js";
import type { Repeat } from "../errors.js";
import type { HttpReply, HttpRequest, HttpTransport } from "../transport/http.js";

/** One v2 request as the modules describe it. */
export interface V2Call<T> {
  /** Operation name for errors and events. */
  readonly name: string;
  /** Safe to send again after a possible delivery (see docs/retries.md). */
  readonly idempotent: boolean;
  /** Served from the member's local state, so checked for staleness. */
  readonly weakRead?: boolean | undefined;
  /** The request, built (and validated) before anything is sent. */
  readonly request: HttpRequest;
  /** Turns the reply into a result, or throws the `EtcdError` it stands for. */
  decode(reply: HttpReply, endpoint: string): T;
  /** The cluster progress the result shows. */
  progress?(result: T): Progress | undefined;
}

/** Runs v2 calls through the endpoint engine over the HTTP transport. */
export class V2Requester {
  /** The engine that picks members and retries. */
  readonly engine: EndpointEngine;
  /** The transport that sends requests. */
  readonly transport: HttpTransport;

  /** Binds the engine and the transport. */
  constructor(engine: EndpointEngine, transport: HttpTransport) {
    this.engine = engine;
    this.transport = transport;
  }

  /** Sends `call` to a member chosen by the engine, retrying as the engine allows. */
  run<T>(call: V2Call<T>, options: CallOptions | undefined): Promise<T> {
    const transport = this.transport;
    const operation: Operation<T> = {
      name: call.name,
      repeat: repeatOf(call),
      weakRead: call.weakRead,
      // Every v2 request but a GET or HEAD (keys, members, auth) is a raft proposal.
      proposal: call.request.method !== "GET" && call.request.method !== "HEAD",
      run: async (endpoint, signal) => call.decode(await transport.request(endpoint, call.request, signal), endpoint),
    };
    if (call.progress !== undefined) operation.progress = (result) => call.progress?.(result);
    return this.engine.execute(operation, callOptions(options));
  }
}

/** GET and HEAD have no effect, so they may always be re-sent; other idempotent calls only once settled. */
function repeatOf(call: V2Call<unknown>): Repeat {
  if (!call.idempotent) return "once";
  return call.request.method === "GET" || call.request.method === "HEAD" ? "read" : "idempotent";
}

/** Only the signal and timeout of an options object go to the engine. */
export function callOptions(options: CallOptions | undefined): CallOptions {
  return options === undefined ? {} : { signal: options.signal, timeout: options.timeout };
}

/** A call whose reply is JSON with one of the `ok` statuses, decoded by `decoder`. */
export function jsonCall<T>(name: string, idempotent: boolean, request: HttpRequest, ok: readonly number[], decoder: (json: unknown) => T): V2Call<T> {
  return {
    name,
    idempotent,
    request,
    decode: (reply, endpoint) => decodeShape(reply, endpoint, () => decoder(decodeJsonReply(reply, endpoint, ok))),
  };
}

/** A call whose reply only needs one of the `ok` statuses. */
export function statusCall(name: string, idempotent: boolean, request: HttpRequest, ok: readonly number[]): V2Call<undefined> {
  return {
    name,
    idempotent,
    request,
    decode: (reply, endpoint) => {
      expectStatus(reply, endpoint, ok);
      return undefined;
    },
  };
}
