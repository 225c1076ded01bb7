/**
 * Maintenance.Snapshot: a member streams its whole backend database (a bbolt file) in chunks,
 * then one last message holding the sha256 of every byte before it (etcd's
 * server/etcdserver/api/v3rpc/maintenance.go). etcdctl writes all of it, digest included, to the
 * file, and `snapshot restore` checks that digest (a file whose size is 32 past a multiple of
 * 512 carries one), so the bytes we hand out are the stream's bytes unchanged.
 *
 * The stream is opened through the endpoint engine, so a member that refuses the connection is
 * passed over like for any read; once the first chunk arrived the snapshot is that member's, and
 * a failure after that ends the iteration with the error (a snapshot cannot be resumed).
 */
import type { Hash } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { EtcdError } from "../errors.js";
import type { CallOptions } from "../options.js";
import type { GrpcStream } from "../transport/grpc.js";
import { SnapshotRequest, SnapshotResponse } from "./gen/etcdserverpb.js";
import { METHODS } from "./methods.js";
import { callOptions, decode, type V3Rpc } from "./rpc.js";

/** Options of `maintenance.snapshot()`. */
export interface SnapshotOptions extends CallOptions {
  /** The member to take the snapshot of; by default the engine picks one, as for a read. `timeout` bounds the wait for the first chunk only. */
  readonly endpoint?: string | undefined;
}

/** How far a snapshot download has come. */
export interface SnapshotProgress {
  /** Bytes received so far, the digest included once it arrived. */
  readonly bytes: number;
  /** The size the member announced (database plus the 32-byte digest), once its first chunk arrived. */
  readonly total: number | undefined;
}

/** Options of `maintenance.snapshotToFile()`. */
export interface SnapshotFileOptions extends SnapshotOptions {
  /** Called after each chunk is written, with the bytes written so far. */
  readonly onProgress?: ((progress: SnapshotProgress) => void) | undefined;
}

/** What `maintenance.snapshotToFile()` wrote. */
export interface SnapshotFileResult {
  /** The file, complete and verified. */
  readonly path: string;
  /** Its size in bytes, the trailing digest included. */
  readonly bytes: number;
  /** The member the snapshot came from. */
  readonly endpoint: string;
  /** The sha256 of the database, as etcd sent it and as checked, in hex. */
  readonly sha256: string;
}

const DIGEST = 32;
const SECTOR = 512;
const REQUEST = SnapshotRequest.encode({}).finish();

/**
 * The states of a snapshot download: `verified` once the member's whole database arrived and
 * matched its digest, `done` once the caller has also read every chunk of it.
 */
type SnapshotState = "idle" | "opening" | "streaming" | "verified" | "done" | "failed";

/**
 * A snapshot being downloaded: iterate it once for its chunks. The iteration ends normally only
 * when the digest at the end matches the bytes before it; otherwise it throws SNAPSHOT_CORRUPT
 * (or the stream's error), so a caller that stops at a throw never mistakes a partial copy for a
 * snapshot. Chunks are queued as they arrive: a slow consumer holds them in memory.
 */
export class SnapshotStream implements AsyncIterable<Buffer> {
  #state: SnapshotState = "idle";
  readonly #rpc: V3Rpc;
  readonly #options: SnapshotOptions;
  readonly #stop = new AbortController();
  readonly #queue: Buffer[] = [];
  // Loaded here, not imported: a client that never takes a snapshot need not load node:crypto.
  readonly #hash: Hash = process.getBuiltinModule("node:crypto").createHash("sha256");
  #tail: Buffer = Buffer.alloc(0);
  #stream: GrpcStream | undefined;
  #error: unknown;
  #wake: (() => void) | undefined;
  #bytes = 0;
  #total: number | undefined;
  #digest: string | undefined;

  /** Used by `V3Maintenance.snapshot`; nothing is sent until iteration starts. */
  constructor(rpc: V3Rpc, options: SnapshotOptions = {}) {
    this.#rpc = rpc;
    this.#options = options;
  }

  /** The member the snapshot comes from, once its first chunk arrived. */
  get endpoint(): string | undefined {
    return this.#stream?.endpoint;
  }

  /** How far the download has come. */
  get progress(): SnapshotProgress {
    return { bytes: this.#bytes, total: this.#total };
  }

  /** The verified sha256 of the database in hex, once the iteration ended normally. */
  get sha256(): string | undefined {
    return this.#state === "done" ? this.#digest : undefined;
  }

  /** The chunks, in order; one iteration per stream. Breaking out of it cancels the download. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer, void, undefined> {
    if (this.#state !== "idle") throw new EtcdError("INVALID_ARGUMENT", "a snapshot stream can be iterated only once");
    this.#state = "opening";
    const signal = this.#options.signal;
    const onAbort = (): void => {
      this.#fail(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      signal?.throwIfAborted();
      try {
        await this.#open();
      } catch (error) {
        if (this.#current() !== "failed") this.#fail(error);
        throw this.#error;
      }
      for (;;) {
        const chunk = this.#queue.shift();
        if (chunk !== undefined) yield chunk;
        else if (this.#current() === "streaming") await new Promise<void>((resolve) => (this.#wake = resolve));
        else if (this.#current() === "failed") throw this.#error;
        else {
          this.#state = "done";
          return;
        }
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
      if (this.#current() !== "done") this.#fail(new EtcdError("CLIENT_CLOSED", "the snapshot download was abandoned"));
    }
  }

  /** The state, read through a call so that the compiler does not narrow it across awaits. */
  #current(): SnapshotState {
    return this.#state;
  }

  /** Opens the stream on a member the engine picks (or the one named), settling at its first chunk. */
  async #open(): Promise<void> {
    const endpoint = this.#options.endpoint;
    const opened =
      endpoint === undefined
        ? this.#rpc.engine.execute({ name: "maintenance.snapshot", repeat: "read", run: (url, signal) => this.#attempt(url, signal) }, callOptions(this.#options))
        : this.#attempt(endpoint, AbortSignal.timeout(this.#options.timeout ?? this.#rpc.engine.requestTimeout));
    this.#stream = await opened;
  }

  /** One try on one member: resolves with the stream once a chunk arrived, rejects if it ends or the attempt is abandoned first. */
  async #attempt(endpoint: string, attempt: AbortSignal): Promise<GrpcStream> {
    const metadata = await this.#rpc.streamMetadata(attempt);
    attempt.throwIfAborted();
    return new Promise<GrpcStream>((resolve, reject) => {
      let first = true;
      const onAbort = (): void => {
        stream.cancel();
        // The engine reports its own reason for an abandoned attempt; this one only has to reject.
        reject(new EtcdError("UNAVAILABLE", `${endpoint}: the snapshot stream was abandoned before its first chunk`, { endpoint, delivery: "unknown", cause: attempt.reason }));
      };
      const settleFirst = (): boolean => {
        if (!first) return false;
        first = false;
        attempt.removeEventListener("abort", onAbort);
        return true;
      };
      const stream = this.#rpc.transport.stream(endpoint, METHODS.snapshot, { signal: this.#stop.signal, metadata }, {
        onMessage: (message) => {
          if (this.#state === "failed") return;
          if (settleFirst()) resolve(stream);
          this.#onMessage(message, endpoint);
        },
        onClose: (error) => {
          if (settleFirst()) reject(error ?? new EtcdError("MALFORMED_RESPONSE", `${endpoint} ended the snapshot stream without sending anything`, { endpoint, delivery: "unknown" }));
          else this.#onEnd(error, endpoint);
        },
      });
      attempt.addEventListener("abort", onAbort, { once: true });
      stream.write(REQUEST);
      stream.end();
    });
  }

  #onMessage(message: Uint8Array, endpoint: string): void {
    let reply: SnapshotResponse;
    try {
      reply = decode(SnapshotResponse, message, endpoint);
    } catch (error) {
      this.#fail(error);
      return;
    }
    const blob = reply.blob;
    if (this.#state === "opening") this.#state = "streaming";
    this.#bytes += blob.length;
    // Before the digest arrives, remaining counts database bytes still to come; the digest follows them.
    if (this.#total === undefined || reply.remainingBytes > 0n) this.#total = this.#bytes + Number(reply.remainingBytes) + DIGEST;
    this.#digestAllButTail(blob);
    this.#queue.push(blob);
    this.#wakeReader();
  }

  /** Hashes every byte but the last 32 seen so far, which may be the digest. */
  #digestAllButTail(blob: Buffer): void {
    const joined = this.#tail.length === 0 ? blob : Buffer.concat([this.#tail, blob]);
    const cut = Math.max(0, joined.length - DIGEST);
    if (cut > 0) this.#hash.update(joined.subarray(0, cut));
    this.#tail = Buffer.from(joined.subarray(cut));
  }

  #onEnd(error: EtcdError | undefined, endpoint: string): void {
    if (this.#state !== "streaming") return;
    if (error !== undefined) {
      this.#fail(error);
      return;
    }
    const expected = this.#hash.digest();
    if (this.#bytes % SECTOR !== DIGEST || this.#tail.length !== DIGEST) {
      this.#fail(new EtcdError("SNAPSHOT_CORRUPT", `the snapshot from ${endpoint} has no sha256 digest at its end (${this.#bytes} bytes)`, { endpoint }));
    } else if (!expected.equals(this.#tail)) {
      this.#fail(new EtcdError("SNAPSHOT_CORRUPT", `the snapshot from ${endpoint} does not match its sha256 digest`, { endpoint }));
    } else {
      this.#digest = expected.toString("hex");
      this.#state = "verified";
      this.#wakeReader();
    }
  }

  #fail(error: unknown): void {
    if (this.#state === "done" || this.#state === "failed") return;
    this.#state = "failed";
    this.#error = error;
    this.#queue.length = 0;
    this.#stop.abort(error);
    this.#stream?.cancel();
    this.#wakeReader();
  }

  #wakeReader(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/**
 * Downloads a snapshot into `path` the safe way: a temporary file beside it, written, checked
 * against the digest, fsynced, renamed over `path`, and the folder fsynced so that the rename
 * survives a crash. Any failure (an abort included) removes the temporary file, so `path` holds
 * either its old content or a complete, verified snapshot.
 */
export async function snapshotToFile(stream: SnapshotStream, path: string, options: SnapshotFileOptions): Promise<SnapshotFileResult> {
  const { open, rename, unlink } = process.getBuiltinModule("node:fs/promises");
  const folder = dirname(path);
  const temporary = join(folder, `.${basename(path)}.${process.pid}.${Date.now().toString(36)}.part`);
  // 0600 as etcdctl: a snapshot holds every key, user and password hash of the cluster.
  const file = await open(temporary, "wx", 0o600);
  let closed = false;
  try {
    let written = 0;
    for await (const chunk of stream) {
      await file.write(chunk);
      written += chunk.length;
      // Bytes on disk, not bytes received: chunks may be queued well ahead of the writes.
      options.onProgress?.({ bytes: written, total: stream.progress.total });
    }
    await file.sync();
    // An abort that came after the last chunk still wins: the caller was told it stopped the save.
    options.signal?.throwIfAborted();
    await file.close();
    closed = true;
    await rename(temporary, path);
    await syncFolder(folder);
  } catch (error) {
    if (!closed) await file.close().catch(() => undefined);
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  const { bytes } = stream.progress;
  return { path, bytes, endpoint: stream.endpoint ?? "", sha256: stream.sha256 ?? "" };
}

/** Makes a rename in `folder` durable; file systems that cannot fsync a folder are left as they are. */
async function syncFolder(folder: string): Promise<void> {
  const handle = await process.getBuiltinModule("node:fs/promises").open(folder, "r").catch(() => undefined);
  if (handle === undefined) return;
  try {
    await handle.sync().catch(() => undefined);
  } finally {
    await handle.close();
  }
}
