/**
 * The v2 key-space codec: building requests (key encoding, query and form) and decoding replies.
 * Pure functions with no I/O, so every byte the client sends or accepts is unit-tested without a
 * server. Wire names (`prevExist`, `noValueOnSuccess`) appear here and nowhere in the client.
 */
import { EtcdError } from "../errors.js";
import type { HttpMethod, HttpReply, HttpRequest } from "../transport/http.js";
import type { V2Node, V2Response } from "../v2/types.js";
import { ShapeError, array, object, optionalBoolean, optionalNumber, optionalString, parseJson, string, type JsonObject } from "./json.js";
import { emptyResponseError, errorFromReply, malformedResponseError, type ReplyContext } from "./v2-errors.js";

/** Query or form parameters; `undefined` values are left out. */
export type Params = Readonly<Record<string, string | undefined>>;

/** Everything a PUT to the key space can say. */
export interface PutSpec {
  readonly value?: string | undefined;
  /** Seconds; `null` sends an empty `ttl=`, which clears a TTL. */
  readonly ttl?: number | null | undefined;
  readonly dir?: boolean | undefined;
  readonly prevExist?: boolean | undefined;
  readonly prevValue?: string | undefined;
  readonly prevIndex?: number | undefined;
  readonly refresh?: boolean | undefined;
  readonly noValueOnSuccess?: boolean | undefined;
}

/** Everything a DELETE from the key space can say. */
export interface DeleteSpec {
  readonly recursive?: boolean | undefined;
  readonly dir?: boolean | undefined;
  readonly prevValue?: string | undefined;
  readonly prevIndex?: number | undefined;
}

/** Everything a GET of the key space can say (watches are built by the watch module). */
export interface GetSpec {
  readonly recursive?: boolean | undefined;
  readonly sorted?: boolean | undefined;
  readonly quorum?: boolean | undefined;
}

/** An INVALID_ARGUMENT error, raised before anything is sent. */
export function invalidArgument(message: string): EtcdError {
  return new EtcdError("INVALID_ARGUMENT", message);
}

/**
 * Keys whose path needs no work: non-empty segments of characters `encodeURIComponent` keeps,
 * none starting with a dot (so none is "." or "..").
 */
const PLAIN_KEY = /^\/?[\w~-][\w.~-]*(?:\/[\w~-][\w.~-]*)*$/;

/**
 * The request path of a key. Each segment is percent-encoded on its own, so spaces, `+`, `%`,
 * `?`, `#` and unicode reach etcd as written (go-etcd sent a space as `+`, which etcd kept).
 * Empty segments are dropped because etcd answers `a//b` with a redirect to `a/b`, the same key.
 */
export function encodeKeyPath(key: unknown): string {
  if (typeof key !== "string") throw invalidArgument(`a key must be a string, got ${typeof key}`);
  // Every request starts here: a key that encoding would leave unchanged is used as it is.
  if (PLAIN_KEY.test(key)) return key.startsWith("/") ? `/v2/keys${key}` : `/v2/keys/${key}`;
  const segments = key.split("/").filter((s) => s !== "");
  if (segments.some((s) => s === "." || s === "..")) {
    throw invalidArgument(`key ${JSON.stringify(key)} has a "." or ".." segment, which etcd would resolve to another key`);
  }
  try {
    return `/v2/keys/${segments.map(encodeURIComponent).join("/")}`;
  } catch {
    // encodeURIComponent throws on lone UTF-16 surrogates, which have no UTF-8 form.
    throw invalidArgument(`key ${JSON.stringify(key)} is not valid unicode`);
  }
}

/** Encodes parameters as `a=1&b=2`, leaving out undefined values. */
export function encodeParams(params: Params): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) parts.push(`${encodeURIComponent(name)}=${encodeURIComponent(value)}`);
  }
  return parts.join("&");
}

/** Appends a query string to a path when there is one. */
export function withQuery(path: string, query: Params): string {
  const encoded = encodeParams(query);
  return encoded === "" ? path : `${path}?${encoded}`;
}

/** GET of a key or directory. */
export function getRequest(key: string, spec: GetSpec): HttpRequest {
  // What withQuery(path, { recursive, sorted, quorum }) builds, without the objects: every read comes here.
  const path = encodeKeyPath(key);
  let query = spec.recursive === true ? "recursive=true" : "";
  if (spec.sorted === true) query += query === "" ? "sorted=true" : "&sorted=true";
  if (spec.quorum === true) query += query === "" ? "quorum=true" : "&quorum=true";
  return { method: "GET", path: query === "" ? path : `${path}?${query}` };
}

/**
 * PUT of a key. Flags go in the query; value, ttl and prevValue go in the form body, because
 * they can be long and etcd reads both (it parses PUT bodies as forms).
 */
export function putRequest(key: string, spec: PutSpec): HttpRequest {
  checkText("value", spec.value);
  checkText("prevValue", spec.prevValue);
  checkTtl(spec.ttl);
  checkIndex(spec.prevIndex);
  // What withQuery and encodeParams build from { dir, prevExist, prevIndex, refresh,
  // noValueOnSuccess } and { value, ttl, prevValue }, without the objects: every write comes here.
  let query = spec.dir === true ? "dir=true" : "";
  if (spec.prevExist !== undefined) query += `${query === "" ? "" : "&"}prevExist=${String(spec.prevExist)}`;
  if (spec.prevIndex !== undefined) query += `${query === "" ? "" : "&"}prevIndex=${String(spec.prevIndex)}`;
  if (spec.refresh === true) query += query === "" ? "refresh=true" : "&refresh=true";
  if (spec.noValueOnSuccess === true) query += query === "" ? "noValueOnSuccess=true" : "&noValueOnSuccess=true";
  let body = spec.value === undefined ? "" : `value=${encodeURIComponent(spec.value)}`;
  const ttl = ttlParam(spec.ttl);
  if (ttl !== undefined) body += `${body === "" ? "" : "&"}ttl=${ttl}`;
  if (spec.prevValue !== undefined) body += `${body === "" ? "" : "&"}prevValue=${encodeURIComponent(spec.prevValue)}`;
  const path = encodeKeyPath(key);
  return { method: "PUT", path: query === "" ? path : `${path}?${query}`, body };
}

/** POST to a directory: etcd names the new key (or, with `dir`, directory) after its index. */
export function postRequest(dir: string, spec: { readonly value?: string | undefined; readonly ttl?: number | undefined; readonly dir?: boolean | undefined }): HttpRequest {
  checkText("value", spec.value);
  checkTtl(spec.ttl);
  return bodyRequest("POST", withQuery(encodeKeyPath(dir), { dir: flag(spec.dir) }), { value: spec.value, ttl: ttlParam(spec.ttl) });
}

/** DELETE of a key. Everything goes in the query: etcd does not read DELETE bodies. */
export function deleteRequest(key: string, spec: DeleteSpec): HttpRequest {
  checkText("prevValue", spec.prevValue);
  checkIndex(spec.prevIndex);
  const query = {
    recursive: flag(spec.recursive),
    dir: flag(spec.dir),
    prevValue: spec.prevValue,
    prevIndex: spec.prevIndex === undefined ? undefined : String(spec.prevIndex),
  };
  return { method: "DELETE", path: withQuery(encodeKeyPath(key), query) };
}

/** A request to any path, for `raw`. */
export function rawRequest(method: HttpMethod, path: string, query: Params, form: Params | undefined): HttpRequest {
  if (!path.startsWith("/")) throw invalidArgument(`a raw path must start with "/", got ${JSON.stringify(path)}`);
  const full = withQuery(path, query);
  return form === undefined ? { method, path: full } : bodyRequest(method, full, form);
}

/** A request with a JSON body (members and auth APIs). */
export function jsonRequest(method: HttpMethod, path: string, body: unknown): HttpRequest {
  return { method, path, body: JSON.stringify(body), contentType: "application/json" };
}

/** Shows a bad argument in an error message without calling a caller's toString. */
export function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  return value === null ? "null" : typeof value;
}

/** A required string argument (a value, a user name): checked at run time for JavaScript callers. */
export function requireText(name: string, value: unknown): string {
  if (typeof value !== "string") throw invalidArgument(`${name} must be a string, got ${describe(value)}`);
  return value;
}

/** A required TTL argument (refresh). */
export function requireTtl(ttl: unknown): number {
  if (ttl === undefined || ttl === null) throw invalidArgument("a ttl is required");
  checkTtl(ttl);
  return ttl as number;
}

// Callers may be plain JavaScript, so the types are checked again at run time.
function checkText(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== "string") {
    throw invalidArgument(`${name} must be a string, got ${value === null ? "null" : typeof value}`);
  }
}

function checkTtl(ttl: unknown): void {
  if (ttl === undefined || ttl === null) return;
  // 0 is refused rather than sent: etcd would expire the key at once, while go-etcd users
  // wrote 0 to mean "no TTL".
  if (typeof ttl !== "number" || !Number.isSafeInteger(ttl) || ttl <= 0) {
    throw invalidArgument(`ttl must be a positive whole number of seconds (omit it for no TTL), got ${describe(ttl)}`);
  }
}

function checkIndex(index: unknown): void {
  // etcd reads prevIndex=0 as "no condition", which would turn a compare into a plain write.
  if (index !== undefined && (typeof index !== "number" || !Number.isSafeInteger(index) || index <= 0)) {
    throw invalidArgument(`prevIndex must be a positive whole number, got ${describe(index)}`);
  }
}

function bodyRequest(method: HttpMethod, path: string, form: Params): HttpRequest {
  return { method, path, body: encodeParams(form) };
}

function flag(value: boolean | undefined): string | undefined {
  return value === true ? "true" : undefined;
}

function ttlParam(ttl: number | null | undefined): string | undefined {
  if (ttl === undefined) return undefined;
  return ttl === null ? "" : String(ttl);
}

/** Reads a numeric header; undefined when absent or not a number. */
export function headerNumber(headers: HttpReply["headers"], name: string): number | undefined {
  const text = headerString(headers, name);
  if (text === undefined || text === "") return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/** Reads a header as one string (the first, when repeated). */
export function headerString(headers: HttpReply["headers"], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The context errors are built with. */
export function replyContext(reply: HttpReply, endpoint: string): ReplyContext {
  return { endpoint, reply, headerIndex: headerNumber(reply.headers, "x-etcd-index") };
}

const NON_BLANK = /\S/;

/**
 * Checks the status and parses the JSON body of a reply, or throws the matching `EtcdError`.
 * `ok` lists the statuses that mean success; the body is then required unless `allowEmpty`.
 */
export function decodeJsonReply(reply: HttpReply, endpoint: string, ok: readonly number[], allowEmpty = false): unknown {
  const ctx = replyContext(reply, endpoint);
  if (!ok.includes(reply.status)) throw errorFromReply(ctx);
  // Tested rather than trimmed: etcd ends every body with a newline, and trim() would copy it.
  if (!NON_BLANK.test(reply.body)) {
    if (allowEmpty) return undefined;
    throw emptyResponseError(ctx);
  }
  try {
    return parseJson(reply.body);
  } catch (error) {
    throw malformedResponseError(ctx, error instanceof Error ? error.message : String(error));
  }
}

/** Checks that a reply whose body does not matter has one of the `ok` statuses, or throws its error. */
export function expectStatus(reply: HttpReply, endpoint: string, ok: readonly number[]): void {
  if (!ok.includes(reply.status)) throw errorFromReply(replyContext(reply, endpoint));
}

/** Runs a shape decoder, turning a wrong shape into MALFORMED_RESPONSE. */
export function decodeShape<T>(reply: HttpReply, endpoint: string, decode: () => T): T {
  try {
    return decode();
  } catch (error) {
    if (error instanceof ShapeError) throw malformedResponseError(replyContext(reply, endpoint), error.message);
    throw error;
  }
}

/** Decodes a key-space reply (200 or 201) into a `V2Response`, or throws the server's error. */
export function decodeKeyReply(reply: HttpReply, endpoint: string): V2Response {
  const json = decodeJsonReply(reply, endpoint, [200, 201]);
  return decodeShape(reply, endpoint, () => {
    const body = object(json, "the reply");
    const headers = reply.headers;
    const response: Mutable<V2Response> = { action: string(body, "action"), etcdIndex: headerNumber(headers, "x-etcd-index") ?? 0 };
    if (body.node !== undefined && body.node !== null) response.node = decodeNode(body.node);
    if (body.prevNode !== undefined && body.prevNode !== null) response.prevNode = decodeNode(body.prevNode);
    const raftIndex = headerNumber(headers, "x-raft-index");
    const raftTerm = headerNumber(headers, "x-raft-term");
    const clusterId = headerString(headers, "x-etcd-cluster-id");
    if (raftIndex !== undefined) response.raftIndex = raftIndex;
    if (raftTerm !== undefined) response.raftTerm = raftTerm;
    if (clusterId !== undefined) response.clusterId = clusterId;
    return response;
  });
}

/** Decodes one node and its children. The root directory comes without a key or indexes. */
export function decodeNode(value: unknown): V2Node {
  const o: JsonObject = object(value, "a node");
  const text = optionalString(o, "value");
  const dir = optionalBoolean(o, "dir");
  const ttl = optionalNumber(o, "ttl");
  const expiration = optionalString(o, "expiration");
  // Fields in the server's order, so a logged node reads like etcd's JSON. Assigned one by one
  // rather than spread: every reply of every read and write goes through here.
  const node: { -readonly [K in keyof V2Node]?: V2Node[K] } = { key: optionalString(o, "key") ?? "/" };
  if (text !== undefined) node.value = text;
  if (dir !== undefined) node.dir = dir;
  if (o.nodes !== undefined && o.nodes !== null) node.nodes = array(o, "nodes").map(decodeNode);
  if (expiration !== undefined) node.expiration = expiration;
  if (ttl !== undefined) node.ttl = ttl;
  node.createdIndex = optionalNumber(o, "createdIndex") ?? 0;
  node.modifiedIndex = optionalNumber(o, "modifiedIndex") ?? 0;
  return node as V2Node;
}

/** A writable view of a readonly reply type, used only while building it. */
export type Mutable<T> = { -readonly [K in keyof T]: T[K] };
