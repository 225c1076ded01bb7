/**
 * Decoders and request bodies of the v2 members, auth, stats, version and health APIs. Each
 * decoder checks the shape it reads (throwing `ShapeError`), so a proxy's page or a truncated
 * reply becomes MALFORMED_RESPONSE instead of a half-filled object.
 */
import type { FollowerStats, KvPermissions, LeaderStats, Member, Permission, Role, SelfStats, StoreStats, User, VersionInfo } from "../v2/types.js";
import type { Mutable } from "./v2.js";
import { ShapeError, array, number, object, optionalNumber, optionalString, string, strings, type JsonObject } from "./json.js";

/** Paths of the non-key APIs. */
export const V2_PATHS = Object.freeze({
  members: "/v2/members",
  leader: "/v2/members/leader",
  machines: "/v2/machines",
  statsSelf: "/v2/stats/self",
  statsLeader: "/v2/stats/leader",
  statsStore: "/v2/stats/store",
  version: "/version",
  health: "/health",
  authEnable: "/v2/auth/enable",
  users: "/v2/auth/users",
  roles: "/v2/auth/roles",
});

/** The path of one member, user or role: the name is one encoded segment. */
export function itemPath(base: string, name: string): string {
  return `${base}/${encodeURIComponent(name)}`;
}

/** Decodes `{"members": [...]}`. */
export function decodeMembers(json: unknown): Member[] {
  return array(object(json, "the reply"), "members").map(decodeMember);
}

/** Decodes one member. */
export function decodeMember(json: unknown): Member {
  const o = object(json, "a member");
  return { id: string(o, "id"), name: optionalString(o, "name") ?? "", peerURLs: strings(o, "peerURLs"), clientURLs: strings(o, "clientURLs") };
}

/** Decodes the legacy `/v2/machines` text: client URLs joined by ", ". */
export function decodeMachines(text: string): string[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/** Decodes `{"enabled": bool}`. */
export function decodeAuthStatus(json: unknown): { enabled: boolean } {
  const enabled = object(json, "the reply").enabled;
  if (typeof enabled !== "boolean") throw new ShapeError(`"enabled" is not a boolean`);
  return { enabled };
}

/** Decodes `{"users": [...]}` (null when there are none). */
export function decodeUsers(json: unknown): User[] {
  return array(object(json, "the reply"), "users").map((item) => (typeof item === "string" ? { user: item, roles: [] } : decodeUser(item)));
}

/**
 * Decodes one user. etcd answers writes with role names and reads with whole roles; both are
 * kept: names in `roles`, whole roles in `roleDetails`.
 */
export function decodeUser(json: unknown): User {
  const o = object(json, "a user");
  const items = array(o, "roles");
  const user: Mutable<User> = { user: string(o, "user"), roles: [] };
  if (items.every((item): item is string => typeof item === "string")) {
    user.roles = items;
    return user;
  }
  const details = items.map(decodeRole);
  user.roles = details.map((r) => r.role);
  user.roleDetails = details;
  return user;
}

/** Decodes `{"roles": [...]}`. */
export function decodeRoles(json: unknown): Role[] {
  return array(object(json, "the reply"), "roles").map((item) => (typeof item === "string" ? emptyRole(item) : decodeRole(item)));
}

/** Decodes one role. */
export function decodeRole(json: unknown): Role {
  const o = object(json, "a role");
  const permissions = o.permissions === undefined || o.permissions === null ? undefined : object(o.permissions, "permissions");
  const kv = permissions?.kv === undefined || permissions.kv === null ? undefined : object(permissions.kv, "permissions.kv");
  return { role: string(o, "role"), permissions: { kv: { read: kv ? strings(kv, "read") : [], write: kv ? strings(kv, "write") : [] } } };
}

function emptyRole(role: string): Role {
  return { role, permissions: { kv: { read: [], write: [] } } };
}

/** The body of a user PUT; only the fields given are sent. */
export function userBody(user: string, fields: { password?: string; roles?: readonly string[]; grant?: readonly string[]; revoke?: readonly string[] }): unknown {
  return { user, ...fields };
}

/** The body of a role PUT that grants or revokes key-space access. */
export function roleBody(role: string, change?: { verb: "grant" | "revoke"; prefixes: readonly string[]; permission: Permission }): unknown {
  if (change === undefined) return { role };
  const kv: Partial<Record<keyof KvPermissions, readonly string[]>> = {};
  if (change.permission === "read" || change.permission === "readwrite") kv.read = change.prefixes;
  if (change.permission === "write" || change.permission === "readwrite") kv.write = change.prefixes;
  return { role, [change.verb]: { kv } };
}

/** Decodes `/v2/stats/self`. */
export function decodeSelfStats(json: unknown): SelfStats {
  const o = object(json, "the reply");
  const info = object(o.leaderInfo, "leaderInfo");
  const stats: Mutable<SelfStats> = {
    name: string(o, "name"),
    id: string(o, "id"),
    state: string(o, "state"),
    startTime: string(o, "startTime"),
    leaderInfo: { leader: optionalString(info, "leader") ?? "", uptime: optionalString(info, "uptime") ?? "", startTime: optionalString(info, "startTime") ?? "" },
    recvAppendRequestCnt: optionalNumber(o, "recvAppendRequestCnt") ?? 0,
    sendAppendRequestCnt: optionalNumber(o, "sendAppendRequestCnt") ?? 0,
  };
  for (const field of ["recvPkgRate", "recvBandwidthRate", "sendPkgRate", "sendBandwidthRate"] as const) {
    const value = optionalNumber(o, field);
    if (value !== undefined) stats[field] = value;
  }
  return stats;
}

/** Decodes `/v2/stats/leader`. */
export function decodeLeaderStats(json: unknown): LeaderStats {
  const o = object(json, "the reply");
  const followers: Record<string, FollowerStats> = {};
  const raw = o.followers === undefined || o.followers === null ? {} : object(o.followers, "followers");
  for (const [id, value] of Object.entries(raw)) followers[id] = decodeFollower(object(value, `follower ${id}`));
  return { leader: string(o, "leader"), followers };
}

function decodeFollower(o: JsonObject): FollowerStats {
  const counts = object(o.counts, "counts");
  const latency = object(o.latency, "latency");
  const n = (from: JsonObject, field: string): number => optionalNumber(from, field) ?? 0;
  return {
    counts: { success: n(counts, "success"), fail: n(counts, "fail") },
    latency: {
      current: n(latency, "current"),
      average: n(latency, "average"),
      standardDeviation: n(latency, "standardDeviation"),
      minimum: n(latency, "minimum"),
      maximum: n(latency, "maximum"),
    },
  };
}

const STORE_COUNTERS = [
  "getsSuccess", "getsFail", "setsSuccess", "setsFail", "deleteSuccess", "deleteFail",
  "updateSuccess", "updateFail", "createSuccess", "createFail", "compareAndSwapSuccess",
  "compareAndSwapFail", "compareAndDeleteSuccess", "compareAndDeleteFail", "expireCount", "watchers",
] as const;

/** Decodes `/v2/stats/store`. */
export function decodeStoreStats(json: unknown): StoreStats {
  const o = object(json, "the reply");
  const stats = {} as Mutable<StoreStats>;
  for (const field of STORE_COUNTERS) stats[field] = number(o, field);
  return stats;
}

/** Decodes `/version`. */
export function decodeVersion(json: unknown): VersionInfo {
  const o = object(json, "the reply");
  return { etcdserver: string(o, "etcdserver"), etcdcluster: string(o, "etcdcluster") };
}

/** Decodes `/health` (etcd sends `"true"` as a string; newer versions add a reason). */
export function decodeHealth(json: unknown): { health: boolean; reason?: string } {
  const o = object(json, "the reply");
  const health = o.health;
  if (health !== true && health !== false && health !== "true" && health !== "false") throw new ShapeError(`"health" is not a boolean`);
  const reason = optionalString(o, "reason");
  const ok = health === true || health === "true";
  return reason === undefined || reason === "" ? { health: ok } : { health: ok, reason };
}
