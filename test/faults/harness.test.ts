import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { createInterface } from "node:readline";
import {
  isAlive, listOurRules, partitionSupport, sleep, startCluster, sweepStale, type Cluster,
} from "../harness/index.js";

async function put(url: string, key: string, value: string, timeoutMs = 5_000): Promise<void> {
  const res = await fetch(`${url}/v2/keys${key}`, {
    method: "PUT", body: new URLSearchParams({ value }), signal: AbortSignal.timeout(timeoutMs),
  });
  assert.ok(res.status === 200 || res.status === 201, `PUT ${key} via ${url}: ${res.status} ${await res.text()}`);
}

/** GETs a key's value; rejects on network errors and timeouts, returns undefined on non-200. */
async function get(url: string, key: string, opts: { quorum?: boolean; timeoutMs?: number } = {}): Promise<string | undefined> {
  const q = opts.quorum === true ? "?quorum=true" : "";
  const res = await fetch(`${url}/v2/keys${key}${q}`, { signal: AbortSignal.timeout(opts.timeoutMs ?? 1_000) });
  if (res.status !== 200) return undefined;
  return ((await res.json()) as { node?: { value?: string } }).node?.value;
}

/** Polls `probe` until it returns true, failing after `timeoutMs`; returns the time it took. */
async function eventually(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await probe().catch(() => false)) return Date.now() - start;
    if (Date.now() - start > timeoutMs) assert.fail(`${what}: not within ${timeoutMs} ms`);
    await sleep(100);
  }
}

async function follower(cluster: Cluster): Promise<number> {
  return ((await cluster.leader()) + 1) % cluster.size;
}

function errorName(err: unknown): string {
  return err instanceof Error ? err.name : String(err);
}

/** Comments of the harness iptables rules owned by process `pid`. */
function rulesOf(pid: number): string[] {
  return [...listOurRules("filter"), ...listOurRules("mangle")].map((r) => r.comment).filter((c) => c.startsWith(`etcd-ts:${pid}:`));
}

describe("member faults on a 3-member cluster", () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ size: 3, name: "faults" });
  });
  after(async () => {
    await cluster.stop();
  });

  it("a killed member refuses requests at once, the others keep writing, and a restart catches it up", async (t) => {
    const i = await follower(cluster);
    const other = cluster.clientUrl((i + 1) % 3);
    const key = `${cluster.prefix("kill")}/k`;
    await cluster.member(i).kill();
    const t0 = Date.now();
    const err = await get(cluster.clientUrl(i), key).then(() => undefined, (e: unknown) => e);
    const failedIn = Date.now() - t0;
    assert.ok(err !== undefined && errorName(err) !== "TimeoutError", `expected a refusal, got ${String(err)}`);
    assert.ok(failedIn < 1_000, `request to a killed member took ${failedIn} ms to fail`);
    await put(other, key, "written-while-down");
    await cluster.member(i).restart();
    const took = await eventually("restarted member catches up", 5_000, async () =>
      (await get(cluster.clientUrl(i), key)) === "written-while-down");
    t.diagnostic(`refused in ${failedIn} ms; caught up ${took} ms after restart`);
  });

  it("a paused member does not answer, the others keep writing, and it catches up after resume", async (t) => {
    const i = await follower(cluster);
    const member = cluster.member(i);
    const key = `${cluster.prefix("pause")}/k`;
    await member.pause();
    try {
      const answer = await fetch(`${member.clientUrl}/v2/keys${key}`, { signal: AbortSignal.timeout(1_000) })
        .then(async (r) => `${r.status} ${await r.text()}`, (e: unknown) => e);
      assert.equal(errorName(answer), "TimeoutError", `a paused member answered: ${String(answer)}`);
      await put(cluster.clientUrl((i + 1) % 3), key, "written-while-paused");
    } finally {
      await member.resume();
    }
    const took = await eventually("resumed member catches up", 5_000, async () =>
      (await get(member.clientUrl, key)) === "written-while-paused");
    t.diagnostic(`caught up ${took} ms after resume`);
    await cluster.waitHealthy(i);
  });

  it("an isolated follower serves stale reads, fails quorum reads and health, and recovers after heal", async (t) => {
    const support = partitionSupport();
    if (!support.ok) {
      t.skip(support.why);
      return;
    }
    const i = await follower(cluster);
    const url = cluster.clientUrl(i);
    const other = cluster.clientUrl((i + 1) % 3);
    const key = `${cluster.prefix("isolate")}/k`;
    await put(other, key, "old");
    await eventually("follower sees the old value", 5_000, async () => (await get(url, key)) === "old");
    await cluster.isolate(i);
    try {
      assert.equal(rulesOf(process.pid).length, 4, "isolate installs 4 rules");
      await put(other, key, "new");
      assert.equal(await get(url, key), "old", "a non-quorum read on the isolated member should be stale");
      const quorum = await get(url, key, { quorum: true, timeoutMs: 3_000 }).then((v) => v, (e: unknown) => e);
      assert.ok(quorum === undefined || quorum instanceof Error, `a quorum read on the isolated member returned ${String(quorum)}`);
      const unhealthy = await eventually("isolated member reports unhealthy", 10_000, async () =>
        !(await cluster.member(i).healthy(2_000)));
      t.diagnostic(`quorum read gave ${String(quorum)}; /health unhealthy after ${unhealthy} ms`);
    } finally {
      cluster.heal(i);
    }
    assert.deepEqual(rulesOf(process.pid), [], "heal left rules behind");
    const caughtUp = await eventually("healed member sees the new value", 15_000, async () => (await get(url, key)) === "new");
    await cluster.waitHealthy(i, 15_000);
    t.diagnostic(`caught up ${caughtUp} ms after heal`);
  });
});

const FIXTURE = fileURLToPath(new URL("../harness/fixtures/cleanup-child.ts", import.meta.url));
const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

interface FixtureReport {
  pid: number;
  dir: string;
  isolated: boolean;
}

interface FixtureRun {
  report: FixtureReport;
  childPid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs the cleanup fixture, optionally signals it once it has reported, and waits for it to end. */
async function runFixture(mode: "exit" | "throw" | "wait", signal?: NodeJS.Signals): Promise<FixtureRun> {
  const child = spawn(process.execPath, ["--import", "tsx", FIXTURE, mode], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const ended = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
    child.once("exit", (code, sig) => {
      resolve([code, sig]);
    });
  });
  const guard = setTimeout(() => child.kill("SIGKILL"), 30_000);
  try {
    const lines = createInterface({ input: child.stdout });
    const first = await Promise.race([
      new Promise<string>((resolve) => lines.once("line", resolve)),
      ended.then(() => assert.fail(`fixture ended before reporting:\n${stderr}`)),
    ]);
    const report = JSON.parse(first) as FixtureReport;
    if (signal !== undefined) child.kill(signal);
    const [code, sig] = await ended;
    return { report, childPid: child.pid!, code, signal: sig, stderr };
  } finally {
    clearTimeout(guard);
  }
}

/** Asserts the fixture's member is dead (within 3 s), and that its rules and temp dir are gone. */
async function assertNothingLeft(run: FixtureRun): Promise<void> {
  await eventually(`member pid ${run.report.pid} exits`, 3_000, () => Promise.resolve(!isAlive(run.report.pid)));
  assert.deepEqual(rulesOf(run.childPid), [], "iptables rules survived their owner");
  assert.equal(existsSync(run.report.dir), false, `temp dir ${run.report.dir} survived its owner`);
}

describe("nothing of a cluster survives the process that started it", () => {
  it("when the process exits normally", async () => {
    const run = await runFixture("exit");
    assert.equal(run.code, 0, run.stderr);
    await assertNothingLeft(run);
  });

  it("when the process dies of an uncaught exception", async () => {
    const run = await runFixture("throw");
    assert.equal(run.code, 1);
    assert.match(run.stderr, /deliberate uncaught exception/);
    await assertNothingLeft(run);
  });

  it("when the process is interrupted with SIGINT", async () => {
    const run = await runFixture("wait", "SIGINT");
    assert.equal(run.code, 130, run.stderr);
    await assertNothingLeft(run);
  });

  it("when the process is terminated with SIGTERM", async () => {
    const run = await runFixture("wait", "SIGTERM");
    assert.equal(run.code, 143, run.stderr);
    await assertNothingLeft(run);
  });

  it("when the process is SIGKILLed (member by pdeathsig, rules and dirs by the next sweep)", async (t) => {
    const run = await runFixture("wait", "SIGKILL");
    assert.equal(run.signal, "SIGKILL");
    await eventually(`member pid ${run.report.pid} exits`, 3_000, () => Promise.resolve(!isAlive(run.report.pid)));
    t.diagnostic(`rules left before the sweep: ${rulesOf(run.childPid).length} (isolated: ${run.report.isolated})`);
    sweepStale();
    await assertNothingLeft(run);
  });
});

describe("partition support detection", () => {
  it("refuses to isolate with EPARTITION_UNSUPPORTED, and says why, when not root", async (t) => {
    if (process.getuid?.() !== 0 || !existsSync("/usr/bin/setpriv")) {
      t.skip("needs root and setpriv to run the check as an unprivileged user");
      return;
    }
    const fixture = fileURLToPath(new URL("../harness/fixtures/partition-support.ts", import.meta.url));
    const out = await new Promise<string>((resolve, reject) => {
      execFile("/usr/bin/setpriv", ["--reuid", "65534", "--regid", "65534", "--clear-groups", "--",
        process.execPath, "--import", "tsx", fixture], { cwd: REPO_ROOT, timeout: 30_000 }, (err, stdout, stderr) => {
        if (err === null) resolve(stdout);
        else reject(new Error(`${err.message}\n${stderr}`));
      });
    });
    const result = JSON.parse(out) as { support: { ok: boolean; why?: string }; code: string };
    assert.equal(result.support.ok, false);
    assert.match(result.support.why ?? "", /root/);
    assert.equal(result.code, "EPARTITION_UNSUPPORTED");
  });
});
