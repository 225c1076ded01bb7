/**
 * Small readers that check the shape of parsed JSON, so decoders never trust a server (or a
 * proxy pretending to be one) and never need `any`. A wrong shape throws `ShapeError`, which the
 * decoders turn into MALFORMED_RESPONSE.
 */

/** Thrown when a JSON value does not have the shape a decoder expects. */
export class ShapeError extends Error {
  /** Describes what was expected where. */
  constructor(message: string) {
    super(message);
    this.name = "ShapeError";
  }
}

/** A parsed JSON object. */
export type JsonObject = Readonly<Record<string, unknown>>;

/** Parses JSON text, throwing `ShapeError` with the parser's reason. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ShapeError(error instanceof Error ? error.message : String(error));
  }
}

/** The value as an object, or a `ShapeError` naming `what`. */
export function object(value: unknown, what: string): JsonObject {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ShapeError(`${what} is not an object`);
  return value as JsonObject;
}

/** A required string field. */
export function string(o: JsonObject, field: string): string {
  const value = o[field];
  if (typeof value !== "string") throw new ShapeError(`"${field}" is not a string`);
  return value;
}

/** An optional string field (absent or null gives undefined). */
export function optionalString(o: JsonObject, field: string): string | undefined {
  const value = o[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new ShapeError(`"${field}" is not a string`);
  return value;
}

/** A required number field. */
export function number(o: JsonObject, field: string): number {
  const value = o[field];
  if (typeof value !== "number") throw new ShapeError(`"${field}" is not a number`);
  return value;
}

/** An optional number field (absent or null gives undefined). */
export function optionalNumber(o: JsonObject, field: string): number | undefined {
  const value = o[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number") throw new ShapeError(`"${field}" is not a number`);
  return value;
}

/** An optional boolean field (absent or null gives undefined). */
export function optionalBoolean(o: JsonObject, field: string): boolean | undefined {
  const value = o[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean") throw new ShapeError(`"${field}" is not a boolean`);
  return value;
}

/** An array field; absent or null (Go's nil slice) gives an empty array. */
export function array(o: JsonObject, field: string): readonly unknown[] {
  const value = o[field];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new ShapeError(`"${field}" is not an array`);
  return value as readonly unknown[];
}

/** An array-of-strings field; absent or null gives an empty array. */
export function strings(o: JsonObject, field: string): readonly string[] {
  return array(o, field).map((item) => {
    if (typeof item !== "string") throw new ShapeError(`"${field}" holds a non-string`);
    return item;
  });
}
