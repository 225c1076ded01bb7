/**
 * What etcdctl prints for `auth`, `user` and `role`. The simple texts name the user or role the
 * command was given; the JSON is the reply (header, and roles, users or permissions); fields has
 * only some of them, and table none (etcdctl's printers refuse the rest).
 */
import type { AuthResult, RoleListResult, RolePermission, RoleResult, UserListResult, UserResult } from "../../v3/auth.js";
import { goQuote } from "../shared/gofmt.js";
import { omitEmpty, type GoObject } from "../shared/gojson.js";
import { fieldsHeader, headerJson, type Rendering } from "./printers.js";

const PERM_NUMBER: Readonly<Record<string, number>> = { read: 0, write: 1, readwrite: 2 };
const PERM_NAME: Readonly<Record<string, string>> = { read: "READ", write: "WRITE", readwrite: "READWRITE" };

/** A reply that carries only its header: simple is `text`, fields the header, json `{header}`. */
export function headerOnlyRendering(text: string, r: AuthResult, fields = true): Rendering {
  const rendering: Rendering = { simple: () => text, json: () => ({ header: headerJson(r.header) }) };
  return fields ? { ...rendering, fields: () => fieldsHeader(r.header) } : rendering;
}

/** `auth status` (etcd 3.5). */
export function authStatusRendering(r: AuthResult & { readonly enabled: boolean; readonly authRevision: bigint }): Rendering {
  return {
    simple: () => `Authentication Status: ${r.enabled}\nAuthRevision: ${r.authRevision}\n`,
    json: () => ({ header: headerJson(r.header), enabled: omitEmpty(r.enabled), authRevision: omitEmpty(r.authRevision) }),
  };
}

/** The `[key, end)` text of a ranged permission, as etcdctl's RoleGet prints it. */
function permissionLine(p: RolePermission): string {
  if (p.rangeEnd.length === 0) return `\t${p.key.toString("utf8")}\n`;
  const key = p.key.toString("utf8");
  const end = p.rangeEnd.toString("utf8");
  let line = end === "\x00" ? `\t[${key}, <open ended>` : `\t[${key}, ${end})`;
  if (prefixEnd(p.key).equals(p.rangeEnd)) line += ` (prefix ${key})`;
  return `${line}\n`;
}

/** clientv3's `GetPrefixRangeEnd`: the key with its last byte below 0xff incremented, or "\x00". */
export function prefixEnd(key: Buffer): Buffer {
  const end = Buffer.from(key);
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] ?? 0xff) < 0xff) {
      end[i] = (end[i] ?? 0) + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/** The simple text of `role get` (also what `user get --detail` prints per role). */
export function roleGetSimple(role: string, r: RoleResult): string {
  const reads = r.permissions.filter((p) => p.permission === "read" || p.permission === "readwrite");
  const writes = r.permissions.filter((p) => p.permission === "write" || p.permission === "readwrite");
  return `Role ${role}\nKV Read:\n${reads.map(permissionLine).join("")}KV Write:\n${writes.map(permissionLine).join("")}`;
}

function permJson(p: RolePermission): GoObject {
  return { permType: omitEmpty(PERM_NUMBER[p.permission] ?? 0), key: omitEmpty(p.key), range_end: omitEmpty(p.rangeEnd) };
}

/** `role get`. */
export function roleGetRendering(role: string, r: RoleResult): Rendering {
  return {
    simple: () => roleGetSimple(role, r),
    json: () => ({ header: headerJson(r.header), perm: omitEmpty(r.permissions.map(permJson)) }),
    fields: () =>
      fieldsHeader(r.header) +
      r.permissions.map((p) => `"PermType" :  ${PERM_NAME[p.permission] ?? ""}\n"Key" : ${goQuote(p.key)}\n"RangeEnd" : ${goQuote(p.rangeEnd)}\n`).join(""),
  };
}

/** `role list`. */
export function roleListRendering(r: RoleListResult): Rendering {
  return {
    simple: () => r.roles.map((role) => `${role}\n`).join(""),
    json: () => ({ header: headerJson(r.header), roles: omitEmpty([...r.roles]) }),
    fields: () => `${fieldsHeader(r.header)}"Roles" :${r.roles.map((role) => ` ${goQuote(role)}`).join("")}\n`,
  };
}

/** `role revoke-permission`: the text names the key or range revoked. */
export function revokePermissionText(role: string, key: string, end: string): string {
  if (end === "") return `Permission of key ${key} is revoked from role ${role}\n`;
  if (end !== "\x00") return `Permission of range [${key}, ${end}) is revoked from role ${role}\n`;
  return `Permission of range [${key}, <open ended> is revoked from role ${role}\n`;
}

/** `user get` (without `--detail`). */
export function userGetRendering(user: string, r: UserResult): Rendering {
  return {
    simple: () => `User: ${user}\nRoles:${r.roles.map((role) => ` ${role}`).join("")}\n`,
    json: () => ({ header: headerJson(r.header), roles: omitEmpty([...r.roles]) }),
  };
}

/** `user list`. */
export function userListRendering(r: UserListResult): Rendering {
  return {
    simple: () => r.users.map((u) => `${u}\n`).join(""),
    json: () => ({ header: headerJson(r.header), users: omitEmpty([...r.users]) }),
  };
}
