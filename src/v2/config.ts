/**
 * Checking the client's options, and saving them as JSON and back (go-etcd's
 * NewClientFromFile and MarshalJSON). The JSON holds certificate *contents*, never paths, so
 * the library itself never reads files.
 */
import { invalidArgument } from "../codec/v2.js";
import { checkEndpoints, checkOptions } from "../options-check.js";
import { DEFAULTS, type Consistency, type TlsOptions } from "../options.js";
import type { EtcdV2ClientOptions } from "./types.js";

/** TLS material as saved in a config: PEM text. */
export interface TlsConfig {
  /** PEM text of the CA certificate(s) the servers' certificates are checked against. */
  readonly ca?: string | readonly string[];
  /** PEM text of the client certificate. */
  readonly cert?: string;
  /** PEM text of the client certificate's private key. */
  readonly key?: string;
  /** The name checked against the servers' certificates, when it is not the endpoint's host. */
  readonly servername?: string;
  /** False turns off server certificate checks (never do this in production). */
  readonly rejectUnauthorized?: boolean;
}

/** The JSON form of a client's settings, from `toConfig()`; credentials and hooks are never saved. */
export interface EtcdV2Config {
  /** The members' client URLs, in the client's current order. */
  readonly endpoints: readonly string[];
  /** "strong" (quorum reads) or "weak". */
  readonly consistency: Consistency;
  /** Milliseconds allowed to open a connection. */
  readonly dialTimeout: number;
  /** TCP keepalive interval in milliseconds. */
  readonly keepAlive: number;
  /** Default deadline of one call in milliseconds, retries included. */
  readonly requestTimeout: number;
  /** Milliseconds between member-list syncs, when auto-sync is on. */
  readonly autoSync?: number;
  /** TLS material as PEM text. */
  readonly tls?: TlsConfig;
}

const NUMERIC = ["dialTimeout", "keepAlive", "requestTimeout", "autoSync", "suspectAfter", "probeTimeout", "healthInterval"] as const;

/**
 * The options, checked by the rules both clients share (src/options-check.ts) and with endpoints
 * normalised (`host:port` becomes `http://host:port`); throws INVALID_ARGUMENT, nothing is sent first.
 */
export function validateOptions(options: EtcdV2ClientOptions): EtcdV2ClientOptions {
  return checkOptions(options);
}

/** The endpoints, normalised; throws INVALID_ARGUMENT unless they are http(s) origins or `host:port`. */
export function validateEndpoints(urls: unknown): readonly string[] {
  return checkEndpoints(urls);
}

/** The saved form of a client's options, with the endpoints it uses now. */
export function toConfig(options: EtcdV2ClientOptions, endpoints: readonly string[]): EtcdV2Config {
  const config: { -readonly [K in keyof EtcdV2Config]: EtcdV2Config[K] } = {
    endpoints: [...endpoints],
    consistency: options.consistency ?? DEFAULTS.consistency,
    dialTimeout: options.dialTimeout ?? DEFAULTS.dialTimeout,
    keepAlive: options.keepAlive ?? DEFAULTS.keepAlive,
    requestTimeout: options.requestTimeout ?? DEFAULTS.requestTimeout,
  };
  if (options.autoSync !== undefined) config.autoSync = options.autoSync;
  if (options.tls !== undefined) config.tls = tlsToConfig(options.tls);
  return config;
}

function tlsToConfig(tls: TlsOptions): TlsConfig {
  const pem = (v: string | Buffer): string => (typeof v === "string" ? v : v.toString("utf8"));
  const out: { -readonly [K in keyof TlsConfig]: TlsConfig[K] } = {};
  if (tls.ca !== undefined) out.ca = Array.isArray(tls.ca) ? (tls.ca as readonly (string | Buffer)[]).map(pem) : pem(tls.ca as string | Buffer);
  if (tls.cert !== undefined) out.cert = pem(tls.cert);
  if (tls.key !== undefined) out.key = pem(tls.key);
  if (tls.servername !== undefined) out.servername = tls.servername;
  if (tls.rejectUnauthorized !== undefined) out.rejectUnauthorized = tls.rejectUnauthorized;
  return out;
}

/**
 * Client options from a saved config: ours (`toConfig()` output) or go-etcd's
 * `{"config": {...}, "cluster": {"machines": [...]}}`. go-etcd's file names certificate *paths*;
 * those are refused, since the library does not read files: pass their contents as `tls`.
 */
export function fromConfig(input: unknown): EtcdV2ClientOptions {
  const json = typeof input === "string" ? parseConfig(input) : input;
  if (typeof json !== "object" || json === null) throw invalidArgument("a config must be a JSON object");
  const record = json as Record<string, unknown>;
  return "endpoints" in record ? fromOurs(record) : fromGoEtcd(record);
}

function parseConfig(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw invalidArgument(`a config must be JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function fromOurs(record: Record<string, unknown>): EtcdV2ClientOptions {
  const options: Record<string, unknown> = { endpoints: validateEndpoints(record.endpoints) };
  for (const name of ["consistency", ...NUMERIC] as const) {
    if (record[name] !== undefined) options[name] = record[name];
  }
  if (record.tls !== undefined) options.tls = tlsFromConfig(record.tls);
  return validateOptions(options as unknown as EtcdV2ClientOptions);
}

function tlsFromConfig(value: unknown): TlsOptions {
  if (typeof value !== "object" || value === null) throw invalidArgument("tls must be an object of PEM strings");
  const tls = value as Record<string, unknown>;
  const isPem = (v: unknown): boolean => v === undefined || typeof v === "string";
  const ca = tls.ca;
  const caOk = isPem(ca) || (Array.isArray(ca) && ca.every((c) => typeof c === "string"));
  if (!caOk || !isPem(tls.cert) || !isPem(tls.key) || !isPem(tls.servername)) {
    throw invalidArgument("tls.ca, tls.cert, tls.key and tls.servername must be strings (PEM text, not file paths)");
  }
  if (tls.rejectUnauthorized !== undefined && typeof tls.rejectUnauthorized !== "boolean") throw invalidArgument("tls.rejectUnauthorized must be a boolean");
  return tls;
}

function fromGoEtcd(record: Record<string, unknown>): EtcdV2ClientOptions {
  const cluster = asRecord(record.cluster);
  const config = asRecord(record.config);
  for (const field of ["certFile", "keyFile", "caCertFiles"]) {
    const value = config[field];
    if (value !== undefined && value !== null && value !== "" && !(Array.isArray(value) && value.length === 0)) {
      throw invalidArgument(`go-etcd config field "${field}" names files; read them and pass their contents in the tls option`);
    }
  }
  const options: Record<string, unknown> = { endpoints: validateEndpoints(cluster.machines) };
  if (typeof config.consistency === "string" && config.consistency !== "") options.consistency = config.consistency.toLowerCase();
  // go-etcd saved its DialTimeout as a Go time.Duration: nanoseconds.
  if (typeof config.timeout === "number" && config.timeout > 0) options.dialTimeout = config.timeout / 1e6;
  return validateOptions(options as unknown as EtcdV2ClientOptions);
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
}
