/**
 * One run's settings and client: the global flags merged with the ETCDCTL_* environment exactly
 * as etcdctl v2 merges them, certificate files read, the password asked for, and the member list
 * synced before the first request unless `--no-sync` (etcdctl's `mustNewClient`).
 */
import { readFileSync } from "node:fs";
import { EtcdError } from "../../errors.js";
import type { CallOptions, TlsOptions } from "../../options.js";
import { EtcdV2Client } from "../../v2/client.js";
import type { EtcdV2ClientOptions } from "../../v2/types.js";
import { CliExit } from "../shared/exit.js";
import { EXIT, UsageError, handleErrorText, isConnectionError } from "./errors.js";

export { CliExit };
import type { CliIo } from "../shared/io.js";
import { isOutputFormat, type OutputFormat } from "./output.js";

/** The global flags as commander hands them over (already in canonical form). */
export interface RawGlobals {
  readonly debug?: boolean;
  readonly sync?: boolean;
  readonly output?: string;
  readonly peers?: string;
  readonly endpoint?: string;
  readonly endpoints?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly caFile?: string;
  readonly username?: string;
  readonly timeout?: string;
  readonly totalTimeout?: string;
}

/** The settings of one run. */
export interface Globals {
  readonly debug: boolean;
  readonly noSync: boolean;
  readonly output: OutputFormat;
  readonly endpoints: readonly string[];
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
  readonly username: string;
  readonly timeoutMs: number;
  readonly totalTimeoutMs: number;
}

const DEFAULT_ENDPOINTS = "http://127.0.0.1:2379,http://127.0.0.1:4001";

/** Merges flags and environment; an unsupported `-o` is refused before anything is sent. */
export function resolveGlobals(raw: RawGlobals, env: CliIo["env"]): Globals {
  const output = raw.output ?? "simple";
  // etcdctl sends the request and only then says it cannot print it; refusing first is safer.
  if (!isOutputFormat(output)) throw new UsageError(`Unsupported output format: ${output}`);
  const pick = (...values: (string | undefined)[]): string => values.find((v) => v !== undefined && v !== "") ?? "";
  const endpoints = pick(raw.endpoints, env.ETCDCTL_ENDPOINTS, raw.endpoint, env.ETCDCTL_ENDPOINT, raw.peers, env.ETCDCTL_PEERS, DEFAULT_ENDPOINTS);
  return {
    debug: raw.debug === true,
    noSync: raw.sync === false,
    output,
    endpoints: endpoints
      .split(",")
      .map((e) => e.trim())
      .filter((e) => e !== "")
      // A bare host:port means http, which Go's URL parser would refuse.
      .map((e) => (e.includes("://") ? e : `http://${e}`)),
    certFile: pick(raw.certFile, env.ETCDCTL_CERT_FILE),
    keyFile: pick(raw.keyFile, env.ETCDCTL_KEY_FILE),
    caFile: pick(raw.caFile, env.ETCDCTL_CA_FILE),
    username: pick(raw.username, env.ETCDCTL_USERNAME),
    timeoutMs: raw.timeout === undefined ? 2000 : Number(raw.timeout),
    totalTimeoutMs: raw.totalTimeout === undefined ? 5000 : Number(raw.totalTimeout),
  };
}

/** What a command works with: output, settings, and the client (made on first use). */
export class CliContext {
  /** The outside world. */
  readonly io: CliIo;
  /** The merged global settings. */
  readonly globals: Globals;
  #client: EtcdV2Client | undefined;
  #options: Promise<EtcdV2ClientOptions> | undefined;

  /** Binds a run's IO and settings. */
  constructor(io: CliIo, globals: Globals) {
    this.io = io;
    this.globals = globals;
  }

  /** Writes to stdout. */
  out(text: string): void {
    this.io.stdout(text);
  }

  /** Writes to stderr. */
  err(text: string): void {
    this.io.stderr(text);
  }

  /** Prints `text` to stderr and ends the command with `code`. */
  fail(text: string, code: number = EXIT.error): never {
    this.err(text);
    throw new CliExit(code);
  }

  /** Per-call options: each request may take up to `--total-timeout`. */
  call(): CallOptions {
    return { timeout: this.globals.totalTimeoutMs };
  }

  /** The client, synced with the cluster's member list first unless `--no-sync` or `sync: false`. */
  async client(sync = true): Promise<EtcdV2Client> {
    if (this.#client !== undefined) return this.#client;
    const client = await this.#create();
    this.#client = client;
    if (sync && !this.globals.noSync) await this.#sync(client);
    if (this.globals.debug) this.err(`Cluster-Endpoints: ${client.endpoints.join(", ")}\n`);
    return client;
  }

  /** Closes the client, if one was made. */
  async close(): Promise<void> {
    await this.#client?.close();
  }

  /** The client options of this run (the password is asked for once, on first use). */
  clientOptions(): Promise<EtcdV2ClientOptions> {
    this.#options ??= this.#buildOptions();
    return this.#options;
  }

  async #buildOptions(): Promise<EtcdV2ClientOptions> {
    const g = this.globals;
    const options: { -readonly [K in keyof EtcdV2ClientOptions]: EtcdV2ClientOptions[K] } = {
      endpoints: g.endpoints,
      dialTimeout: g.timeoutMs,
      requestTimeout: g.totalTimeoutMs,
    };
    const tls = readTls(g);
    if (tls !== undefined) options.tls = tls;
    if (g.username !== "") options.auth = await this.#credentials(g.username);
    if (g.debug) {
      options.onCurl = (line) => {
        this.err(`cURL Command: ${line}\n`);
      };
    }
    return options;
  }

  async #create(): Promise<EtcdV2Client> {
    const options = await this.clientOptions();
    try {
      return new EtcdV2Client(options);
    } catch (error) {
      return this.fail(`${error instanceof Error ? error.message : String(error)}\n`);
    }
  }

  /** `user:password`, or `user` with the password asked for. */
  async #credentials(flag: string): Promise<{ username: string; password: string }> {
    const colon = flag.indexOf(":");
    if (colon >= 0) return { username: flag.slice(0, colon), password: flag.slice(colon + 1) };
    return { username: flag, password: await this.io.readSecret("Password: ") };
  }

  async #sync(client: EtcdV2Client): Promise<void> {
    if (this.globals.debug) this.err(`start to sync cluster using endpoints(${client.endpoints.join(",")})\n`);
    try {
      await client.sync(this.call());
    } catch (error) {
      // etcdctl goes on with the endpoints it was given unless no member could be reached at all.
      if (isConnectionError(error)) this.fail(handleErrorText(error), EXIT.badConnection);
      if (!(error instanceof EtcdError)) throw error;
    }
    if (this.globals.debug) this.err(`got endpoints(${client.endpoints.join(",")}) after sync\n`);
  }
}

/** The TLS files named by the flags, read now; etcdctl's messages when one cannot be read. */
function readTls(g: Globals): TlsOptions | undefined {
  if (g.certFile === "" && g.keyFile === "" && g.caFile === "") return undefined;
  if ((g.certFile === "") !== (g.keyFile === "")) throw new UsageError(`KeyFile and CertFile must both be present[key: ${g.keyFile}, cert: ${g.certFile}]`);
  const tls: { -readonly [K in keyof TlsOptions]: TlsOptions[K] } = {};
  if (g.caFile !== "") tls.ca = readPem(g.caFile);
  if (g.certFile !== "") tls.cert = readPem(g.certFile);
  if (g.keyFile !== "") tls.key = readPem(g.keyFile);
  return tls;
}

function readPem(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = typeof error === "object" && error !== null && "code" in error ? error.code : undefined;
    const why = code === "ENOENT" ? "no such file or directory" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "is a directory" : String(error);
    throw new UsageError(`open ${path}: ${why}`);
  }
}

/** A command's own flags, read by their etcdctl names (commander stores them camelCased). */
export class CommandOptions {
  readonly #values: Readonly<Record<string, unknown>>;

  /** Wraps commander's option values. */
  constructor(values: Readonly<Record<string, unknown>>) {
    this.#values = values;
  }

  /** A switch; false when not given. */
  bool(name: string): boolean {
    return this.#get(name) === true;
  }

  /** A text flag; "" when not given, as Go's flag package leaves it. */
  text(name: string): string {
    const value = this.#get(name);
    return typeof value === "string" ? value : "";
  }

  /** A number flag (already checked by the argv normaliser); 0 when not given. */
  int(name: string): number {
    const value = this.#get(name);
    return typeof value === "string" ? Number(value) : 0;
  }

  /** A repeatable flag, in the order given. */
  list(name: string): string[] {
    const value = this.#get(name);
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
  }

  #get(name: string): unknown {
    return this.#values[name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())];
  }
}
