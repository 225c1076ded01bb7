/**
 * What etcdctl prints for leases. clientv3's lease replies embed the response header, so their
 * JSON has the header's fields at the top level next to `ID`/`TTL` (grant, keep-alive: Go field
 * names, no tags) or `id`/`ttl`/`granted-ttl`/`keys` (time-to-live, with tags, keys never omitted).
 */
import type { LeaseGrantResult, LeaseKeepAliveResult, LeaseListResult, LeaseRevokeResult, LeaseTimeToLiveResult } from "../../v3/lease.js";
import type { ResponseHeader } from "../../v3/types.js";
import { goHex, goQuote } from "../shared/gofmt.js";
import { omitEmpty, type GoObject } from "../shared/gojson.js";
import { fieldsHeader, headerJson, type Rendering } from "./printers.js";

/** A lease ID as etcdctl prints it in texts: `%016x`. */
export function leaseHex(id: bigint): string {
  return goHex(id, 16);
}

function flatHeader(h: ResponseHeader): GoObject {
  return {
    cluster_id: omitEmpty(BigInt.asUintN(64, h.clusterId)),
    member_id: omitEmpty(BigInt.asUintN(64, h.memberId)),
    revision: omitEmpty(h.revision),
    raft_term: omitEmpty(BigInt.asUintN(64, h.raftTerm)),
  };
}

/** `lease grant`. */
export function grantRendering(r: LeaseGrantResult): Rendering {
  return {
    simple: () => `lease ${leaseHex(r.id)} granted with TTL(${r.ttl}s)\n`,
    json: () => ({ ...flatHeader(r.header), ID: r.id, TTL: r.ttl, Error: "" }),
    fields: () => `${fieldsHeader(r.header)}"ID" : ${r.id}\n"TTL" : ${r.ttl}\n`,
  };
}

/** `lease revoke`. */
export function revokeRendering(id: bigint, r: LeaseRevokeResult): Rendering {
  return {
    simple: () => `lease ${leaseHex(id)} revoked\n`,
    json: () => ({ header: headerJson(r.header) }),
    fields: () => fieldsHeader(r.header),
  };
}

/** `lease keep-alive`, one line per renewal. */
export function keepAliveRendering(r: LeaseKeepAliveResult): Rendering {
  return {
    simple: () => `lease ${leaseHex(r.id)} keepalived with TTL(${r.ttl})\n`,
    json: () => ({ ...flatHeader(r.header), ID: r.id, TTL: r.ttl }),
    fields: () => `${fieldsHeader(r.header)}"ID" : ${r.id}\n"TTL" : ${r.ttl}\n`,
  };
}

/** `lease timetolive [--keys]`. */
export function timeToLiveRendering(r: LeaseTimeToLiveResult, keys: boolean): Rendering {
  return {
    simple: () => {
      if (r.grantedTtl === 0 && r.ttl === -1) return `lease ${leaseHex(r.id)} already expired\n`;
      const attached = keys ? `, attached keys([${r.keys.map((k) => k.toString("utf8")).join(" ")}])` : "";
      return `lease ${leaseHex(r.id)} granted with TTL(${r.grantedTtl}s), remaining(${r.ttl}s)${attached}\n`;
    },
    json: () => ({ ...flatHeader(r.header), id: r.id, ttl: r.ttl, "granted-ttl": r.grantedTtl, keys: r.keys.length === 0 ? null : r.keys }),
    fields: () => `${fieldsHeader(r.header)}"ID" : ${r.id}\n"TTL" : ${r.ttl}\n"GrantedTTL" : ${r.grantedTtl}\n${r.keys.map((k) => `"Key" : ${goQuote(k)}\n`).join("")}`,
  };
}

/** `lease list`. */
export function leasesRendering(r: LeaseListResult): Rendering {
  return {
    simple: () => `found ${r.leases.length} leases\n${r.leases.map((id) => `${leaseHex(id)}\n`).join("")}`,
    json: () => ({ ...flatHeader(r.header), leases: r.leases.map((id) => ({ id })) }),
    fields: () => fieldsHeader(r.header) + r.leases.map((id) => `"ID" : ${id}\n`).join(""),
  };
}
