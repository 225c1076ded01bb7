/**
 * `etcd-ts migrate v2-to-v3` as users run it (a real process): the summary, --verify-only, --json,
 * --follow stopped by SIGTERM, a cluster without v2, and runs killed at seeded random points
 * (SIGKILL of the command, SIGKILL of a member) that, re-run, always end with both sides equal.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { EtcdV2Client, EtcdV3Client, verifyV2ToV3 } from "../../src/index.js";
import { sleep, startCluster, type Cluster } from "../harness/index.js";
import { createRandom, randomSeed } from "../torture/prng.js";
import { oursCommand } from "./cli-bin.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const SEED = Number(process.env["MIGRATE_SEED"] ?? randomSeed());

interface Outcome {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Starts the command; `done` resolves when it exits. */
function start(args: readonly string[]): { child: ChildProcess; done: Promise<Outcome> } {
  const child = spawn(process.execPath, [...oursCommand(), "migrate", "v2-to-v3", ...args], { cwd: REPO, env: { PATH: process.env["PATH"], HOME: process.env["HOME"] } });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<Outcome>((resolve) => {
    child.on("close", (code, signal) => {
      resolve({ stdout, stderr, code, signal });
    });
  });
  return { child, done };
}

const migrate = (args: readonly string[]): Promise<Outcome> => start(args).done;

let cluster: Cluster;
let v2: EtcdV2Client;
let v3: EtcdV3Client;
before(async () => {
  cluster = await startCluster({ size: 3 });
  v2 = new EtcdV2Client({ endpoints: cluster.endpoints() });
  v3 = new EtcdV3Client({ endpoints: cluster.endpoints() });
});
after(async () => {
  await v2.close();
  await v3.close();
  await cluster.stop();
});

async function fill(prefix: string, n: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < n; i = next++) await v2.set(`${prefix}/d${i % 13}/k${i}`, `value-${i}`, i % 10 === 0 ? { ttl: 600 } : {});
  };
  await Promise.all(Array.from({ length: 32 }, worker));
}

test("the command copies, summarises, verifies, and reports differences with exit code 1", async () => {
  const p = cluster.prefix("cli");
  await fill(p, 200);
  await v2.setDir(`${p}/empty`);
  const endpoints = cluster.endpoints().join(",");
  const first = await migrate(["--endpoints", endpoints, "--prefix", p]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /keys: +200 \(200 written, 0 already equal\)/);
  assert.match(first.stdout, /directories: 1 empty \(no v3 form\): .*\/empty/);
  assert.match(first.stdout, /verify: +equal/);
  const verified = await migrate(["--endpoints", endpoints, "--prefix", p, "--verify-only"]);
  assert.equal(verified.code, 0, verified.stderr);
  await v2.set(`${p}/d0/k0`, "changed after the copy");
  await v2.set(`${p}/added`, "new");
  const differ = await migrate(["--endpoints", endpoints, "--prefix", p, "--verify-only"]);
  assert.equal(differ.code, 1);
  assert.equal(differ.stdout, `missing in v3: ${p}/added\nvalue differs: ${p}/d0/k0\n`);
  const json = await migrate(["--endpoints", endpoints, "--prefix", p, "--json"]);
  assert.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout) as { written: number; unchanged: number; differences: unknown[] };
  assert.deepEqual([report.written, report.unchanged, report.differences], [2, 199, []]);
});

test("--follow applies changes until SIGTERM, then exits 0 after its final verify", async () => {
  const p = cluster.prefix("cli-follow");
  await fill(p, 50);
  const run = start(["--endpoints", cluster.clientUrl(1), "--prefix", p, "--follow"]);
  const deadline = Date.now() + 20_000;
  const until = async (check: () => Promise<boolean>): Promise<void> => {
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error("timed out");
      await sleep(50);
    }
  };
  await until(async () => (await v3.get(`${p}/d0/k0`)).kvs.length === 1);
  await v2.set(`${p}/late`, "while following");
  await v2.delete(`${p}/d1/k1`);
  await until(async () => (await v3.get(`${p}/late`)).kvs.length === 1 && (await v3.get(`${p}/d1/k1`)).kvs.length === 0);
  run.child.kill("SIGTERM");
  const out = await run.done;
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /verify: +equal/);
});

test("--follow stopped by SIGTERM in the middle of a burst of writes still lands all of them before its verify", async () => {
  const p = cluster.prefix("cli-follow-burst");
  await fill(p, 20);
  const run = start(["--endpoints", cluster.clientUrl(0), "--prefix", p, "--follow"]);
  for (let t = 0; (await v3.get(`${p}/d0/k0`)).kvs.length === 0; t++) {
    assert.ok(t < 400, "the copy never reached v3");
    await sleep(50);
  }
  await Promise.all(Array.from({ length: 200 }, (_, i) => v2.set(`${p}/burst/${i}`, `b${i}`)));
  // At once: most of the burst is still to be applied (or not even received) when the signal comes.
  run.child.kill("SIGTERM");
  const out = await run.done;
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /verify: +equal/);
  assert.equal((await v3.get(`${p}/burst/`, { prefix: true, countOnly: true })).count, 200n);
});

test("--dest-endpoints copies into another cluster's v3 store, under --dest-prefix, and --verify-only compares across the two", async () => {
  await using other = await startCluster({ size: 1 });
  const p = cluster.prefix("cli-dest");
  await fill(p, 30);
  const args = ["--endpoints", cluster.endpoints().join(","), "--dest-endpoints", other.clientUrl(0), "--prefix", p, "--dest-prefix", "/moved"];
  const copied = await migrate(args);
  assert.equal(copied.code, 0, copied.stderr);
  assert.match(copied.stdout, /keys: +30 \(30 written, 0 already equal\)/);
  const dest = new EtcdV3Client({ endpoints: other.endpoints() });
  try {
    assert.equal((await dest.get("/moved/", { prefix: true, countOnly: true })).count, 30n);
  } finally {
    await dest.close();
  }
  assert.equal((await v3.get("/moved/", { prefix: true, countOnly: true })).count, 0n, "nothing written to the source cluster's v3 store");
  assert.equal((await migrate([...args, "--verify-only"])).code, 0);
});

test("a cluster without v2 is an error that says how to enable it", async () => {
  await using bare = await startCluster({ size: 1, extraArgs: ["--enable-v2=false"] });
  const out = await migrate(["--endpoints", bare.clientUrl(0), "--prefix", "/x"]);
  assert.equal(out.code, 1);
  assert.match(out.stderr, /does not serve the v2 API.*--enable-v2=true/);
});

test(`runs killed at random points and re-run always end equal (seed ${SEED}; MIGRATE_SEED=${SEED} replays)`, async (t) => {
  const random = createRandom(SEED);
  const endpoints = cluster.endpoints().join(",");
  for (let round = 0; round < 4; round++) {
    const p = cluster.prefix(`killed-${round}`);
    await fill(p, 1500);
    const run = start(["--endpoints", endpoints, "--prefix", p, "--batch-ops", "32"]);
    const victim = round % 2 === 1 ? random.int(3) : undefined;
    await sleep(300 + random.int(2500));
    if (victim === undefined) run.child.kill("SIGKILL");
    else await cluster.member(victim).kill();
    const interrupted = await run.done;
    if (victim !== undefined) await cluster.member(victim).restart();
    t.diagnostic(`round ${round}: ${victim === undefined ? "command SIGKILLed" : `member ${victim} SIGKILLed`}; first run ended by ${interrupted.signal ?? `exit ${interrupted.code}`}`);
    const rerun = await migrate(["--endpoints", endpoints, "--prefix", p]);
    assert.equal(rerun.code, 0, `round ${round} (${victim === undefined ? "command SIGKILLed" : `member ${victim} killed`}, first run ${interrupted.signal ?? interrupted.code}): ${rerun.stderr}${rerun.stdout}`);
    assert.deepEqual(await verifyV2ToV3({ source: v2, dest: v3, prefix: p }), []);
    const third = await migrate(["--endpoints", endpoints, "--prefix", p, "--json"]);
    assert.equal((JSON.parse(third.stdout) as { written: number }).written, 0, `round ${round}: a run after a complete one writes nothing`);
  }
});
