/**
 * `--discovery-srv`: the members named by DNS SRV records, as etcd's `srv.GetClient` finds them:
 * `_etcd-client-ssl._tcp.<domain>` gives https endpoints and `_etcd-client._tcp.<domain>` http
 * ones (with `--discovery-srv-name x`, `_etcd-client-ssl-x` and `_etcd-client-x`). Either lookup
 * may fail; both failing is an error.
 */
import { Resolver } from "node:dns/promises";

/** The endpoints the SRV records of `domain` name (https ones first, as etcd lists them). */
export async function discoverEndpoints(domain: string, serviceName: string, resolver: Pick<Resolver, "resolveSrv"> = new Resolver()): Promise<string[]> {
  const service = (scheme: "https" | "http"): string => {
    const base = scheme === "https" ? "etcd-client-ssl" : "etcd-client";
    return serviceName === "" ? base : `${base}-${serviceName}`;
  };
  const lookup = async (scheme: "https" | "http"): Promise<string[] | Error> => {
    try {
      const records = await resolver.resolveSrv(`_${service(scheme)}._tcp.${domain}`);
      return records.map((r) => `${scheme}://${hostPort(r.name, r.port)}`);
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  };
  const [https, http] = await Promise.all([lookup("https"), lookup("http")]);
  if (https instanceof Error && http instanceof Error) throw new Error(`dns lookup errors: ${lookupText(https, service("https"), domain)} and ${lookupText(http, service("http"), domain)}`);
  return [...(https instanceof Error ? [] : https), ...(http instanceof Error ? [] : http)];
}

/** Go's `net.JoinHostPort`; SRV targets keep their trailing dot, as Go's resolver returns them. */
function hostPort(host: string, port: number): string {
  const name = host.includes(":") ? `[${host}]` : host.endsWith(".") ? host : `${host}.`;
  return `${name}:${port}`;
}

/** Go's `*net.DNSError` text for a failed SRV lookup. */
function lookupText(error: Error, service: string, domain: string): string {
  const code = "code" in error ? String(error.code) : "";
  const why = code === "ENOTFOUND" || code === "ENODATA" ? "no such host" : error.message;
  return `lookup _${service}._tcp.${domain} on resolver: ${why}`;
}
