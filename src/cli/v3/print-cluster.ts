/**
 * What etcdctl prints for members, endpoints, alarms and leader moves, in each output format it
 * has for them (etcdctl/ctlv3/command/printer_*.go of 3.4 and 3.5). A format etcdctl lacks for a
 * result is left out of its `Rendering`, which makes the context fail as etcdctl does.
 */
import type { ClusterMember, MemberAddResult, MemberListResult } from "../../v3/cluster.js";
import type { Alarm, AlarmResult, HashKVResult, MemberStatus } from "../../v3/maintenance.js";
import type { ResponseHeader } from "../../v3/types.js";
import { goHex, goQuote } from "../shared/gofmt.js";
import { omitEmpty, type GoJson, type GoObject } from "../shared/gojson.js";
import { renderTable } from "../shared/table.js";
import { fieldsHeader, headerJson, type Rendering } from "./printers.js";

/** One `endpoint health` result (etcdctl's `epHealth`). */
export interface EndpointHealth {
  readonly endpoint: string;
  readonly health: boolean;
  /** Go's `time.Duration.String()` of how long the check took. */
  readonly took: string;
  readonly error: string;
}

/** One `endpoint status` result. */
export interface EndpointStatus {
  readonly endpoint: string;
  readonly status: MemberStatus;
}

/** One `endpoint hashkv` result. */
export interface EndpointHash {
  readonly endpoint: string;
  readonly hash: HashKVResult;
}

const u64 = (n: bigint): bigint => BigInt.asUintN(64, n);

function memberRows(r: MemberListResult): string[][] {
  return r.members.map((m) => [goHex(m.id), m.name === "" ? "unstarted" : "started", m.name, m.peerUrls.join(","), m.clientUrls.join(","), String(m.isLearner)]);
}

function memberJson(m: ClusterMember): GoObject {
  return { ID: omitEmpty(u64(m.id)), name: omitEmpty(m.name), peerURLs: omitEmpty([...m.peerUrls]), clientURLs: omitEmpty([...m.clientUrls]), isLearner: omitEmpty(m.isLearner) };
}

/** etcdctl's JSON of a reply header that etcd may leave out (a zero header was not sent). */
function maybeHeader(h: ResponseHeader): GoObject | undefined {
  return h.clusterId === 0n && h.memberId === 0n && h.raftTerm === 0n ? undefined : headerJson(h);
}

function membersJson(r: MemberListResult): GoObject {
  return { header: maybeHeader(r.header), members: omitEmpty(r.members.map(memberJson)) };
}

/**
 * etcd 3.5's `--hex` JSON of the member list, which etcdctl writes by hand: IDs as hex strings,
 * no revision in the header, URL lists as `json.Marshal` writes them, and `clientURLS` so spelled.
 */
function memberListHexJson(r: MemberListResult): GoObject {
  const h = r.header;
  const urls = (list: readonly string[]): GoJson => (list.length === 0 ? null : [...list]);
  return {
    header: { cluster_id: goHex(h.clusterId), member_id: goHex(h.memberId), raft_term: u64(h.raftTerm) },
    members: r.members.length === 0 ? undefined : r.members.map((m) => ({ ID: goHex(m.id), name: m.name, peerURLs: urls(m.peerUrls), clientURLS: urls(m.clientUrls) })),
  };
}

const MEMBER_HEADER = ["ID", "Status", "Name", "Peer Addrs", "Client Addrs", "Is Learner"];

/** `member list`. */
export function memberListRendering(r: MemberListResult, hex: boolean): Rendering {
  return {
    simple: () => memberRows(r).map((row) => `${row.join(", ")}\n`).join(""),
    json: () => (hex ? memberListHexJson(r) : membersJson(r)),
    fields: () =>
      fieldsHeader(r.header) +
      r.members
        .map(
          (m) =>
            `"ID" : ${u64(m.id)}\n"Name" : ${goQuote(m.name)}\n` +
            m.peerUrls.map((u) => `"PeerURL" : ${goQuote(u)}\n`).join("") +
            m.clientUrls.map((u) => `"ClientURL" : ${goQuote(u)}\n`).join("") +
            `"IsLearner" : ${m.isLearner}\n\n`,
        )
        .join(""),
    table: () => renderTable(MEMBER_HEADER, memberRows(r)),
  };
}

/** Go's `%16x`: hex, padded with spaces to 16 columns. */
function hex16(id: bigint): string {
  return goHex(id).padStart(16, " ");
}

/** `member add`: the simple line; json as etcdctl (header, member, members). */
export function memberAddRendering(r: MemberAddResult): Rendering {
  return {
    simple: () => `Member ${hex16(r.member.id)} added to cluster ${hex16(r.header.clusterId)}\n`,
    json: () => ({ header: maybeHeader(r.header), member: memberJson(r.member), members: omitEmpty(r.members.map(memberJson)) }),
  };
}

/** `member remove|update|promote`: "Member <id> <verb> cluster <cluster>". */
export function memberChangeRendering(id: bigint, verb: "removed from" | "updated in" | "promoted in", r: MemberListResult): Rendering {
  return {
    simple: () => `Member ${hex16(id)} ${verb} cluster ${hex16(r.header.clusterId)}\n`,
    json: () => membersJson(r),
  };
}

function statusRow(s: EndpointStatus): string[] {
  const r = s.status;
  return [
    s.endpoint,
    goHex(r.header.memberId),
    r.version,
    humanBytes(r.dbSize),
    String(r.leader === r.header.memberId),
    String(r.isLearner),
    String(u64(r.raftTerm)),
    String(u64(r.raftIndex)),
    String(u64(r.raftAppliedIndex)),
    r.errors.join(", "),
  ];
}

function statusJson(r: MemberStatus): GoObject {
  return {
    header: maybeHeader(r.header),
    version: omitEmpty(r.version),
    dbSize: omitEmpty(r.dbSize),
    leader: omitEmpty(u64(r.leader)),
    raftIndex: omitEmpty(u64(r.raftIndex)),
    raftTerm: omitEmpty(u64(r.raftTerm)),
    raftAppliedIndex: omitEmpty(u64(r.raftAppliedIndex)),
    errors: omitEmpty([...r.errors]),
    dbSizeInUse: omitEmpty(r.dbSizeInUse),
    isLearner: omitEmpty(r.isLearner),
  };
}

const STATUS_HEADER = ["endpoint", "ID", "version", "db size", "is leader", "is learner", "raft term", "raft index", "raft applied index", "errors"];

/** `endpoint status`. */
export function endpointStatusRendering(list: readonly EndpointStatus[]): Rendering {
  return {
    simple: () => list.map((s) => `${statusRow(s).join(", ")}\n`).join(""),
    json: () => list.map((s) => ({ Endpoint: s.endpoint, Status: statusJson(s.status) })),
    fields: () =>
      list
        .map((s) => {
          const r = s.status;
          return (
            fieldsHeader(r.header) +
            `"Version" : ${goQuote(r.version)}\n"DBSize" : ${r.dbSize}\n"Leader" : ${u64(r.leader)}\n"IsLearner" : ${r.isLearner}\n` +
            `"RaftIndex" : ${u64(r.raftIndex)}\n"RaftTerm" : ${u64(r.raftTerm)}\n"RaftAppliedIndex" : ${u64(r.raftAppliedIndex)}\n` +
            `"Errors" : [${r.errors.join(" ")}]\n"Endpoint" : ${goQuote(s.endpoint)}\n\n`
          );
        })
        .join(""),
    table: () => renderTable(STATUS_HEADER, list.map(statusRow)),
  };
}

/** `endpoint health` in the formats other than simple (see `endpointHealthSimple`). */
export function endpointHealthRendering(list: readonly EndpointHealth[]): Rendering {
  const rows = list.map((h) => [h.endpoint, String(h.health), h.took, h.error]);
  return {
    json: () => list.map((h) => ({ endpoint: h.endpoint, health: h.health, took: h.took, error: omitEmpty(h.error) })),
    fields: () => list.map((h) => `"Endpoint" : ${goQuote(h.endpoint)}\n"Health" : ${h.health}\n"Took" : ${h.took}\n"Error" : ${h.error}\n\n`).join(""),
    table: () => renderTable(["endpoint", "health", "took", "error"], rows),
  };
}

/**
 * The simple format of `endpoint health` as [stdout, stderr]: etcdctl 3.4 wrote the healthy
 * lines to stderr and 3.5 to stdout; unhealthy lines go to stderr in both.
 */
export function endpointHealthSimple(list: readonly EndpointHealth[], healthyToStderr: boolean): [string, string] {
  let out = "";
  let err = "";
  for (const h of list) {
    if (h.error === "") {
      const line = `${h.endpoint} is healthy: successfully committed proposal: took = ${h.took}\n`;
      if (healthyToStderr) err += line;
      else out += line;
    } else err += `${h.endpoint} is unhealthy: failed to commit proposal: ${h.error}\n`;
  }
  return [out, err];
}

/** `endpoint hashkv`. */
export function endpointHashRendering(list: readonly EndpointHash[]): Rendering {
  const rows = list.map((h) => [h.endpoint, String(h.hash.hash)]);
  return {
    simple: () => rows.map((row) => `${row.join(", ")}\n`).join(""),
    json: () =>
      list.map((h) => ({
        Endpoint: h.endpoint,
        HashKV: { header: maybeHeader(h.hash.header), hash: omitEmpty(h.hash.hash), compact_revision: omitEmpty(h.hash.compactRevision) },
      })),
    fields: () => list.map((h) => `${fieldsHeader(h.hash.header)}"Endpoint" : ${goQuote(h.endpoint)}\n"Hash" : ${h.hash.hash}\n\n`).join(""),
    table: () => renderTable(["endpoint", "hash"], rows),
  };
}

const ALARM_TYPES: Readonly<Record<Alarm["alarm"], [number, string]>> = { nospace: [1, "NOSPACE"], corrupt: [2, "CORRUPT"] };

/** `alarm list` and `alarm disarm`: Go's `%+v` of each AlarmMember. */
export function alarmRendering(r: AlarmResult): Rendering {
  return {
    simple: () => r.alarms.map((a) => `memberID:${u64(a.memberId)} alarm:${ALARM_TYPES[a.alarm][1]} \n`).join(""),
    json: () => ({ header: maybeHeader(r.header), alarms: omitEmpty(r.alarms.map((a) => ({ memberID: omitEmpty(u64(a.memberId)), alarm: ALARM_TYPES[a.alarm][0] }))) }),
    fields: () => fieldsHeader(r.header) + r.alarms.map((a) => `"MemberID" : ${u64(a.memberId)}\n"AlarmType" : ${ALARM_TYPES[a.alarm][1]}\n\n`).join(""),
  };
}

/** `move-leader`: simple only (etcdctl's other printers refuse it). */
export function moveLeaderRendering(leader: bigint, target: bigint, header: ResponseHeader): Rendering {
  return {
    simple: () => `Leadership transferred from ${goHex(leader)} to ${goHex(target)}\n`,
    json: () => ({ header: maybeHeader(header) }),
  };
}

/** go-humanize's `Bytes`: SI units, one decimal under 10, Go's round-half-to-even for `%.0f`. */
export function humanBytes(size: bigint): string {
  const s = Number(size);
  if (s < 10) return `${s} B`;
  const sizes = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
  const e = Math.floor(Math.log(s) / Math.log(1000));
  const val = Math.floor((s / 1000 ** e) * 10 + 0.5) / 10;
  const suffix = sizes[e] ?? "EB";
  if (val < 10) return `${val.toFixed(1)} ${suffix}`;
  const whole = Math.floor(val);
  const half = Math.abs(val - whole - 0.5) < 1e-9;
  const rounded = half ? (whole % 2 === 0 ? whole : whole + 1) : Math.round(val);
  return `${rounded} ${suffix}`;
}
