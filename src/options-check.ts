/**
 * Checking the options both clients take, in one place: the v2 and v3 copies had drifted (v2
 * accepted `probeTimeout: 0`, v3 refused it), the ioredis failure STYLE.md warns about. Each
 * numeric option has one rule for both clients, and endpoints are normalised the same way
 * (etcdctl's bare `host:port` becomes `http://host:port`).
 */
import { EtcdError } from "./errors.js";
import type { EngineOptions } from "./options.js";

/**
 * How a number must look: `positive` (a zero would make the client useless: a probe that times
 * out at once) or `zero-off` (0 turns the feature off: no deadline, no auto-sync, the system's
 * TCP keepalive delay).
 */
type NumberRule = "positive" | "zero-off";

/** Every numeric option either client takes, with its rule and unit. */
const NUMBERS: Readonly<Record<string, readonly [NumberRule, "ms" | "bytes" | "count" | "connections"]>> = Object.freeze({
  dialTimeout: ["positive", "ms"],
  keepAlive: ["zero-off", "ms"],
  requestTimeout: ["zero-off", "ms"],
  autoSync: ["zero-off", "ms"],
  suspectAfter: ["positive", "ms"],
  probeTimeout: ["positive", "ms"],
  healthInterval: ["positive", "ms"],
  window: ["positive", "bytes"],
  maxMessageBytes: ["positive", "bytes"],
  maxResponseBytes: ["positive", "bytes"],
  maxHeaderListBytes: ["positive", "bytes"],
  maxPendingStreams: ["positive", "count"],
  maxOutstandingPings: ["positive", "count"],
  maxSettingsEntries: ["positive", "count"],
  maxQueuedControlFrames: ["positive", "count"],
  maxStreamId: ["positive", "count"],
  keepAliveTimeout: ["positive", "ms"],
  watchMaxBufferedEvents: ["positive", "count"],
  watchMaxBufferedBytes: ["positive", "bytes"],
  connections: ["positive", "connections"],
  maxPendingRequests: ["positive", "count"],
  maxConnections: ["positive", "connections"],
});

const FUNCTIONS = ["checkRetry", "onEvent", "onCurl"] as const;

/** A scheme in front of `//`: anything else is taken as etcdctl's bare `host:port`. */
const HAS_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

function invalid(message: string): EtcdError {
  return new EtcdError("INVALID_ARGUMENT", message);
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  return value === null ? "null" : typeof value;
}

/**
 * Checks the options common to both clients and returns them with normalised endpoints; throws
 * INVALID_ARGUMENT (before anything is sent) for what the client cannot work with.
 */
export function checkOptions<T extends EngineOptions>(options: T): T {
  if (typeof options !== "object" || (options as unknown) === null) throw invalid("options must be an object with at least `endpoints`");
  const endpoints = checkEndpoints(options.endpoints);
  const consistency: unknown = options.consistency;
  if (consistency !== undefined && consistency !== "strong" && consistency !== "weak") {
    throw invalid(`consistency must be "strong" or "weak", got ${describe(consistency)}`);
  }
  const record = options as unknown as Record<string, unknown>;
  for (const [name, [rule, unit]] of Object.entries(NUMBERS)) checkNumber(name, record[name], rule, unit);
  for (const name of FUNCTIONS) {
    const value = record[name];
    if (value !== undefined && typeof value !== "function") throw invalid(`${name} must be a function`);
  }
  const auth = record.auth;
  if (auth !== undefined && (typeof auth !== "object" || auth === null || !("username" in auth) || typeof auth.username !== "string" || !("password" in auth) || typeof auth.password !== "string")) {
    throw invalid("auth must be { username: string, password: string }");
  }
  const tls = record.tls;
  if (tls !== undefined && (typeof tls !== "object" || tls === null)) throw invalid("tls must be an object { ca, cert, key, servername, rejectUnauthorized }");
  return { ...options, endpoints };
}

function checkNumber(name: string, value: unknown, rule: NumberRule, unit: string): void {
  if (value === undefined) return;
  const ok = typeof value === "number" && Number.isFinite(value) && (rule === "positive" ? value > 0 : value >= 0);
  if (!ok) throw invalid(`${name} must be a ${rule === "positive" ? "positive" : "non-negative (0: off)"} number${unit === "count" ? "" : ` of ${unit}`}, got ${describe(value)}`);
}

/**
 * A non-empty list of member URLs, normalised: `host:port` (as etcdctl accepts) becomes
 * `http://host:port`; only http and https bare origins pass (the clients route on the path, so
 * a path or query would be silently dropped; credentials belong in the `auth` option).
 */
export function checkEndpoints(endpoints: unknown): readonly string[] {
  if (!Array.isArray(endpoints) || endpoints.length === 0) throw invalid("endpoints must be a non-empty array of URLs (http://host:port, https://host:port or host:port)");
  return (endpoints as readonly unknown[]).map(checkEndpoint);
}

function checkEndpoint(endpoint: unknown): string {
  if (typeof endpoint !== "string") throw invalid(`an endpoint must be a string, got ${describe(endpoint)}`);
  const text = endpoint.trim();
  const full = HAS_SCHEME.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(full);
  } catch {
    throw invalid(`endpoint ${JSON.stringify(endpoint)} is not a URL (expected e.g. http://127.0.0.1:2379 or 127.0.0.1:2379)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw invalid(`endpoint ${JSON.stringify(endpoint)} must use http or https`);
  if (url.username !== "" || url.password !== "") throw invalid(`endpoint ${JSON.stringify(endpoint)} has credentials in it; use the auth option`);
  if ((url.pathname !== "/" && url.pathname !== "") || url.search !== "" || url.hash !== "" || full.endsWith("?") || full.endsWith("#")) {
    throw invalid(`endpoint ${JSON.stringify(endpoint)} must be a bare origin, without a path or query`);
  }
  if (url.hostname === "") throw invalid(`endpoint ${JSON.stringify(endpoint)} has no host`);
  return full.replace(/\/+$/, "");
}
