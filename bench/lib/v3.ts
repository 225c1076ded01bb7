/**
 * etcd-ts's v3 client, found at run time. The benchmark must keep running while `EtcdV3Client`
 * is not yet exported from src/index.ts, so it is looked up by dynamic import and used through
 * the small shape below (put, get with `serializable`, watch, close) instead of its static type.
 */

/** The part of etcd-ts's v3 API the benchmarks use. */
export interface V3Client {
  put(key: string, value: string): Promise<{ readonly header: { readonly revision: bigint } }>;
  get(key: string, options?: { serializable?: boolean }): Promise<{ readonly kvs: readonly { readonly value: Uint8Array }[] }>;
  watch(key: string, options?: { startRevision?: bigint; signal?: AbortSignal }): AsyncIterable<{ readonly type: string; readonly kv: { readonly value: Uint8Array } }>;
  close(): Promise<void>;
}

/** `new EtcdV3Client(options)`. */
export type V3ClientConstructor = new (options: { endpoints: readonly string[]; consistency?: "strong" | "weak" }) => V3Client;

/** The constructor, or why there is none (printed by the benchmark when it skips the etcd-ts v3 rows). */
export type V3Lookup = { readonly ok: true; readonly EtcdV3Client: V3ClientConstructor } | { readonly ok: false; readonly reason: string };

/** Looks `EtcdV3Client` up in etcd-ts's entry point (src/index.ts, compiled with the benchmark). */
export async function loadV3(): Promise<V3Lookup> {
  let mod: Record<string, unknown>;
  try {
    mod = await import("../../src/index.js");
  } catch (error) {
    return { ok: false, reason: `src/index.ts failed to load: ${error instanceof Error ? error.message : String(error)}` };
  }
  const ctor = mod.EtcdV3Client;
  if (typeof ctor !== "function") return { ok: false, reason: "EtcdV3Client is not exported from src/index.ts yet" };
  return { ok: true, EtcdV3Client: ctor as V3ClientConstructor };
}

/** The exit code of a v3 child that found no `EtcdV3Client`: "nothing to measure", not a failure. */
export const NO_V3_EXIT = 3;
