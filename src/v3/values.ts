/**
 * Typed reads on top of `get` and `getAll`: one key as text, JSON or a number (undefined when
 * the key is absent), whether a key exists, and a prefix read into a Map. Shared by the client
 * and namespaces, so each works the same in both.
 */
import { EtcdError } from "../errors.js";
import type { CallOptions } from "../options.js";
import { describe, invalid, optionsOf } from "./convert.js";
import type { Bytes, GetAllOptions, GetOptions, GetResult, KeyValue } from "./types.js";

/** How `getPrefixMap` turns each value: UTF-8 text, parsed JSON, or the bytes themselves. */
export type ValueForm = "string" | "json" | "buffer";

/** The type of a value in the form `F`. */
export type ValueOf<F extends ValueForm> = F extends "buffer" ? Buffer : F extends "json" ? unknown : string;

/** Options of the single-key typed reads (`getString`, `getJson`, `getNumber`, `exists`). */
export interface ValueReadOptions extends CallOptions {
  /** Read the key as it was at this revision. */
  readonly revision?: bigint | number | undefined;
  /** Serve from the member's local state (default: the client's consistency). */
  readonly serializable?: boolean | undefined;
}

/** Options of `getPrefixMap`: `getAll`'s, plus the form of the values. */
export interface PrefixMapOptions<F extends ValueForm = "string"> extends Omit<GetAllOptions, "keysOnly"> {
  /** How each value is given (default "string"). */
  readonly as?: F | undefined;
}

/** The reads these helpers need: the client or a namespace. */
interface Reader {
  get(key: Bytes, options?: GetOptions): Promise<GetResult>;
  getAll(key: Bytes, options?: GetAllOptions): AsyncGenerator<KeyValue, void, undefined>;
}

const FORMS: readonly ValueForm[] = ["string", "json", "buffer"];

function single(options: ValueReadOptions | undefined): GetOptions {
  const o = optionsOf(options, "read");
  // Only these options: a range option here would make "the key's value" ambiguous.
  return { revision: o.revision, serializable: o.serializable, signal: o.signal, timeout: o.timeout };
}

/** The key's value, or undefined when the key is absent. */
export async function readValue(kv: Reader, key: Bytes, options: ValueReadOptions | undefined): Promise<Buffer | undefined> {
  return (await kv.get(key, single(options))).kvs[0]?.value;
}

/** The key's value as UTF-8 text, or undefined when absent. */
export async function readString(kv: Reader, key: Bytes, options: ValueReadOptions | undefined): Promise<string | undefined> {
  return (await readValue(kv, key, options))?.toString("utf8");
}

/** The key's value parsed as JSON (unchecked: `T` is the caller's claim), or undefined when absent; BAD_VALUE when it is not JSON. */
export async function readJson<T>(kv: Reader, key: Bytes, options: ValueReadOptions | undefined): Promise<T | undefined> {
  const value = await readValue(kv, key, options);
  return value === undefined ? undefined : (parseJson(value, key) as T);
}

/** The key's value as a finite number (decimal text, as `String(n)` writes it), or undefined when absent; BAD_VALUE otherwise. */
export async function readNumber(kv: Reader, key: Bytes, options: ValueReadOptions | undefined): Promise<number | undefined> {
  const value = await readValue(kv, key, options);
  if (value === undefined) return undefined;
  const text = value.toString("utf8").trim();
  const n = text === "" ? Number.NaN : Number(text);
  if (!Number.isFinite(n)) throw new EtcdError("BAD_VALUE", `the value of ${keyText(key)} is not a number: ${describe(clip(text))}`);
  return n;
}

/** True when the key exists (a count-only read: no value is transferred). */
export async function keyExists(kv: Reader, key: Bytes, options: ValueReadOptions | undefined): Promise<boolean> {
  return (await kv.get(key, { ...single(options), countOnly: true })).count > 0n;
}

/**
 * Every key under `prefix` (or of the range the options give) in a Map from the key's UTF-8 text
 * to its value in the chosen form, read in pages as one snapshot (`getAll`).
 */
export async function readPrefixMap<F extends ValueForm = "string">(kv: Reader, prefix: Bytes, options?: PrefixMapOptions<F>): Promise<Map<string, ValueOf<F>>> {
  const o = optionsOf(options, "getPrefixMap");
  const form: unknown = o.as ?? "string";
  if (!FORMS.includes(form as ValueForm)) throw invalid(`as must be one of ${FORMS.join(", ")}, got ${describe(form)}`);
  const map = new Map<string, ValueOf<F>>();
  for await (const item of kv.getAll(prefix, o)) {
    const value = form === "buffer" ? item.value : form === "json" ? parseJson(item.value, item.key) : item.value.toString("utf8");
    map.set(item.key.toString("utf8"), value as ValueOf<F>);
  }
  return map;
}

function parseJson(value: Buffer, key: Bytes): unknown {
  try {
    return JSON.parse(value.toString("utf8")) as unknown;
  } catch (error) {
    throw new EtcdError("BAD_VALUE", `the value of ${keyText(key)} is not JSON: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

function keyText(key: Bytes): string {
  return JSON.stringify(typeof key === "string" ? key : Buffer.from(key).toString("utf8"));
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
