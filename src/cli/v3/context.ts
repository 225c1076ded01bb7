/**
 * One v3 run's settings and client. The settings are etcdctl's `clientConfigFromCmd`: global
 * flags, then `ETCDCTL_*` for those not given, the `--debug` dump, the output format checked,
 * TLS files, the user and password (asked for when `--user` has none), and SRV discovery. The
 * client module is imported only when a command first needs a client, so `version` and help
 * never load it.
 */
import { readFileSync } from "node:fs";
import type { CallOptions, TlsOptions } from "../../options.js";
import type { EtcdV3Client } from "../../v3/client.js";
import type { EtcdV3ClientOptions } from "../../v3/types.js";
import { CliExit, UsageError } from "../shared/exit.js";
import { goJson } from "../shared/gojson.js";
import type { CliIo } from "../shared/io.js";
import { EXIT, errorText, exitCodeOf } from "./errors.js";
import { debugDump, shadowedVariable, withEnvironment } from "./globals.js";
import { isOutputFormat, type OutputFormat, type Rendering } from "./printers.js";
import { loadProtobufCodecs } from "./protobuf.js";
import { Flags, type FlagSpec } from "./spec.js";

/** The settings a client is made from. */
export interface Settings {
  readonly endpoints: readonly string[];
  readonly format: OutputFormat;
  readonly hex: boolean;
  readonly dialTimeoutMs: number;
  readonly commandTimeoutMs: number;
  readonly keepAliveMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly options: EtcdV3ClientOptions;
}

/** What a v3 command works with: output, its flags, settings and the client (made on first use). */
export class V3Context {
  /** The outside world. */
  readonly io: CliIo;
  /** The command's flags and the global ones, as given on the command line. */
  readonly flags: Flags;
  /** The whole command line, as typed (watch finds its `-- command` in it, as etcdctl does in os.Args). */
  readonly argv: readonly string[];
  readonly #values: ReadonlyMap<string, string | readonly string[]>;
  readonly #specs: ReadonlyMap<string, FlagSpec>;
  #settings: Promise<Settings> | undefined;
  #client: EtcdV3Client | undefined;
  #format: OutputFormat | undefined;
  #release: Promise<string | undefined> | undefined;

  /** Binds a run's IO and parsed flags (`specs` has every flag the command knows). */
  constructor(io: CliIo, values: ReadonlyMap<string, string | readonly string[]>, specs: ReadonlyMap<string, FlagSpec>, argv: readonly string[] = []) {
    this.io = io;
    this.argv = argv;
    this.#values = values;
    this.#specs = specs;
    this.flags = new Flags(values, specs);
  }

  /** Writes to stdout. */
  out(text: string): void {
    this.io.stdout(text);
  }

  /** Writes to stderr. */
  err(text: string): void {
    this.io.stderr(text);
  }

  /** Prints `Error: <message>` and ends the command with `code` (cobrautl's ExitWithError). */
  fail(message: string, code: number = EXIT.error): never {
    this.err(`Error: ${message}\n`);
    throw new CliExit(code);
  }

  /** Ends the command as etcdctl does when its client returned `error`. */
  failWith(error: unknown, code: number = exitCodeOf(error)): never {
    if (error instanceof CliExit) throw error;
    // etcdctl authenticates while making its client (mustClientFromCmd), so bad credentials exit 2 there.
    if (error instanceof Error && "code" in error && error.code === "AUTH_FAILED") return this.fail(errorText(error), EXIT.badConnection);
    return this.fail(errorText(error), code);
  }

  /** Per-call options: each request gets `--command-timeout` (etcdctl's `commandCtx`). */
  async call(signal?: AbortSignal): Promise<CallOptions> {
    const timeout = (await this.settings()).commandTimeoutMs;
    return signal === undefined ? { timeout } : { timeout, signal };
  }

  /** The run's settings, read once (flags, then environment). */
  settings(): Promise<Settings> {
    this.#settings ??= this.#readSettings();
    return this.#settings;
  }

  /** The client, made on first use; failures to set it up end the command as etcdctl's do. */
  async client(): Promise<EtcdV3Client> {
    if (this.#client !== undefined) return this.#client;
    const settings = await this.settings();
    const { EtcdV3Client: Client } = await import("../../v3/client.js");
    try {
      this.#client = new Client(settings.options);
    } catch (error) {
      return this.fail(errorText(error), EXIT.badConnection);
    }
    return this.#client;
  }

  /** Prints a result in the `-w` format, or fails as etcdctl does when the command has no such printer. */
  async print(rendering: Rendering): Promise<void> {
    const format = this.#format ?? (await this.settings()).format;
    if (format === "protobuf") await loadProtobufCodecs();
    this.printIn(format, rendering);
  }

  /** Prints a result in `format`. */
  printIn(format: OutputFormat, rendering: Rendering): void {
    if (format === "json" && rendering.json !== undefined) this.out(`${goJson(rendering.json())}\n`);
    else if (format === "simple" && rendering.simple !== undefined) this.out(rendering.simple());
    else if (format === "fields" && rendering.fields !== undefined) this.out(rendering.fields());
    else if (format === "table" && rendering.table !== undefined) this.out(rendering.table());
    else if (format === "protobuf" && rendering.protobuf !== undefined) this.#bytes(rendering.protobuf());
    else this.fail(`${format} not supported as output format`, EXIT.badFeature);
  }

  /**
   * The release ("3.4", "3.5") of the member in use, asked for once, for the few texts etcdctl
   * 3.4 and 3.5 word differently (the CLI follows the server's release); undefined if unknown.
   */
  serverRelease(): Promise<string | undefined> {
    this.#release ??= (async () => {
      try {
        const client = await this.client();
        const status = await client.maintenance.status(client.currentEndpoint, await this.call());
        return /^\d+\.\d+/.exec(status.version)?.[0];
      } catch {
        return undefined;
      }
    })();
    return this.#release;
  }

  #bytes(bytes: Uint8Array): void {
    if (this.io.stdoutBytes !== undefined) this.io.stdoutBytes(bytes);
    else this.out(Buffer.from(bytes).toString("latin1"));
  }

  /** Closes the client, if one was made. */
  async close(): Promise<void> {
    await this.#client?.close();
  }

  async #readSettings(): Promise<Settings> {
    const shadowed = shadowedVariable(this.#values, this.io.env);
    if (shadowed !== undefined) {
      this.fail(`conflicting environment variable "${shadowed}" is shadowed by corresponding command-line flag (either unset environment variable or disable flag)`);
    }
    const merged = withEnvironment(this.#values, this.io.env);
    const flags = new Flags(merged, this.#specs);
    if (flags.bool("debug")) this.err(debugDump(merged));
    const format = flags.string("write-out");
    if (!isOutputFormat(format)) return this.fail("unsupported output format", EXIT.badFeature);
    this.#format = format;
    const tls = readTls(flags);
    const endpoints = await this.#endpoints(flags, tls !== undefined);
    const auth = await this.#auth(flags);
    const settings = {
      endpoints,
      format,
      hex: flags.bool("hex"),
      dialTimeoutMs: flags.duration("dial-timeout"),
      commandTimeoutMs: flags.duration("command-timeout"),
      keepAliveMs: flags.duration("keepalive-time"),
      keepAliveTimeoutMs: flags.duration("keepalive-timeout"),
    };
    const options: EtcdV3ClientOptions = {
      endpoints,
      dialTimeout: settings.dialTimeoutMs,
      keepAlive: settings.keepAliveMs,
      // 0 (or less) leaves the transport's own timeout, as gRPC falls back to its default.
      ...(settings.keepAliveTimeoutMs > 0 ? { keepAliveTimeout: settings.keepAliveTimeoutMs } : {}),
      requestTimeout: settings.commandTimeoutMs,
      ...(tls === undefined ? {} : { tls }),
      ...(auth === undefined ? {} : { auth }),
    };
    return { ...settings, options };
  }

  /** `--endpoints`, or the members SRV discovery finds; a bare host:port gets the scheme TLS implies. */
  async #endpoints(flags: Flags, secure: boolean): Promise<string[]> {
    let endpoints = flags.list("endpoints").map((e) => e.trim());
    const domain = flags.string("discovery-srv");
    if (domain !== "") {
      try {
        const { discoverEndpoints } = await import("./srv.js");
        const found = await discoverEndpoints(domain, flags.string("discovery-srv-name"));
        const kept = flags.bool("insecure-discovery") ? found : found.filter((e) => !e.startsWith("http://"));
        for (const e of found) if (!kept.includes(e)) this.err(`ignoring discovered insecure endpoint "${e}"\n`);
        if (kept.length > 0) endpoints = kept;
      } catch (error) {
        this.fail(error instanceof Error ? error.message : String(error));
      }
    }
    const scheme = secure ? "https" : "http";
    return endpoints.filter((e) => e !== "").map((e) => (e.includes("://") ? e.replace(/^unixs?:\/\//, "http://") : `${scheme}://${e}`));
  }

  async #auth(flags: Flags): Promise<{ username: string; password: string } | undefined> {
    const user = flags.string("user");
    if (user === "") return undefined;
    const password = flags.string("password");
    if (password !== "") return { username: user, password };
    const colon = user.indexOf(":");
    if (colon >= 0) return { username: user.slice(0, colon), password: user.slice(colon + 1) };
    return { username: user, password: await this.io.readSecret("Password: ") };
  }
}

/** The TLS settings the flags ask for, files read now; undefined for a plain connection. */
function readTls(flags: Flags): TlsOptions | undefined {
  const files: Record<string, string> = {};
  for (const name of ["cert", "key", "cacert"]) {
    const value = flags.string(name);
    if (value === "" && flags.changed(name)) throw new UsageError(`Error: empty string is passed to --${name} option`, EXIT.badArgs);
    files[name] = value;
  }
  const skipVerify = flags.bool("insecure-skip-tls-verify");
  const domain = flags.bool("insecure-discovery") ? "" : flags.string("discovery-srv");
  const any = files["cert"] !== "" || files["key"] !== "" || files["cacert"] !== "" || domain !== "";
  if (!any && flags.bool("insecure-transport")) return undefined;
  const tls: { -readonly [K in keyof TlsOptions]: TlsOptions[K] } = {};
  if (files["cacert"] !== "") tls.ca = readPem(files["cacert"] ?? "");
  if (files["cert"] !== "") tls.cert = readPem(files["cert"] ?? "");
  if (files["key"] !== "") tls.key = readPem(files["key"] ?? "");
  if (domain !== "") tls.servername = domain;
  if (skipVerify) tls.rejectUnauthorized = false;
  return tls;
}

function readPem(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = typeof error === "object" && error !== null && "code" in error ? error.code : undefined;
    const why = code === "ENOENT" ? "no such file or directory" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "is a directory" : String(error);
    throw new UsageError(`Error: open ${path}: ${why}`, EXIT.badArgs);
  }
}
