/**
 * The auth token of a v3 client: fetched once with Authenticate, shared by unary calls and
 * streams, and replaced when etcd rejects it. Only one Authenticate is in flight at a time, so a
 * burst of calls that all find the token expired costs one round trip, not one each (the etcd3
 * library's re-auth recursion deadlocked here, microsoft/etcd3#177).
 *
 * When the cluster answers that authentication is not enabled, the client goes on without a
 * token (as Go's clientv3 does) instead of failing every call; should auth be switched on later,
 * the first refused call fetches a token.
 */
import { EtcdError } from "../errors.js";

/** Fetches a fresh token; given by the client, which runs Authenticate through the engine. */
export type Authenticate = (signal: AbortSignal) => Promise<string>;

/** The client's current auth token and the single in-flight refresh. */
export class TokenSource {
  readonly #authenticate: Authenticate;
  #token: string | undefined;
  /** True once the cluster said auth is off: calls go without a token until one is refused. */
  #none = false;
  #pending: Promise<string | undefined> | undefined;
  #generation = 0;

  /** Uses `authenticate` whenever a token is needed and none is held. */
  constructor(authenticate: Authenticate) {
    this.#authenticate = authenticate;
  }

  /** The token held now, if any; never waits (health probes use it). */
  current(): string | undefined {
    return this.#token;
  }

  /** The token, fetching one if none is held (undefined while the cluster has auth off); `signal` abandons this caller's wait only. */
  get(signal: AbortSignal): Promise<string | undefined> {
    if (this.#token !== undefined) return Promise.resolve(this.#token);
    if (this.#none) return Promise.resolve(undefined);
    if (this.#pending === undefined) {
      const generation = ++this.#generation;
      // The shared fetch must not die with the first caller's signal; each caller only stops waiting.
      const shared = new AbortController();
      const pending = this.#authenticate(shared.signal).then(
        (token): string | undefined => {
          if (this.#generation === generation) this.#token = token;
          return token;
        },
        (error: unknown): undefined => {
          if (!(error instanceof EtcdError && error.code === "AUTH_NOT_ENABLED")) throw error;
          if (this.#generation === generation) this.#none = true;
          return undefined;
        },
      );
      const clear = (): void => {
        if (this.#pending === pending) this.#pending = undefined;
      };
      pending.then(clear, clear);
      this.#pending = pending;
    }
    return raceSignal(this.#pending, signal);
  }

  /** Drops `token` after etcd rejected it (undefined: a call without a token was refused); a newer token fetched meanwhile is kept. */
  invalidate(token: string | undefined): void {
    if (token === undefined) this.#none = false;
    else if (this.#token === token) this.#token = undefined;
  }

  /** Forgets the token (the client is closing or the credentials changed). */
  clear(): void {
    this.#token = undefined;
    this.#none = false;
    this.#generation++;
  }
}

function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      reject(abortReason(signal));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error instanceof Error ? error : new EtcdError("AUTH_FAILED", String(error)));
      },
    );
  });
}

/** The signal's reason when it is an Error (the engine's and AbortSignal.timeout's are). */
function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new EtcdError("TIMEOUT", "aborted while waiting for an auth token", { cause: reason });
}
