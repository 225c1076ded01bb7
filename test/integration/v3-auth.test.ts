/**
 * etcd v3 auth against real clusters: the admin API (users, roles, permissions, enable/disable)
 * and the client's token handling. Tokens are etcd's "simple" tokens with `--auth-token-ttl=2`:
 * etcd 3.4 drops a simple token after 2 s without use on that member (its keeper ticks once a
 * second), and a change to users or roles makes every older token stale ("revision of auth store
 * is old"). Every gRPC call the clients make is recorded by a spy on the transport, so the tests
 * count Authenticate calls and see each rejected token instead of guessing from timing.
 */
import assert from "node:assert/strict";
import { after, before, describe, it, mock } from "node:test";
import { EtcdError, EtcdV3Client, type EtcdV3ClientOptions } from "../../src/index.js";
import { GrpcTransport } from "../../src/transport/grpc.js";
import { METHODS } from "../../src/v3/methods.js";
import { sleep, startCluster, type Cluster } from "../harness/index.js";
import { rejectsWith } from "./util.js";

const ROOT_PW = "r00t:secret";
/** Token TTL given to etcd, in seconds. */
const TTL = 2;
/** Long enough for a token unused since now to be gone: TTL, plus the keeper's 1 s tick, plus slack. */
const EXPIRY_WAIT_MS = (TTL + 2) * 1000;

interface CallRecord {
  readonly path: string;
  readonly endpoint: string;
  readonly token: string | undefined;
  code?: string | undefined;
}

/** Records every unary call of every client in this process (the transport is shared code). */
const calls: CallRecord[] = [];
// Taken by descriptor: the spy calls it with the transport as `this`.
const original = Object.getOwnPropertyDescriptor(GrpcTransport.prototype, "unary")?.value as GrpcTransport["unary"];
mock.method(GrpcTransport.prototype, "unary", async function (this: GrpcTransport, ...args: Parameters<GrpcTransport["unary"]>) {
  const [endpoint, path, , options] = args;
  const record: CallRecord = { path, endpoint, token: options.metadata?.token };
  calls.push(record);
  try {
    return await original.apply(this, args);
  } catch (error) {
    record.code = error instanceof EtcdError ? error.code : "?";
    throw error;
  }
});

function since(mark: number, path?: string): CallRecord[] {
  return calls.slice(mark).filter((c) => (path === undefined || c.path === path) && c.path !== METHODS.status);
}

describe("v3 auth: tokens on a 3-member cluster with --auth-token-ttl=2", () => {
  let cluster: Cluster;
  let root: EtcdV3Client;
  let base = "";
  const clients: EtcdV3Client[] = [];

  const client = (extra: Partial<EtcdV3ClientOptions> = {}): EtcdV3Client => {
    const c = new EtcdV3Client({ endpoints: cluster.endpoints(), requestTimeout: 8_000, ...extra });
    clients.push(c);
    return c;
  };

  before(async () => {
    cluster = await startCluster({ size: 3, v3Auth: true, rootPassword: ROOT_PW, extraArgs: [`--auth-token-ttl=${TTL}`], name: "v3auth" });
    root = client({ auth: { username: "root", password: ROOT_PW } });
    base = cluster.prefix("auth");
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await cluster.stop();
  });

  it("a burst of first calls fetches one token", async () => {
    const c = client({ auth: { username: "root", password: ROOT_PW } });
    const mark = calls.length;
    await Promise.all(Array.from({ length: 20 }, (_, i) => c.put(`${base}/burst/${i}`, "v")));
    assert.equal(since(mark, METHODS.authenticate).length, 1);
    assert.equal(since(mark, METHODS.put).length, 20);
    assert.equal((await c.get(`${base}/burst/`, { prefix: true })).count, 20n);
  });

  it("calls keep working across token expiry, and a burst after expiry costs one Authenticate", async () => {
    const c = client({ auth: { username: "root", password: ROOT_PW } });
    await c.put(`${base}/expiry`, "before");
    await sleep(EXPIRY_WAIT_MS);
    const mark = calls.length;
    const replies = await Promise.all(Array.from({ length: 20 }, () => c.get(`${base}/expiry`)));
    assert.ok(replies.every((r) => r.kvs[0]?.value.toString() === "before"));
    const rejected = since(mark).filter((r) => r.code === "INVALID_AUTH_TOKEN");
    // The server really dropped the token (else this test proves nothing)...
    assert.ok(rejected.length >= 1, `no call was rejected for its token: ${JSON.stringify(since(mark))}`);
    // ...and the whole burst shared one refresh.
    assert.equal(since(mark, METHODS.authenticate).length, 1);
    // Each rejected call was sent once more, with the new token, and no more.
    assert.equal(since(mark, METHODS.range).length, 20 + rejected.length);
  });

  it("tokens revoked by a password change are replaced; a changed password then fails with AUTH_FAILED", async () => {
    const user = `carol-${Date.now()}`;
    await root.auth.users.add(user, "pw1");
    await root.auth.users.grantRole(user, "root");
    const c = client({ auth: { username: user, password: "pw1" } });
    await c.put(`${base}/carol`, "1");
    // etcd drops every token of a user whose password is set, even to the same password.
    await root.auth.users.changePassword(user, "pw1");
    let mark = calls.length;
    assert.equal((await c.get(`${base}/carol`)).kvs[0]?.value.toString(), "1");
    assert.deepEqual(since(mark, METHODS.range).map((r) => r.code), ["INVALID_AUTH_TOKEN", undefined]);
    assert.equal(since(mark, METHODS.authenticate).length, 1);
    await root.auth.users.changePassword(user, "pw2");
    mark = calls.length;
    await rejectsWith(c.get(`${base}/carol`), "AUTH_FAILED");
    assert.equal(since(mark, METHODS.range).length, 1);
  });

  it("a wrong password is AUTH_FAILED at once, asked once, and never reaches the put", async () => {
    const c = client({ auth: { username: "root", password: "wrong" } });
    const mark = calls.length;
    await rejectsWith(c.put(`${base}/wrong`, "v"), "AUTH_FAILED");
    assert.equal(since(mark, METHODS.authenticate).length, 1);
    assert.equal(since(mark, METHODS.put).length, 0);
    // A second call asks again (the failure is not cached as a token), and fails the same way.
    await rejectsWith(c.get(`${base}/wrong`), "AUTH_FAILED");
  });

  it("a user without permission gets PERMISSION_DENIED, not retried; granted keys work", async () => {
    const user = `reader-${Date.now()}`;
    await root.auth.roles.add(user);
    await root.auth.roles.grantPermission(user, { key: `${base}/open/`, prefix: true, permission: "read" });
    await root.auth.users.add(user, "pw");
    await root.auth.users.grantRole(user, user);
    await root.put(`${base}/open/a`, "visible");
    const c = client({ auth: { username: user, password: "pw" } });
    assert.equal((await c.get(`${base}/open/a`)).kvs[0]?.value.toString(), "visible");
    const mark = calls.length;
    await rejectsWith(c.put(`${base}/open/a`, "nope"), "PERMISSION_DENIED");
    await rejectsWith(c.get(`${base}/closed`), "PERMISSION_DENIED");
    assert.equal(since(mark, METHODS.put).length, 1);
    assert.equal(since(mark, METHODS.range).length, 1);
    assert.equal(since(mark, METHODS.authenticate).length, 0);
    // Admin calls need the root role.
    await rejectsWith(c.auth.users.list(), "PERMISSION_DENIED");
  });

  it("a client without credentials is refused by an auth-enabled cluster", async () => {
    const c = client();
    const e = await rejectsWith(c.get(`${base}/anon`), e2eAnonymousCode);
    assert.equal(e.delivery, undefined);
  });

  it("auth.authenticate returns a working token of the named user, independent of the client's own", async () => {
    const c = client();
    const { token, header } = await c.auth.authenticate("root", ROOT_PW);
    assert.ok(token.length > 0);
    assert.ok(header.memberId !== 0n);
    await rejectsWith(c.auth.authenticate("root", "wrong"), "AUTH_FAILED");
    await rejectsWith(c.auth.authenticate("nobody", "x"), "AUTH_FAILED");
  });

  it("watch survives token expiry: events written after the token expired arrive, also after the stream is reopened", async () => {
    const key = `${base}/watch/`;
    // One endpoint, so the watch's member is known; writes go through another member's client.
    const watcher = client({ endpoints: [cluster.clientUrl(0)], auth: { username: "root", password: ROOT_PW } });
    const writer = client({ endpoints: [cluster.clientUrl(1)], auth: { username: "root", password: ROOT_PW } });
    const controller = new AbortController();
    const seen: string[] = [];
    const done = (async () => {
      for await (const ev of watcher.watch(key, { prefix: true, signal: controller.signal })) {
        seen.push(ev.kv.value.toString());
        if (seen.length === 3) return;
      }
    })();
    const waitFor = async (n: number, ms: number): Promise<void> => {
      const deadline = Date.now() + ms;
      while (seen.length < n && Date.now() < deadline) await sleep(50);
      assert.equal(seen.length, n, `expected ${n} events by now, saw ${JSON.stringify(seen)}`);
    };
    try {
      // Let the watch be created before the first write.
      await sleep(500);
      await writer.put(`${key}a`, "1");
      await waitFor(1, 5_000);
      await sleep(EXPIRY_WAIT_MS);
      await writer.put(`${key}b`, "2");
      await waitFor(2, 5_000);
      // A restarted member has forgotten every simple token: the reopened stream needs a fresh one.
      await cluster.member(0).restart();
      await writer.put(`${key}c`, "3");
      await waitFor(3, 15_000);
      await done;
      assert.deepEqual(seen, ["1", "2", "3"]);
    } finally {
      controller.abort();
      await done.catch(() => undefined);
    }
  });

  it("a lease keep-alive survives token expiry and a restart of its member", async () => {
    // One endpoint, so the stream reopens on the member that forgot every simple token.
    const keeper = client({ endpoints: [cluster.clientUrl(2)], auth: { username: "root", password: ROOT_PW } });
    const granted = await keeper.lease.grant(5);
    const ka = keeper.lease.keepAlive(granted.id);
    let lost: EtcdError | undefined;
    void ka.lost.then((e) => (lost = e));
    const renewedAfter = async (mark: number, ms: number): Promise<boolean> => {
      const deadline = Date.now() + ms;
      while (ka.expiresAt === mark && Date.now() < deadline) await sleep(50);
      return ka.expiresAt !== mark;
    };
    try {
      await sleep(EXPIRY_WAIT_MS);
      assert.ok(await renewedAfter(ka.expiresAt, 4_000), "no renewal once the token had expired");
      await cluster.member(2).restart();
      assert.ok(await renewedAfter(ka.expiresAt, 10_000), "no renewal after the member restarted");
      // etcd 3.4.23 accepts the reopened LeaseKeepAlive stream with the stale token (no
      // Authenticate follows the restart there); the refresh on INVALID_AUTH_TOKEN is for servers
      // that check, and this test holds either way.
      assert.equal(lost, undefined);
      assert.ok((await root.lease.timeToLive(granted.id)).ttl > 0);
    } finally {
      ka.close();
    }
  });
});

/** What a request without a token gets when auth is on: etcd answers "user name is empty". */
const e2eAnonymousCode = "PERMISSION_DENIED";

describe("v3 auth admin API on a 1-member cluster", () => {
  let cluster: Cluster;
  let admin: EtcdV3Client;

  before(async () => {
    cluster = await startCluster({ size: 1, name: "v3authadm" });
    admin = new EtcdV3Client({ endpoints: cluster.endpoints() });
  });
  after(async () => {
    await admin.close();
    await cluster.stop();
  });

  it("users: add, get, list, grant and revoke roles, change password, delete", async () => {
    await admin.auth.roles.add("r1");
    await admin.auth.roles.add("r2");
    await admin.auth.users.add("alice", "a-pw");
    assert.deepEqual((await admin.auth.users.get("alice")).roles, []);
    await admin.auth.users.grantRole("alice", "r2");
    await admin.auth.users.grantRole("alice", "r1");
    // Granting a role already held is a success (which is why the call may be re-sent).
    await admin.auth.users.grantRole("alice", "r1");
    const got = await admin.auth.users.get("alice");
    assert.deepEqual(got.roles, ["r1", "r2"]);
    assert.ok(got.header.revision > 0n);
    assert.ok((await admin.auth.users.list()).users.includes("alice"));
    await admin.auth.users.revokeRole("alice", "r2");
    assert.deepEqual((await admin.auth.users.get("alice")).roles, ["r1"]);
    await admin.auth.users.changePassword("alice", "new-pw");
    await admin.auth.users.delete("alice");
    assert.ok(!(await admin.auth.users.list()).users.includes("alice"));
  });

  it("user and role errors are answers (no delivery), never retried, and keep etcd's message", async () => {
    await admin.auth.users.add("bob", "pw");
    const mark = calls.length;
    const cases: [() => Promise<unknown>, RegExp][] = [
      [() => admin.auth.users.add("bob", "pw"), /user name already exists/],
      [() => admin.auth.users.get("nobody"), /user name not found/],
      [() => admin.auth.users.delete("nobody"), /user name not found/],
      [() => admin.auth.users.revokeRole("bob", "r1"), /role is not granted/],
      [() => admin.auth.users.grantRole("bob", "no-such-role"), /role name not found/],
      [() => admin.auth.roles.add("r1"), /role name already exists/],
      [() => admin.auth.roles.get("no-such-role"), /role name not found/],
      [() => admin.auth.roles.revokePermission("r1", { key: "never-granted" }), /permission is not granted/],
    ];
    for (const [call, message] of cases) {
      await assert.rejects(call(), (e: unknown) => {
        assert.ok(e instanceof EtcdError, String(e));
        assert.match(e.serverMessage ?? "", message);
        assert.equal(e.delivery, undefined);
        return true;
      });
    }
    assert.equal(since(mark).length, cases.length, "each call was sent exactly once");
  });

  it("user and role errors have stable codes: CONFLICT for what exists, NOT_FOUND for what does not", async () => {
    await rejectsWith(admin.auth.users.add("bob", "pw"), "CONFLICT");
    await rejectsWith(admin.auth.roles.add("r1"), "CONFLICT");
    await rejectsWith(admin.auth.users.get("nobody"), "NOT_FOUND");
    await rejectsWith(admin.auth.roles.get("no-such-role"), "NOT_FOUND");
    await rejectsWith(admin.auth.users.revokeRole("bob", "r1"), "NOT_FOUND");
    await rejectsWith(admin.auth.roles.revokePermission("r1", { key: "never-granted" }), "NOT_FOUND");
  });

  it("arguments are checked before anything is sent", async () => {
    await rejectsWith(admin.auth.users.add("", "pw"), "INVALID_ARGUMENT");
    await rejectsWith(admin.auth.roles.grantPermission("r1", { key: "k", permission: "all" as "read" }), "INVALID_ARGUMENT");
    await rejectsWith(admin.auth.roles.grantPermission("r1", { key: "k", prefix: true, rangeEnd: "z", permission: "read" }), "INVALID_ARGUMENT");
    await rejectsWith(admin.auth.roles.grantPermission("r1", { key: "", permission: "read" }), "INVALID_ARGUMENT");
  });

  it("roles: permissions on a key, a prefix and a range; replace, revoke, list, delete", async () => {
    await admin.auth.roles.add("perms");
    await admin.auth.roles.grantPermission("perms", { key: "one", permission: "read" });
    await admin.auth.roles.grantPermission("perms", { key: "dir/", prefix: true, permission: "write" });
    await admin.auth.roles.grantPermission("perms", { key: "a", rangeEnd: "c", permission: "readwrite" });
    // The same keys again replace the permission type.
    await admin.auth.roles.grantPermission("perms", { key: "one", permission: "readwrite" });
    const { permissions } = await admin.auth.roles.get("perms");
    assert.deepEqual(
      permissions.map((p) => [p.permission, p.key.toString(), p.rangeEnd.toString()]),
      [
        ["readwrite", "a", "c"],
        ["write", "dir/", "dir0"],
        ["readwrite", "one", ""],
      ],
    );
    await admin.auth.roles.revokePermission("perms", { key: "dir/", prefix: true });
    assert.equal((await admin.auth.roles.get("perms")).permissions.length, 2);
    assert.ok((await admin.auth.roles.list()).roles.includes("perms"));
    await admin.auth.roles.delete("perms");
    assert.ok(!(await admin.auth.roles.list()).roles.includes("perms"));
  });

  it("enable needs a root user with the root role; then tokens are required; disable turns it off", async () => {
    await assert.rejects(admin.auth.enable(), (e: unknown) => e instanceof EtcdError && /root user does not exist/.test(e.serverMessage ?? ""));
    await admin.auth.users.add("root", ROOT_PW);
    await assert.rejects(admin.auth.enable(), (e: unknown) => e instanceof EtcdError && /root user does not have root role/.test(e.serverMessage ?? ""));
    await admin.auth.users.grantRole("root", "root");
    await admin.auth.users.add("nopw", "", { noPassword: true });
    await admin.auth.enable();
    // Enabling again is a no-op success.
    const rootClient = new EtcdV3Client({ endpoints: cluster.endpoints(), auth: { username: "root", password: ROOT_PW } });
    try {
      await rootClient.auth.enable();
      await rootClient.put("/enabled", "yes");
      await assert.rejects(admin.get("/enabled"), (e: unknown) => e instanceof EtcdError && /user name is empty/.test(e.serverMessage ?? "") && e.delivery === undefined);
      // A user without a password cannot log in with one.
      // etcd 3.4.23 says "auth: authentication failed, password was given for no password user".
      await assert.rejects(admin.auth.authenticate("nopw", ""), (e: unknown) => e instanceof EtcdError && /authentication failed/.test(e.serverMessage ?? ""));
      await rootClient.auth.disable();
      assert.equal((await admin.get("/enabled")).kvs[0]?.value.toString(), "yes");
      // A client given credentials keeps working when auth is turned off under it.
      await rootClient.put("/enabled", "still");
      assert.equal((await rootClient.get("/enabled")).kvs[0]?.value.toString(), "still");
      await rejectsWith(admin.auth.authenticate("root", ROOT_PW), "AUTH_NOT_ENABLED");
      await admin.auth.disable();
    } finally {
      await rootClient.close();
    }
  });
});
