/**
 * etcd's v3 auth API (`client.auth`): switching authentication on and off, tokens, users, roles
 * and key permissions. Everything except `authenticate` needs the root role once auth is on.
 *
 * Repeat classes (docs/retries.md): reads are re-sent after any member failure. A change whose
 * second copy finds the work done and answers success (enable, disable, a password change, a
 * role grant, a permission grant) is "idempotent". A change whose second copy would answer
 * "already exists" or "not found" and hide the success (add, delete, revoke) is "once": after a
 * possible delivery the caller gets OUTCOME_UNKNOWN, never a misleading answer.
 */
import { EtcdError, type Repeat } from "../errors.js";
import { GRPC_STATUS } from "../codec/v3-errors.js";
import type { CallOptions } from "../options.js";
import { Permission_Type, type Permission as PbPermission } from "./gen/authpb.js";
import {
  AuthDisableRequest,
  AuthDisableResponse,
  AuthEnableRequest,
  AuthEnableResponse,
  AuthStatusRequest,
  AuthStatusResponse,
  AuthenticateRequest,
  AuthenticateResponse,
  AuthHeaderResponse,
  AuthRoleAddRequest,
  AuthRoleDeleteRequest,
  AuthRoleGetRequest,
  AuthRoleGetResponse,
  AuthRoleGrantPermissionRequest,
  AuthRoleListRequest,
  AuthRoleListResponse,
  AuthRoleRevokePermissionRequest,
  AuthUserAddRequest,
  AuthUserChangePasswordRequest,
  AuthUserDeleteRequest,
  AuthUserGetRequest,
  AuthUserGetResponse,
  AuthUserGrantRoleRequest,
  AuthUserListRequest,
  AuthUserListResponse,
  AuthUserRevokeRoleRequest,
  type ResponseHeader as PbHeader,
} from "./gen/etcdserverpb.js";
import { header, invalid, rangeEndOf, toKey } from "./convert.js";
import { METHODS } from "./methods.js";
import { type Decoder, type Encoder, type UnarySpec, type V3Rpc } from "./rpc.js";
import type { Bytes, RangeOptions, ResponseHeader } from "./types.js";

/** What a key permission allows. */
export type PermissionType = "read" | "write" | "readwrite";

/** What `auth.status()` returns. */
export interface AuthStatusResult {
  /** Who answered and at what revision. */
  readonly header: ResponseHeader;
  /** True when authentication is on. */
  readonly enabled: boolean;
  /** The auth store's revision, raised by every auth change. */
  readonly authRevision: bigint;
}

/** The reply of an auth change: who applied it and when. */
export interface AuthResult {
  /** Who answered and at what revision. */
  readonly header: ResponseHeader;
}

/** What `authenticate` returns. */
export interface AuthenticateResult {
  /** Who answered and at what revision. */
  readonly header: ResponseHeader;
  /** The token to send as the `token` metadata of later requests. */
  readonly token: string;
}

/** Options of `users.add`. */
export interface AddUserOptions extends CallOptions {
  /** A user who cannot log in with a password (only by a TLS client certificate's common name). */
  readonly noPassword?: boolean | undefined;
}

/** What `users.get` returns. */
export interface UserResult {
  /** Who answered and at what revision. */
  readonly header: ResponseHeader;
  /** The roles granted to the user, sorted. */
  readonly roles: readonly string[];
}

/** What `users.list` returns. */
export interface UserListResult {
  /** Who answered and at what revision. */
  readonly header: ResponseHeader;
  /** Every user name, sorted. */
  readonly users: readonly string[];
}

/** What `roles.list` returns. */
export interface RoleListResult {
  /** Who answered and at what revision. */
  readonly header: ResponseHeader;
  /** Every role name, sorted. */
  readonly roles: readonly string[];
}

/** One key permission of a role: `permission` on `key`, or on `[key, rangeEnd)` when `rangeEnd` is not empty. */
export interface RolePermission {
  /** What it allows. */
  readonly permission: PermissionType;
  /** The key, or the start of the range. */
  readonly key: Buffer;
  /** The end of the range, exclusive; empty for a single key, "\0" for every key from `key` on. */
  readonly rangeEnd: Buffer;
}

/** What `roles.get` returns. */
export interface RoleResult {
  /** Who answered and at what revision. */
  readonly header: ResponseHeader;
  /** The role's key permissions, sorted by key. */
  readonly permissions: readonly RolePermission[];
}

/** The keys a permission covers: one key, a prefix, or `[key, rangeEnd)`. */
export interface PermissionRange extends RangeOptions {
  /** The key, the prefix, or the start of the range. */
  readonly key: Bytes;
}

/** A permission to grant. */
export interface PermissionGrant extends PermissionRange {
  /** What it allows. */
  readonly permission: PermissionType;
}

const PERMISSION_TYPES: Readonly<Record<PermissionType, Permission_Type>> = {
  read: Permission_Type.READ,
  write: Permission_Type.WRITE,
  readwrite: Permission_Type.READWRITE,
};

function spec<Req, Res>(name: string, path: string, repeat: Repeat, request: Encoder<Req>, response: Decoder<Res>): UnarySpec<Req, Res> {
  return { name, path, repeat, request, response };
}

const HEADER_ONLY = AuthHeaderResponse;
const ENABLE = spec("auth.enable", METHODS.authEnable, "idempotent", AuthEnableRequest, AuthEnableResponse);
/** Authenticate, sent without a token; a token request changes nothing a second copy could undo, so it is re-sent like a read. */
export const AUTHENTICATE = spec("auth.authenticate", METHODS.authenticate, "read", AuthenticateRequest, AuthenticateResponse);
const STATUS = spec("auth.status", METHODS.authStatus, "read", AuthStatusRequest, AuthStatusResponse);
const DISABLE = spec("auth.disable", METHODS.authDisable, "idempotent", AuthDisableRequest, AuthDisableResponse);
const USER_ADD = spec("auth.users.add", METHODS.userAdd, "once", AuthUserAddRequest, HEADER_ONLY);
const USER_GET = spec("auth.users.get", METHODS.userGet, "read", AuthUserGetRequest, AuthUserGetResponse);
const USER_LIST = spec("auth.users.list", METHODS.userList, "read", AuthUserListRequest, AuthUserListResponse);
const USER_DELETE = spec("auth.users.delete", METHODS.userDelete, "once", AuthUserDeleteRequest, HEADER_ONLY);
const USER_PASSWORD = spec("auth.users.changePassword", METHODS.userChangePassword, "idempotent", AuthUserChangePasswordRequest, HEADER_ONLY);
// etcd ignores a grant of a role the user already has, so a second copy answers success.
const USER_GRANT = spec("auth.users.grantRole", METHODS.userGrantRole, "idempotent", AuthUserGrantRoleRequest, HEADER_ONLY);
const USER_REVOKE = spec("auth.users.revokeRole", METHODS.userRevokeRole, "once", AuthUserRevokeRoleRequest, HEADER_ONLY);
const ROLE_ADD = spec("auth.roles.add", METHODS.roleAdd, "once", AuthRoleAddRequest, HEADER_ONLY);
const ROLE_GET = spec("auth.roles.get", METHODS.roleGet, "read", AuthRoleGetRequest, AuthRoleGetResponse);
const ROLE_LIST = spec("auth.roles.list", METHODS.roleList, "read", AuthRoleListRequest, AuthRoleListResponse);
const ROLE_DELETE = spec("auth.roles.delete", METHODS.roleDelete, "once", AuthRoleDeleteRequest, HEADER_ONLY);
// A grant of the same key range replaces the permission type in place: a second copy changes nothing.
const ROLE_GRANT = spec("auth.roles.grantPermission", METHODS.roleGrantPermission, "idempotent", AuthRoleGrantPermissionRequest, HEADER_ONLY);
const ROLE_REVOKE = spec("auth.roles.revokePermission", METHODS.roleRevokePermission, "once", AuthRoleRevokePermissionRequest, HEADER_ONLY);

function headerOnly(reply: { header?: PbHeader | undefined }): AuthResult {
  return { header: header(reply.header) };
}

/** A user or role name: etcd rejects empty ones, and a non-string is a caller's bug. */
function name(value: unknown, what: string): string {
  if (typeof value !== "string" || value.length === 0) throw invalid(`${what} must be a non-empty string`);
  return value;
}

function password(value: unknown): string {
  if (typeof value !== "string") throw invalid("password must be a string");
  return value;
}

function permissionType(value: unknown): Permission_Type {
  const type = typeof value === "string" && Object.hasOwn(PERMISSION_TYPES, value) ? PERMISSION_TYPES[value as PermissionType] : undefined;
  if (type === undefined) throw invalid(`permission must be "read", "write" or "readwrite", got ${String(value)}`);
  return type;
}

const PERMISSION_NAMES: ReadonlyMap<number, PermissionType> = new Map([
  [Permission_Type.READ, "read"],
  [Permission_Type.WRITE, "write"],
  [Permission_Type.READWRITE, "readwrite"],
]);

function rolePermission(p: PbPermission): RolePermission {
  // etcd has no other types; an unknown one is shown as the narrowest, never as more access.
  return { permission: PERMISSION_NAMES.get(p.permType) ?? "read", key: p.key, rangeEnd: p.rangeEnd };
}

function range(value: PermissionRange): { key: Buffer; rangeEnd: Buffer } {
  const given: unknown = value;
  if (typeof given !== "object" || given === null) throw invalid("a permission needs a key");
  const key = toKey(value.key);
  return { key, rangeEnd: rangeEndOf(key, value) };
}

/** etcd authentication (`client.auth`): on/off, tokens, and the `users` and `roles` stores. */
export class V3Auth {
  readonly #rpc: V3Rpc;
  /** User management (`client.auth.users`). */
  readonly users: V3Users;
  /** Role management (`client.auth.roles`). */
  readonly roles: V3Roles;

  /** Used by `EtcdV3Client`; not constructed directly. */
  constructor(rpc: V3Rpc) {
    this.#rpc = rpc;
    this.users = new V3Users(rpc);
    this.roles = new V3Roles(rpc);
  }

  /** Turns authentication on; the `root` user must exist and hold the `root` role. A no-op when already on. */
  async enable(options?: CallOptions): Promise<AuthResult> {
    return headerOnly(await this.#rpc.call(ENABLE, {}, options));
  }

  /**
   * Whether authentication is on, and the auth store's revision (etcd 3.5 and later; a 3.4
   * member answers UNIMPLEMENTED, reported as UNSUPPORTED). Re-sent freely (a read).
   */
  async status(options?: CallOptions): Promise<AuthStatusResult> {
    try {
      const r = await this.#rpc.call(STATUS, {}, options);
      return { header: header(r.header), enabled: r.enabled, authRevision: r.authRevision };
    } catch (error) {
      if (error instanceof EtcdError && error.status === GRPC_STATUS.UNIMPLEMENTED) {
        throw new EtcdError("UNSUPPORTED", "auth status needs etcd 3.5 or later: this member does not implement AuthStatus", { endpoint: error.endpoint, status: error.status, cause: error });
      }
      throw error;
    }
  }

  /** Turns authentication off (root only). A no-op when already off. */
  async disable(options?: CallOptions): Promise<AuthResult> {
    return headerOnly(await this.#rpc.call(DISABLE, {}, options));
  }

  /**
   * Checks a user's password and returns a fresh token for that user (AUTH_FAILED for a wrong
   * name or password, AUTH_NOT_ENABLED when auth is off). Independent of the client's own
   * credentials: the request carries no token.
   */
  async authenticate(user: string, secret: string, options?: CallOptions): Promise<AuthenticateResult> {
    const reply = await this.#rpc.withoutToken().call(AUTHENTICATE, { name: name(user, "user"), password: password(secret) }, options);
    return { header: header(reply.header), token: reply.token };
  }
}

/** etcd v3 users (`client.auth.users`). */
export class V3Users {
  readonly #rpc: V3Rpc;

  /** Used by `V3Auth`; not constructed directly. */
  constructor(rpc: V3Rpc) {
    this.#rpc = rpc;
  }

  /** Creates a user with no roles; an existing name is an error. With `noPassword` the password is ignored and may be "". */
  async add(user: string, secret: string, options: AddUserOptions = {}): Promise<AuthResult> {
    const noPassword = options.noPassword === true;
    const request = { name: name(user, "user"), password: noPassword ? "" : password(secret), options: { noPassword } };
    return headerOnly(await this.#rpc.call(USER_ADD, request, options));
  }

  /** The roles of one user. */
  async get(user: string, options?: CallOptions): Promise<UserResult> {
    const reply = await this.#rpc.call(USER_GET, { name: name(user, "user") }, options);
    return { header: header(reply.header), roles: reply.roles };
  }

  /** Every user name. */
  async list(options?: CallOptions): Promise<UserListResult> {
    const reply = await this.#rpc.call(USER_LIST, {}, options);
    return { header: header(reply.header), users: reply.users };
  }

  /** Deletes a user; its tokens stop working. */
  async delete(user: string, options?: CallOptions): Promise<AuthResult> {
    return headerOnly(await this.#rpc.call(USER_DELETE, { name: name(user, "user") }, options));
  }

  /** Sets a user's password; the user's existing tokens stop working. */
  async changePassword(user: string, secret: string, options?: CallOptions): Promise<AuthResult> {
    return headerOnly(await this.#rpc.call(USER_PASSWORD, { name: name(user, "user"), password: password(secret) }, options));
  }

  /** Grants a role to a user; granting one the user already has is a success. */
  async grantRole(user: string, role: string, options?: CallOptions): Promise<AuthResult> {
    return headerOnly(await this.#rpc.call(USER_GRANT, { user: name(user, "user"), role: name(role, "role") }, options));
  }

  /** Takes a role away from a user; a role the user does not have is an error. */
  async revokeRole(user: string, role: string, options?: CallOptions): Promise<AuthResult> {
    return headerOnly(await this.#rpc.call(USER_REVOKE, { name: name(user, "user"), role: name(role, "role") }, options));
  }
}

/** etcd v3 roles and their key permissions (`client.auth.roles`). */
export class V3Roles {
  readonly #rpc: V3Rpc;

  /** Used by `V3Auth`; not constructed directly. */
  constructor(rpc: V3Rpc) {
    this.#rpc = rpc;
  }

  /** Creates a role with no permissions; an existing name is an error. */
  async add(role: string, options?: CallOptions): Promise<AuthResult> {
    return headerOnly(await this.#rpc.call(ROLE_ADD, { name: name(role, "role") }, options));
  }

  /** The key permissions of one role. */
  async get(role: string, options?: CallOptions): Promise<RoleResult> {
    const reply = await this.#rpc.call(ROLE_GET, { role: name(role, "role") }, options);
    return { header: header(reply.header), permissions: reply.perm.map(rolePermission) };
  }

  /** Every role name. */
  async list(options?: CallOptions): Promise<RoleListResult> {
    const reply = await this.#rpc.call(ROLE_LIST, {}, options);
    return { header: header(reply.header), roles: reply.roles };
  }

  /** Deletes a role and takes it away from every user who had it. */
  async delete(role: string, options?: CallOptions): Promise<AuthResult> {
    return headerOnly(await this.#rpc.call(ROLE_DELETE, { role: name(role, "role") }, options));
  }

  /** Grants `permission` on a key, a prefix or a range; a grant on the same keys replaces the earlier one. */
  async grantPermission(role: string, grant: PermissionGrant, options?: CallOptions): Promise<AuthResult> {
    const roleName = name(role, "role");
    const { key, rangeEnd } = range(grant);
    const request = { name: roleName, perm: { permType: permissionType(grant.permission), key, rangeEnd } };
    return headerOnly(await this.#rpc.call(ROLE_GRANT, request, options));
  }

  /** Revokes the permission granted on exactly these keys (same key and range end); none granted is an error. */
  async revokePermission(role: string, keys: PermissionRange, options?: CallOptions): Promise<AuthResult> {
    const roleName = name(role, "role");
    const { key, rangeEnd } = range(keys);
    return headerOnly(await this.#rpc.call(ROLE_REVOKE, { role: roleName, key, rangeEnd }, options));
  }
}
