/**
 * Go's `encoding/json`, as etcdctl's `-w json` writes protobuf replies: 64-bit integers as bare
 * numbers (a `bigint` never goes through a double, so IDs above 2^53 keep every digit), `[]byte`
 * as base64, strings with Go's HTML-safe escaping. `JSON.stringify` can do none of the three.
 */

/** A value Go's JSON encoder would write: objects keep their key order, `undefined` members are left out (omitempty). */
export type GoJson = null | boolean | number | bigint | string | Uint8Array | readonly GoJson[] | GoObject;

/** A JSON object in field order; a member whose value is `undefined` is omitted. */
export interface GoObject {
  readonly [field: string]: GoJson | undefined;
}

/** The one line `printJSON` prints (without its newline). */
export function goJson(value: GoJson): string {
  if (value === null) return "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "null";
  if (typeof value === "string") return goJsonString(value);
  if (value instanceof Uint8Array) return `"${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64")}"`;
  if (isArray(value)) return `[${value.map(goJson).join(",")}]`;
  const parts: string[] = [];
  for (const [field, member] of Object.entries(value)) {
    if (member !== undefined) parts.push(`${goJsonString(field)}:${goJson(member)}`);
  }
  return `{${parts.join(",")}}`;
}

function isArray(value: GoJson): value is readonly GoJson[] {
  return Array.isArray(value);
}

/** A string as Go's `encoding/json` writes it (HTML-safe escaping, `\u00XX` for other controls). */
export function goJsonString(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (char === '"' || char === "\\") out += `\\${char}`;
    else if (char === "\n") out += "\\n";
    else if (char === "\r") out += "\\r";
    else if (char === "\t") out += "\\t";
    // Go escapes these so the JSON can sit inside HTML <script> tags; JavaScript's JSON does not.
    else if (code < 0x20 || char === "<" || char === ">" || char === "&" || code === 0x2028 || code === 0x2029) {
      out += `\\u${code.toString(16).padStart(4, "0")}`;
    } else out += char;
  }
  return `${out}"`;
}

/** `omitempty`: the value, or `undefined` when Go would leave the field out (zero, false, "", empty). */
export function omitEmpty<T extends GoJson>(value: T): T | undefined {
  if (value === null || value === false || value === 0 || value === 0n || value === "") return undefined;
  if (value instanceof Uint8Array) return value.length === 0 ? undefined : value;
  if (Array.isArray(value) && value.length === 0) return undefined;
  return value;
}
