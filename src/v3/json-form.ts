/**
 * The JSON form of v3 results. `JSON.stringify` cannot write a bigint and writes a Buffer as
 * `{"type":"Buffer","data":[...]}`, so results need a form of their own:
 * - a bigint (revision, version, lease or member ID) becomes its decimal string, exact at any size;
 * - bytes (a key or a value) become their text when they are valid UTF-8, and otherwise
 *   `{ "base64": "<the bytes in base64>" }`: an object rather than a bare string, so that a
 *   reader can always tell which of the two it has (a bare base64 string is also valid text);
 * - arrays, plain objects and Maps (as objects) are converted member by member; undefined
 *   members are left out, as JSON.stringify leaves them.
 * Results of get, put, delete and txn carry this as a non-enumerable `toJSON`, so
 * `JSON.stringify(await etcd.get(k))` just works; anything else goes through `toJsonSafe`.
 */
import { isUtf8 } from "node:buffer";

/** A value as `toJsonSafe` returns it: only what JSON can hold. */
export type JsonSafe = string | number | boolean | null | readonly JsonSafe[] | { readonly [key: string]: JsonSafe };

/** Converts a result (or anything holding bigints and bytes) into a value `JSON.stringify` writes faithfully. */
export function toJsonSafe(value: unknown): JsonSafe {
  return convert(value, 0);
}

function convert(value: unknown, depth: number): JsonSafe {
  if (depth > 100) throw new RangeError("toJsonSafe: value nests too deep (or is circular)");
  switch (typeof value) {
    case "bigint":
      return value.toString();
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : null;
    case "object":
      return value === null ? null : convertObject(value, depth);
    default:
      // undefined, functions and symbols have no JSON form (JSON.stringify drops them from objects).
      return null;
  }
}

function convertObject(value: object, depth: number): JsonSafe {
  if (value instanceof Uint8Array) return isUtf8(value) ? Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("utf8") : { base64: Buffer.from(value).toString("base64") };
  if (Array.isArray(value)) return (value as readonly unknown[]).map((v) => convert(v, depth + 1));
  const entries = value instanceof Map ? [...(value as Map<unknown, unknown>).entries()].map(([k, v]) => [String(k), v] as const) : Object.entries(value);
  const out: Record<string, JsonSafe> = {};
  for (const [k, v] of entries) {
    if (v === undefined || typeof v === "function" || typeof v === "symbol") continue;
    out[k] = convert(v, depth + 1);
  }
  return out;
}

/** Gives a result object a non-enumerable `toJSON` (so deep equality and spreading ignore it) and returns it. */
export function jsonable<T extends object>(result: T): T {
  Object.defineProperty(result, "toJSON", { value: toJSONMethod, enumerable: false, configurable: true, writable: true });
  return result;
}

function toJSONMethod(this: unknown): JsonSafe {
  return toJsonSafe(this);
}
