/**
 * Every copyable program in examples/ runs against a real 3-member cluster, as a user would run
 * it (its own process, the endpoints in ETCD_ENDPOINTS, `etcd-ts` imported by package name), and
 * its output is checked: an example that no longer works, or no longer does what its comment
 * says, fails here.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCluster, type Cluster } from "../harness/index.js";

let cluster: Cluster;
before(async () => {
  cluster = await startCluster({ size: 3, name: "examples" });
});
after(async () => {
  await cluster.stop();
});

/** Runs examples/<name>.ts to completion and returns its output lines; rejects with its output on failure. */
function run(name: string, args: readonly string[] = []): Promise<string[]> {
  const root = new URL("../../", import.meta.url).pathname;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--import", "tsx", `examples/${name}.ts`, ...args],
      { cwd: root, env: { ...process.env, ETCD_ENDPOINTS: cluster.endpoints().join(",") }, timeout: 90_000 },
      (error, stdout, stderr) => {
        if (error !== null) reject(new Error(`${name} failed: ${error.message}\n${stdout}\n${stderr}`));
        else resolve(stdout.trimEnd().split("\n"));
      },
    );
  });
}

describe("examples", () => {
  it("config-store: a snapshot, then every change after it in order", async () => {
    const lines = await run("config-store");
    assert.match(lines[0] ?? "", /^loaded 2 keys at revision \d+$/);
    assert.deepEqual(
      lines.slice(1, 5).map((l) => l.replace(/ \(revision \d+\)$/, "")),
      ["put log.level = debug", "put feature.search = on", "delete http.port", "put done = 1"],
    );
    const revisions = lines.slice(1, 5).map((l) => Number(/\(revision (\d+)\)$/.exec(l)?.[1]));
    assert.ok(revisions.every((r, i) => i === 0 || r === (revisions[i - 1] ?? 0) + 1), `revisions ${revisions.join(", ")}`);
    assert.equal(lines.at(-1), 'final config: {"feature.search":"on","log.level":"debug"}');
  });

  it("service-registry: leases keep instances registered; revoke and expiry remove them", async () => {
    const lines = await run("service-registry");
    const text = lines.join("\n");
    assert.match(text, /^registered instance-a at 10\.0\.0\.1:8080 with lease [0-9a-f]+ \(TTL 2 s\)$/m);
    assert.match(text, /^discovered instance-b at 10\.0\.0\.2:8080$/m);
    assert.match(text, /^after 3 s: 2 instances registered$/m);
    assert.ok(text.indexOf("instance-a left") < text.indexOf("instance-b left"), text);
    // etcd expires a lease within about its TTL (2 s) of the last renewal; the wide margin is for a loaded machine.
    const expiry = Number(/^instance-b expired ([\d.]+) s after/m.exec(text)?.[1]);
    assert.ok(expiry > 0.5 && expiry < 10, text);
    assert.doesNotMatch(text, /registration lost/);
  });

  it("paged-export: one consistent snapshot, page by page", async () => {
    const file = join(tmpdir(), `etcd-ts-export-test-${process.pid}.jsonl`);
    try {
      const lines = await run("paged-export", [file]);
      assert.match(lines.at(-1) ?? "", /^exported 2500 of 2500 keys \(newest modRevision \d+\) to /);
      const rows = readFileSync(file, "utf8").trimEnd().split("\n").map((l) => JSON.parse(l) as { key: string; value: string });
      assert.equal(rows.length, 2500);
      assert.deepEqual(rows[0], { ...rows[0], key: "examples/export/item/00000", value: '{"n":0}' });
      assert.equal(rows.at(-1)?.key, "examples/export/item/02499");
    } finally {
      rmSync(file, { force: true });
    }
  });

  it("lock: two workers' read-modify-write increments never interleave", async () => {
    const lines = await run("lock");
    assert.deepEqual(lines.slice(0, 2).sort(), ["worker-a done", "worker-b done"]);
    assert.equal(lines.at(-1), "counter = 30 after 2 workers × 15 locked increments; at most 1 held the lock at once");
  });

  it("leader-worker: one leader at a time, each resigning to the next, observed in order", async () => {
    const lines = await run("leader-worker");
    const elected = lines.filter((l) => l.endsWith(": elected")).map((l) => l.slice(0, -": elected".length));
    assert.deepEqual([...elected].sort(), ["candidate-1", "candidate-2", "candidate-3"]);
    // Each leader resigns before the next is elected.
    const events = lines.filter((l) => /^candidate-\d: (elected|resigning)/.test(l)).map((l) => l.replace(/ after.*$/, ""));
    assert.deepEqual(events, elected.flatMap((name) => [`${name}: elected`, `${name}: resigning`]));
    const last = elected.at(-1) ?? "";
    assert.equal(lines.at(-1), `leaders in order: ${elected.join(", ")}; last work: ${last} round 3`);
  });
});
