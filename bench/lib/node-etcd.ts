/**
 * node-etcd 7.0.0 (CommonJS, callbacks, no type declarations) behind a typed, promise-returning
 * face, so the benchmarks drive it the same way they drive etcd-ts.
 */
import { createRequire } from "node:module";
import type { EventEmitter } from "node:events";

/** What node-etcd returns for every request: a handle that can abort it. */
interface CancellationToken {
  abort(): void;
}

type Callback = (error: Error | null, body: unknown) => void;

/** The parts of node-etcd's client the benchmarks use. */
export interface NodeEtcd {
  get(key: string, options: Record<string, unknown>, callback: Callback): CancellationToken;
  set(key: string, value: string, options: Record<string, unknown>, callback: Callback): CancellationToken;
  watcher(key: string, index: number | null, options: Record<string, unknown>): EventEmitter & { stop(): void };
}

type NodeEtcdConstructor = new (hosts: readonly string[], options?: Record<string, unknown>) => NodeEtcd;

const require = createRequire(import.meta.url);

/** A node-etcd client for these member URLs; `options` go to `request` (e.g. `{ timeout: 1000 }`). */
export function nodeEtcd(hosts: readonly string[], options: Record<string, unknown> = {}): NodeEtcd {
  const Etcd = require("node-etcd") as NodeEtcdConstructor;
  return new Etcd(hosts, options);
}

/** Runs one node-etcd call as a promise; aborting `signal` aborts the HTTP request and rejects with its reason. */
export function call(start: (callback: Callback) => CancellationToken, signal?: AbortSignal): Promise<unknown> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      // Only ever called after `token` is set: the listener is added below it.
      token.abort();
      reject(signal?.reason as Error);
    };
    const token = start((error, body) => {
      signal?.removeEventListener("abort", onAbort);
      if (error === null) resolve(body);
      else reject(error);
    });
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** A short label for a node-etcd failure: the socket code, or the HTTP status / etcd code it reported. */
export function nodeEtcdErrorLabel(error: unknown): string {
  if (typeof error !== "object" || error === null) return String(error);
  const e = error as { code?: unknown; errorCode?: unknown; errors?: readonly { httperror?: { code?: unknown } | null; httpstatus?: unknown }[] };
  if (typeof e.code === "string") return e.code;
  if (typeof e.errorCode === "number") return `etcd ${e.errorCode}`;
  const last = e.errors?.at(-1);
  if (last !== undefined) {
    const inner = last.httperror?.code;
    return `all servers failed (${typeof inner === "string" ? inner : `HTTP ${String(last.httpstatus)}`})`;
  }
  return error instanceof Error ? error.message : "error";
}
