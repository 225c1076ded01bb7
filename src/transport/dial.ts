/**
 * Opening a member's connection, shared by the HTTP/1.1 (v2) and HTTP/2 (v3) transports: TCP, or
 * TLS with the client's certificates and the ALPN protocol the caller speaks, with no Nagle delay
 * and with TCP keepalive as go-etcd's transport had.
 */
import net from "node:net";
import type { ConnectionOptions, TLSSocket } from "node:tls";
import type { TlsOptions } from "../options.js";

/** What a dial needs from the transport's options. */
export interface DialOptions {
  /** TCP keepalive's initial delay, in ms. */
  readonly keepAlive: number;
  readonly tls: TlsOptions | undefined;
}

/** Host and port of a member URL, with IPv6 brackets removed and the scheme's default port. */
function hostPort(url: URL): { host: string; port: number; secure: boolean } {
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  const secure = url.protocol === "https:";
  const port = url.port === "" ? (secure ? 443 : 80) : Number(url.port);
  return { host, port, secure };
}

/** Starts connecting to `url`; https URLs get TLS offering `alpn`. The caller owns the timeout. */
export function dial(url: URL, options: DialOptions, alpn: string): net.Socket {
  const { host, port, secure } = hostPort(url);
  let socket: net.Socket;
  if (secure) {
    const t = options.tls;
    const o: ConnectionOptions = { host, port, ALPNProtocols: [alpn], rejectUnauthorized: t?.rejectUnauthorized ?? true };
    // SNI must be a host name: node warns for an IP address, and servers ignore it.
    const servername = t?.servername ?? (net.isIP(host) === 0 ? host : undefined);
    if (servername !== undefined) o.servername = servername;
    if (t?.ca !== undefined) o.ca = typeof t.ca === "string" || Buffer.isBuffer(t.ca) ? t.ca : [...t.ca];
    if (t?.cert !== undefined) o.cert = t.cert;
    if (t?.key !== undefined) o.key = t.key;
    // node:tls (and node:crypto with it) takes milliseconds to load: only an https endpoint pays for it.
    socket = process.getBuiltinModule("node:tls").connect(o);
  } else {
    socket = net.connect({ host, port });
  }
  socket.setNoDelay(true);
  socket.setKeepAlive(true, options.keepAlive);
  return socket;
}

/** Whether `socket` is a TLS socket (tells it without loading node:tls, as `instanceof TLSSocket` would). */
export function isTls(socket: net.Socket): socket is TLSSocket {
  return "encrypted" in socket && socket.encrypted === true;
}
