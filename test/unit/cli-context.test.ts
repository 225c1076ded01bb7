/**
 * How the global flags and the ETCDCTL_* environment combine, with no server: the same order of
 * precedence as etcdctl v2's getPeersFlagValue and getTransport.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { resolveGlobals } from "../../src/cli/v2/context.js";
import { UsageError } from "../../src/cli/v2/errors.js";

describe("resolveGlobals", () => {
  it("defaults to etcdctl's endpoints, simple output, a 2 s request and a 5 s command timeout", () => {
    const g = resolveGlobals({}, {});
    assert.deepEqual(g.endpoints, ["http://127.0.0.1:2379", "http://127.0.0.1:4001"]);
    assert.equal(g.output, "simple");
    assert.equal(g.timeoutMs, 2000);
    assert.equal(g.totalTimeoutMs, 5000);
    assert.equal(g.noSync, false);
  });

  it("takes endpoints from --endpoints, ETCDCTL_ENDPOINTS, --endpoint, ETCDCTL_ENDPOINT, --peers, ETCDCTL_PEERS, in that order", () => {
    const env = { ETCDCTL_ENDPOINTS: "http://e1:1", ETCDCTL_ENDPOINT: "http://e2:1", ETCDCTL_PEERS: "http://e3:1" };
    assert.deepEqual(resolveGlobals({ endpoints: "http://f1:1", endpoint: "http://f2:1", peers: "http://f3:1" }, env).endpoints, ["http://f1:1"]);
    assert.deepEqual(resolveGlobals({ endpoint: "http://f2:1", peers: "http://f3:1" }, env).endpoints, ["http://e1:1"]);
    assert.deepEqual(resolveGlobals({ endpoint: "http://f2:1" }, { ETCDCTL_PEERS: "http://e3:1" }).endpoints, ["http://f2:1"]);
    assert.deepEqual(resolveGlobals({}, { ETCDCTL_PEERS: "http://e3:1" }).endpoints, ["http://e3:1"]);
  });

  it("splits on commas, drops empty entries and gives bare host:port an http scheme", () => {
    assert.deepEqual(resolveGlobals({ endpoints: "127.0.0.1:2379, https://h:2,," }, {}).endpoints, ["http://127.0.0.1:2379", "https://h:2"]);
  });

  it("reads TLS files and the user from flags first, then ETCDCTL_CA_FILE, _CERT_FILE, _KEY_FILE, _USERNAME", () => {
    const env = { ETCDCTL_CA_FILE: "env-ca", ETCDCTL_CERT_FILE: "env-cert", ETCDCTL_KEY_FILE: "env-key", ETCDCTL_USERNAME: "env-user" };
    const fromEnv = resolveGlobals({}, env);
    assert.deepEqual([fromEnv.caFile, fromEnv.certFile, fromEnv.keyFile, fromEnv.username], ["env-ca", "env-cert", "env-key", "env-user"]);
    const fromFlags = resolveGlobals({ caFile: "ca", certFile: "cert", keyFile: "key", username: "root:pw" }, env);
    assert.deepEqual([fromFlags.caFile, fromFlags.certFile, fromFlags.keyFile, fromFlags.username], ["ca", "cert", "key", "root:pw"]);
  });

  it("refuses an unsupported -o before anything is sent", () => {
    assert.throws(() => resolveGlobals({ output: "yaml" }, {}), (error: unknown) => error instanceof UsageError && error.message === "Unsupported output format: yaml");
  });

  it("--no-sync arrives from commander as sync: false", () => {
    assert.equal(resolveGlobals({ sync: false }, {}).noSync, true);
  });
});
