/**
 * A scripted HTTP/1.1 server for the pool's tests: a raw TCP server that splits what it reads into
 * requests and lets each test write exact reply bytes, since a real etcd can't produce malformed,
 * oversized or hostile replies. Shared by h1-pool.test.ts and h1-limits.test.ts.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { H1Error, type H1Request } from "../../src/transport/h1.js";

/** One request as a scripted server received it. */
export interface Received {
  /** The head up to, not including, the blank line. */
  readonly head: string;
  readonly lines: readonly string[];
  readonly body: Buffer;
  /** Every byte of the request, head and body. */
  readonly raw: Buffer;
  /** How many `data` events it arrived in. */
  readonly events: number;
  /** Which connection (counting from 1) carried it. */
  readonly connection: number;
  readonly socket: net.Socket;
  /** Settles when the server's side of the connection has closed. */
  readonly closed: Promise<void>;
}

/** A raw TCP server that splits what it reads into requests and hands each to a script. */
export interface Scripted {
  readonly url: string;
  readonly port: number;
  readonly server: net.Server;
  readonly requests: Received[];
  /** Connections accepted so far. */
  connections(): number;
  /** The most connections open at once. */
  peak(): number;
  /** The n-th request (counting from 1), once it has fully arrived. */
  request(n: number): Promise<Received>;
  /** Destroys every accepted socket and stops listening. */
  close(): void;
}

/** The reply a scripted server writes for a request; it may write later, or never. */
export type Script = (request: Received, socket: net.Socket) => void;

export async function scripted(script: Script): Promise<Scripted> {
  const requests: Received[] = [];
  const waiters: { n: number; resolve: (r: Received) => void }[] = [];
  const sockets = new Set<net.Socket>();
  let connections = 0;
  let open = 0;
  let peak = 0;
  const server = net.createServer((socket) => {
    const connection = ++connections;
    open++;
    peak = Math.max(peak, open);
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on("error", () => undefined);
    const closed = new Promise<void>((resolve) => {
      socket.once("close", () => {
        open--;
        sockets.delete(socket);
        resolve();
      });
    });
    let buffer = Buffer.alloc(0);
    let events = 0;
    socket.on("data", (data: Buffer) => {
      buffer = Buffer.concat([buffer, data]);
      events++;
      for (;;) {
        const end = buffer.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = buffer.toString("latin1", 0, end);
        const length = /\r\ncontent-length: *(\d+)/i.exec(head);
        const size = end + 4 + (length === null ? 0 : Number(length[1]));
        if (buffer.length < size) return;
        const raw = Buffer.from(buffer.subarray(0, size));
        buffer = buffer.subarray(size);
        const received: Received = { head, lines: head.split("\r\n"), body: raw.subarray(end + 4), raw, events, connection, socket, closed };
        events = buffer.length > 0 ? 1 : 0;
        requests.push(received);
        for (const w of waiters.filter((x) => x.n === requests.length)) w.resolve(received);
        script(received, socket);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    requests,
    connections: () => connections,
    peak: () => peak,
    request: (n) => {
      const got = requests[n - 1];
      if (got !== undefined) return Promise.resolve(got);
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** A complete 200 reply framed by Content-Length. */
export function ok(body: string, headers = ""): string {
  return `HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${headers}\r\n${body}`;
}

/** The request line, e.g. "GET /a", of a received request. */
export function requestLine(r: Received): string {
  return r.lines[0] ?? "";
}

export function get(path: string, headers = ""): H1Request {
  return { method: "GET", path, headers, body: undefined };
}

/** Awaits `promise`, asserts it rejected with an H1Error (of `code`, when given), and returns it. */
export async function failure(promise: Promise<unknown>, code?: string): Promise<H1Error> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof H1Error, `expected an H1Error, got ${String(error)}`);
    if (code !== undefined) assert.equal(error.code, code, `expected ${code}, got ${error.code}: ${error.message}`);
    return error;
  }
  assert.fail(`expected a rejection${code === undefined ? "" : ` with ${code}`}, but it resolved`);
}

/** Writes `pieces` one after another, pausing between them so each leaves in its own segment. */
export async function dribble(socket: net.Socket, pieces: readonly (string | Buffer)[], pause: () => Promise<unknown>): Promise<void> {
  for (const piece of pieces) {
    if (socket.destroyed) return;
    socket.write(piece);
    await pause();
  }
}

