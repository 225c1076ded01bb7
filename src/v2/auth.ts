/**
 * The v2 auth API (`/v2/auth/*`): switching authentication on and off, users and roles. Changes
 * need the root user's credentials (the client's `auth` option). Reads and password changes are
 * safe to repeat; grants, revokes, adds and removes are not: repeated after they were applied,
 * they answer with a conflict or "not found" that hides the success.
 */
import { describe, invalidArgument, jsonRequest, requireText } from "../codec/v2.js";
import { V2_PATHS, decodeAuthStatus, decodeRole, decodeRoles, decodeUser, decodeUsers, itemPath, roleBody, userBody } from "../codec/v2-admin.js";
import type { CallOptions } from "../options.js";
import { jsonCall, statusCall, type V2Requester } from "./request.js";
import type { AddUserOptions, AuthStatus, Permission, Role, User } from "./types.js";

/** etcd authentication (`client.auth`). */
export class V2Auth {
  readonly #requester: V2Requester;
  /** User management (`client.auth.users`). */
  readonly users: V2Users;
  /** Role management (`client.auth.roles`). */
  readonly roles: V2Roles;

  /** Used by `EtcdV2Client`; not constructed directly. */
  constructor(requester: V2Requester) {
    this.#requester = requester;
    this.users = new V2Users(requester);
    this.roles = new V2Roles(requester);
  }

  /** Turns authentication on; the root user must exist (CONFLICT otherwise, or when already on). */
  async enable(options?: CallOptions): Promise<void> {
    await this.#requester.run(statusCall("auth.enable", false, { method: "PUT", path: V2_PATHS.authEnable }, [200, 201]), options);
  }

  /** Turns authentication off; needs root credentials (CONFLICT when already off). */
  async disable(options?: CallOptions): Promise<void> {
    await this.#requester.run(statusCall("auth.disable", false, { method: "DELETE", path: V2_PATHS.authEnable }, [200, 201]), options);
  }

  /**
   * Whether authentication is on, as the answering member knows it: etcd serves auth reads from
   * that member's own store (there is no quorum option), so a change made through another member
   * may show a moment later.
   */
  status(options?: CallOptions): Promise<AuthStatus> {
    return this.#requester.run(jsonCall("auth.status", true, { method: "GET", path: V2_PATHS.authEnable }, [200], decodeAuthStatus), options);
  }
}

/** etcd v2 users. */
export class V2Users {
  readonly #requester: V2Requester;

  /** Used by `V2Auth`; not constructed directly. */
  constructor(requester: V2Requester) {
    this.#requester = requester;
  }

  /** Every user, with their roles. */
  list(options?: CallOptions): Promise<User[]> {
    return this.#requester.run(jsonCall("auth.users.list", true, { method: "GET", path: V2_PATHS.users }, [200], decodeUsers), options);
  }

  /** One user, with their roles and permissions; NOT_FOUND when there is no such user. */
  async get(user: string, options?: CallOptions): Promise<User> {
    const request = { method: "GET", path: userPath(user) } as const;
    return this.#requester.run(jsonCall("auth.users.get", true, request, [200], decodeUser), options);
  }

  /**
   * Creates a user. With `roles`, an existing user is a CONFLICT; without, etcd creates *or
   * updates*, so adding an existing user replaces its password and keeps its roles.
   */
  async add(user: string, password: string, options?: AddUserOptions): Promise<User> {
    const roles = options?.roles === undefined ? {} : { roles: names("roles", options.roles) };
    const request = jsonRequest("PUT", userPath(user), userBody(user, { password: requireText("password", password), ...roles }));
    return this.#requester.run(jsonCall("auth.users.add", false, request, [200, 201], decodeUser), options);
  }

  /** Deletes a user. */
  async remove(user: string, options?: CallOptions): Promise<void> {
    await this.#requester.run(statusCall("auth.users.remove", false, { method: "DELETE", path: userPath(user) }, [200, 204]), options);
  }

  /** Grants roles to a user. */
  async grant(user: string, roles: readonly string[], options?: CallOptions): Promise<User> {
    const request = jsonRequest("PUT", userPath(user), userBody(user, { grant: names("roles", roles) }));
    return this.#requester.run(jsonCall("auth.users.grant", false, request, [200, 201], decodeUser), options);
  }

  /** Revokes roles from a user (BAD_REQUEST or CONFLICT when one was not granted). */
  async revoke(user: string, roles: readonly string[], options?: CallOptions): Promise<User> {
    const request = jsonRequest("PUT", userPath(user), userBody(user, { revoke: names("roles", roles) }));
    return this.#requester.run(jsonCall("auth.users.revoke", false, request, [200, 201], decodeUser), options);
  }

  /** Sets a user's password. */
  async changePassword(user: string, password: string, options?: CallOptions): Promise<User> {
    const request = jsonRequest("PUT", userPath(user), userBody(user, { password: requireText("password", password) }));
    return this.#requester.run(jsonCall("auth.users.changePassword", true, request, [200, 201], decodeUser), options);
  }
}

/** etcd v2 roles. */
export class V2Roles {
  readonly #requester: V2Requester;

  /** Used by `V2Auth`; not constructed directly. */
  constructor(requester: V2Requester) {
    this.#requester = requester;
  }

  /** Every role, with its permissions. */
  list(options?: CallOptions): Promise<Role[]> {
    return this.#requester.run(jsonCall("auth.roles.list", true, { method: "GET", path: V2_PATHS.roles }, [200], decodeRoles), options);
  }

  /** One role; NOT_FOUND when there is no such role. */
  async get(role: string, options?: CallOptions): Promise<Role> {
    const request = { method: "GET", path: rolePath(role) } as const;
    return this.#requester.run(jsonCall("auth.roles.get", true, request, [200], decodeRole), options);
  }

  /** Creates a role with no permissions (CONFLICT when it exists). */
  async add(role: string, options?: CallOptions): Promise<Role> {
    const request = jsonRequest("PUT", rolePath(role), roleBody(role));
    return this.#requester.run(jsonCall("auth.roles.add", false, request, [200, 201], decodeRole), options);
  }

  /** Deletes a role. */
  async remove(role: string, options?: CallOptions): Promise<void> {
    await this.#requester.run(statusCall("auth.roles.remove", false, { method: "DELETE", path: rolePath(role) }, [200, 204]), options);
  }

  /** Grants read and/or write access to keys; a pattern ending in `*` is a prefix. */
  async grantKV(role: string, prefixes: readonly string[], permission: Permission, options?: CallOptions): Promise<Role> {
    const request = jsonRequest("PUT", rolePath(role), roleBody(role, { verb: "grant", prefixes: names("prefixes", prefixes), permission: checkPermission(permission) }));
    return this.#requester.run(jsonCall("auth.roles.grantKV", false, request, [200, 201], decodeRole), options);
  }

  /** Revokes read and/or write access to keys. */
  async revokeKV(role: string, prefixes: readonly string[], permission: Permission, options?: CallOptions): Promise<Role> {
    const request = jsonRequest("PUT", rolePath(role), roleBody(role, { verb: "revoke", prefixes: names("prefixes", prefixes), permission: checkPermission(permission) }));
    return this.#requester.run(jsonCall("auth.roles.revokeKV", false, request, [200, 201], decodeRole), options);
  }
}

function userPath(user: unknown): string {
  return itemPath(V2_PATHS.users, nonEmpty("user", user));
}

function rolePath(role: unknown): string {
  return itemPath(V2_PATHS.roles, nonEmpty("role", role));
}

function nonEmpty(what: string, value: unknown): string {
  const text = requireText(what, value);
  if (text === "") throw invalidArgument(`${what} must not be empty`);
  return text;
}

function names(what: string, list: unknown): readonly string[] {
  if (!Array.isArray(list) || list.length === 0 || list.some((item) => typeof item !== "string")) {
    throw invalidArgument(`${what} must be a non-empty array of strings`);
  }
  return list as readonly string[];
}

function checkPermission(permission: unknown): Permission {
  if (permission !== "read" && permission !== "write" && permission !== "readwrite") {
    throw invalidArgument(`permission must be "read", "write" or "readwrite", got ${describe(permission)}`);
  }
  return permission;
}
