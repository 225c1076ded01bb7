/**
 * etcd-ts beside `ETCDCTL_API=3 etcdctl` for the admin commands: lease, member, endpoint, alarm,
 * defrag, move-leader, snapshot save, auth, user and role. Each case runs etcdctl, then ours, on
 * the same 3-member cluster (commands that change the cluster run one side after the other),
 * and compares stdout, stderr and the exit code after masking what must differ (kit: IDs,
 * revisions, timings). Run with ETCD_BIN=<3.5 etcd> to compare with etcdctl 3.5.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startCluster, type Cluster } from "../harness/index.js";
import { TEMP_PREFIX, trackDir } from "../harness/registry.js";
import { etcdctl, masked, ours, version, type Mask } from "./cli-admin-kit.js";
import type { Outcome } from "./cli-kit.js";

/** `{U}` and `{R}` are the side's user and role names, `{K}` the case's key; `{L}` the lease the side's setup granted. */
interface Case {
  readonly args: string;
  readonly setup?: readonly string[];
  readonly cleanup?: readonly string[];
  readonly stdin?: string;
  readonly mask?: Mask;
  /** Only for this etcdctl version (the command or flag is new in 3.5). */
  readonly only?: "3.5";
}

const FORMATS = ["simple", "json", "fields"] as const;
const each = (args: string, extra: Omit<Case, "args"> = {}, formats: readonly string[] = FORMATS): Case[] => formats.map((w) => ({ ...extra, args: `${args} -w ${w}` }));
const LEASE = ["lease grant 300"];
const REVOKE = ["lease revoke {L}"];

const GROUPS: Readonly<Record<string, readonly Case[]>> = {
  lease: [
    ...each("lease list", { setup: LEASE, cleanup: REVOKE }),
    ...each("lease grant 60", {}, [...FORMATS, "table"]),
    { args: "lease grant" },
    { args: "lease grant x" },
    { args: "lease grant 10 20" },
    ...each("lease revoke {L}", { setup: LEASE }),
    { args: "lease revoke 1234" },
    { args: "lease revoke zz" },
    { args: "lease revoke" },
    ...each("lease timetolive {L}", { setup: LEASE, cleanup: REVOKE }),
    ...each("lease timetolive --keys {L}", { setup: [...LEASE, "put --lease={L} {K} v"], cleanup: REVOKE }),
    { args: "lease timetolive 1234" },
    { args: "lease timetolive" },
    { args: "lease timetolive zz" },
    ...each("lease keep-alive --once {L}", { setup: LEASE, cleanup: REVOKE }),
    { args: "lease keep-alive --once 1234" },
    { args: "lease keep-alive 1234" },
    { args: "lease keep-alive zz" },
    { args: "lease keep-alive" },
  ],
  member: [
    ...each("member list", {}, [...FORMATS, "table"]),
    { args: "member list --hex -w json", only: "3.5" },
    { args: "member add" },
    { args: "member add x" },
    { args: "member add x http://a:1 y" },
    { args: "member remove" },
    { args: "member remove zz" },
    { args: "member remove 123456789012345678" },
    { args: "member remove 1234" },
    { args: "member update 1234" },
    { args: "member update 1234 --peer-urls=http://127.0.0.1:1" },
    { args: "member promote 1234" },
    { args: "member promote" },
  ],
  endpoint: [
    ...each("endpoint status", { mask: { loose: true } }, [...FORMATS, "table"]),
    ...each("endpoint hashkv", {}, [...FORMATS, "table"]),
    ...each("endpoint health", { mask: { sort: true, loose: true } }, [...FORMATS, "table"]),
    { args: "endpoint status --cluster" },
    { args: "endpoint hashkv --cluster" },
    { args: "endpoint hashkv --rev=1" },
    { args: "endpoint health --cluster", mask: { sort: true } },
  ],
  alarm: [...each("alarm list", {}, ["simple", "json", "table"]), { args: "alarm disarm" }, { args: "alarm disarm -w json" }, { args: "alarm list x" }, { args: "alarm disarm x" }],
  defrag: [{ args: "defrag" }, { args: "defrag --cluster" }],
  "move-leader": [{ args: "move-leader" }, { args: "move-leader zz" }, { args: "move-leader 1234" }],
  "lock/elect": [
    { args: "lock" },
    { args: "elect" },
    { args: "elect x" },
    { args: "elect -l x y" },
    { args: "elect x y z" },
  ],
  check: [{ args: "check perf --load x" }, { args: "check perf --prefix /{K}/", setup: ["put /{K}/x 1"], cleanup: ["del /{K}/x"] },
    { args: "check datascale --load x" },
    { args: "check datascale --prefix /{K}/", setup: ["put /{K}/x 1"], cleanup: ["del /{K}/x"] },
  ],
  auth: [
    { args: "user add {U} --interactive=false", stdin: "pw\n" },
    { args: "user add {U} --new-user-password=x" },
    { args: "user add {U}:pw" },
    { args: "user add :pw" },
    { args: "user add {U}:pw", setup: ["user add {U}:pw"] },
    { args: "user add" },
    { args: "user passwd {U} --interactive=false", stdin: "np\n", setup: ["user add {U}:pw"] },
    { args: "user passwd" },
    { args: "role add {R}" },
    { args: "role add" },
    ...each("role get {R}", {
      setup: ["role add {R}", "role grant-permission {R} readwrite /a /b", "role grant-permission --prefix {R} read /p", "role grant-permission --from-key {R} write /f", "role grant-permission {R} write /single"],
    }),
    { args: "role grant-permission {R} bad /x", setup: ["role add {R}"] },
    { args: "role grant-permission {R} read", setup: ["role add {R}"] },
    { args: "role grant-permission --prefix {R} read /a /b", setup: ["role add {R}"] },
    { args: "role grant-permission --from-key {R} read /a /b", setup: ["role add {R}"] },
    { args: "role grant-permission --prefix --from-key {R} read /a", setup: ["role add {R}"] },
    { args: "role grant-permission --prefix {R} read ''", setup: ["role add {R}"] },
    ...["role revoke-permission {R} /a /b", "role revoke-permission --prefix {R} /p", "role revoke-permission --from-key {R} /f", "role revoke-permission {R} /single", "role revoke-permission {R} /nope"].map(
      (args): Case => ({ args, setup: ["role add {R}", "role grant-permission {R} readwrite /a /b", "role grant-permission --prefix {R} read /p", "role grant-permission --from-key {R} write /f", "role grant-permission {R} write /single"] }),
    ),
    ...each("user get {U}", { setup: ["user add {U}:pw", "role add {R}", "role grant-permission {R} read /k", "user grant-role {U} {R}"] }),
    ...each("user get --detail {U}", { setup: ["user add {U}:pw", "role add {R}", "role grant-permission {R} read /k", "user grant-role {U} {R}"] }),
    { args: "user get nosuch-{U}" },
    { args: "role get nosuch-{R}" },
    { args: "user grant-role {U} {R}", setup: ["user add {U}:pw", "role add {R}"] },
    { args: "user grant-role {U}" },
    { args: "user revoke-role {U} {R}", setup: ["user add {U}:pw", "role add {R}", "user grant-role {U} {R}"] },
    { args: "user revoke-role {U} {R}", setup: ["user add {U}:pw", "role add {R}"] },
    { args: "user delete {U}", setup: ["user add {U}:pw"] },
    { args: "user delete nosuch-{U}" },
    { args: "role delete {R}", setup: ["role add {R}"] },
    { args: "role delete nosuch-{R}" },
    { args: "user list x" },
    { args: "role list x" },
    { args: "auth enable x" },
    { args: "auth disable x" },
    { args: "auth status", only: "3.5" },
    { args: "auth status -w json", only: "3.5" },
  ],
};

/** Cases compared per group, for the report. */
const counted: Record<string, number> = {};

describe(`etcd-ts prints what ETCDCTL_API=3 etcdctl ${version()} prints: admin commands`, () => {
  let cluster: Cluster;
  let eps: string[];

  before(async () => {
    cluster = await startCluster({ size: 3, name: "cli3-admin" });
    eps = [`--endpoints=${cluster.endpoints().join(",")}`];
  });
  after(async () => {
    await cluster.stop();
    process.stdout.write(`# compatibility cases with etcdctl ${version()}: ${JSON.stringify(counted)}\n`);
  });

  const split = (args: string): string[] => args.split(" ").map((a) => (a === "''" ? "" : a));

  /** Runs one side: its setup through etcdctl, the command through `runner`, then its cleanup. */
  async function side(kase: Case, n: number, tag: string, runner: (args: string[], stdin?: string) => Promise<Outcome>): Promise<Outcome> {
    let lease = "";
    const fill = (s: string): string => s.replaceAll("{U}", `u${n}${tag}`).replaceAll("{R}", `r${n}${tag}`).replaceAll("{K}", `k${n}`).replaceAll("{L}", lease);
    for (const step of kase.setup ?? []) {
      const done = await etcdctl([...eps, ...split(fill(step))]);
      assert.equal(done.code, 0, `${step}: ${done.stderr}`);
      lease = /lease ([0-9a-f]{16}) granted/.exec(done.stdout)?.[1] ?? lease;
    }
    const outcome = await runner([...eps, ...split(fill(kase.args))], kase.stdin);
    for (const step of kase.cleanup ?? []) await etcdctl([...eps, ...split(fill(step))]);
    return masked(outcome, { ...kase.mask, names: { [`u${n}${tag}`]: "{U}", [`r${n}${tag}`]: "{R}", ...(lease === "" ? {} : { [lease]: "{L}" }) } });
  }

  for (const [group, cases] of Object.entries(GROUPS)) {
    describe(group, () => {
      cases.forEach((kase, n) => {
        const skip = kase.only !== undefined && kase.only !== version() ? `new in etcdctl ${kase.only}` : false;
        it(kase.args, { skip }, async () => {
          const theirs = await side(kase, n, "a", etcdctl);
          const mine = await side(kase, n, "b", ours);
          assert.deepEqual(mine, theirs);
          counted[group] = (counted[group] ?? 0) + 1;
        });
      });
    });
  }

  it("member add --learner, then remove", async () => {
    const added = async (runner: typeof ours, url: string): Promise<[Outcome, string]> => {
      const outcome = await runner([...eps, "member", "add", "learner", `--peer-urls=${url}`, "--learner"]);
      return [outcome, /Member +([0-9a-f]+) added/.exec(outcome.stdout)?.[1] ?? "?"];
    };
    const [addTheirs, idTheirs] = await added(etcdctl, "http://127.0.0.3:2380");
    const removeTheirs = await etcdctl([...eps, "member", "remove", idTheirs]);
    const [addOurs, idOurs] = await added(ours, "http://127.0.0.4:2380");
    const removeOurs = await ours([...eps, "member", "remove", idOurs]);
    // The new member's place in ETCD_INITIAL_CLUSTER follows its random ID: sort that list.
    const shape = (o: Outcome, url: string): Outcome => {
      const m = masked(o, { names: { [url]: "{URL}" } });
      return { ...m, stdout: m.stdout.replace(/ETCD_INITIAL_CLUSTER="([^"]*)"/, (_, list: string) => `ETCD_INITIAL_CLUSTER="${list.split(",").sort().join(",")}"`) };
    };
    assert.equal(addTheirs.code, 0, addTheirs.stderr);
    assert.deepEqual(shape(addOurs, "http://127.0.0.4:2380"), shape(addTheirs, "http://127.0.0.3:2380"));
    assert.deepEqual(masked(removeOurs), masked(removeTheirs));
    counted["member"] = (counted["member"] ?? 0) + 2;
  });

  it("move-leader to a follower", async () => {
    const move = async (runner: typeof ours): Promise<Outcome> => {
      const leader = await cluster.leader();
      const list = await etcdctl([...eps, "member", "list"]);
      const follower = list.stdout.split("\n").find((l) => l !== "" && !l.includes(cluster.member(leader).name))?.split(",")[0] ?? "?";
      return runner([...eps, "move-leader", follower]);
    };
    const theirs = await move(etcdctl);
    const mine = await move(ours);
    assert.equal(theirs.code, 0, theirs.stderr);
    assert.deepEqual(masked(mine), masked(theirs));
    counted["move-leader"] = (counted["move-leader"] ?? 0) + 1;
  });

  it("snapshot save: one endpoint only; the saved file is etcd's stream with its digest", async () => {
    const dir = mkdtempSync(join(tmpdir(), `${TEMP_PREFIX}cli3-snap-`));
    trackDir(dir);
    const [many, manyOurs] = [await etcdctl([...eps, "snapshot", "save", join(dir, "x.db")]), await ours([...eps, "snapshot", "save", join(dir, "y.db")])];
    assert.deepEqual(masked(manyOurs, { names: { "y.db": "F" } }), masked(many, { names: { "x.db": "F" } }));
    const one = [`--endpoints=${cluster.clientUrl(0)}`];
    const [saved, savedOurs] = [await etcdctl([...one, "snapshot", "save", join(dir, "a.db")]), await ours([...one, "snapshot", "save", join(dir, "b.db")])];
    assert.deepEqual(masked(savedOurs, { names: { "b.db": "F" } }), masked({ ...saved, stderr: "" }, { names: { "a.db": "F" } }));
    const file = readFileSync(join(dir, "b.db"));
    assert.equal(file.length % 512, 32);
    const [noArg, noArgOurs] = [await etcdctl([...one, "snapshot", "save"]), await ours([...one, "snapshot", "save"])];
    assert.deepEqual(masked(noArgOurs), masked(noArg));
    counted["snapshot"] = (counted["snapshot"] ?? 0) + 3;
  });

  it("check perf: a short load (ETCDTS_CHECK_PERF_SECONDS=3) passes with etcdctl's verdict lines, and leaves no key", async () => {
    const { run } = await import("../../src/cli/run.js");
    let stdout = "";
    const code = await run([...eps, "check", "perf", "--prefix=/perf-check/", "--auto-compact"], {
      stdout: (t) => (stdout += t),
      stderr: (t) => (stdout += t),
      env: { ETCDCTL_API: "3", ETCDTS_CHECK_PERF_SECONDS: "3" },
      readStdin: () => Promise.resolve(""),
      readSecret: () => Promise.resolve(""),
      trapInterrupt: () => new AbortController().signal,
    });
    assert.match(stdout, /^Compacting with revision \d+\nCompacted with revision \d+\nPASS: Throughput is 1[45]\d writes\/s\nPASS: Slowest request took \d\.\d{6}s\nPASS: Stddev is \d\.\d{6}s\nPASS\n$/);
    assert.equal(code, 0);
    assert.equal((await ours([...eps, "get", "--prefix", "/perf-check/", "--count-only", "-w", "fields"])).stdout.includes('"Count" : 0'), true);
  });

  it("check datascale --load s: etcdctl's start line and its memory verdict from the member's /metrics", async () => {
    const outcome = await ours([`--endpoints=${cluster.clientUrl(0)}`, "check", "datascale", "--prefix=/scale-check/"]);
    assert.match(outcome.stdout, /^Start data scale check for work load \[10000 key-value pairs, 1024 bytes per key-value, 50 concurrent clients\]\.\nPASS: Approximate system memory used : -?\d+\.\d\d MB\.\n$/);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.match((await ours([...eps, "get", "--prefix", "/scale-check/", "--count-only", "-w", "fields"])).stdout, /"Count" : 0/);
  });

  it("snapshot save on a terminal draws a progress line, erases it, then prints etcdctl's line", async () => {
    const { run } = await import("../../src/cli/run.js");
    const dir = mkdtempSync(join(tmpdir(), `${TEMP_PREFIX}cli3-bar-`));
    trackDir(dir);
    let stdout = "";
    const code = await run([`--endpoints=${cluster.clientUrl(1)}`, "snapshot", "save", join(dir, "t.db")], {
      stdout: (t) => (stdout += t),
      stderr: (t) => (stdout += t),
      env: { ETCDCTL_API: "3" },
      readStdin: () => Promise.resolve(""),
      readSecret: () => Promise.resolve(""),
      trapInterrupt: () => new AbortController().signal,
      isTerminal: true,
    });
    assert.equal(code, 0);
    assert.match(stdout, /^\rDownloading snapshot: \d+(\.\d)? [kM]?B \d+% at /);
    assert.ok(stdout.endsWith(`100% at ${/at ([^\r]+)\r +\rSnapshot/.exec(stdout)?.[1] ?? "?"}${/\r +\r/.exec(stdout)?.[0] ?? "?"}Snapshot saved at ${join(dir, "t.db")}\n`), stdout);
  });

  it("a real NOSPACE alarm: alarm list in each format, endpoint health, alarm disarm", async () => {
    const small = await startCluster({ size: 1, name: "cli3-nospace", extraArgs: ["--quota-backend-bytes=300000"] });
    try {
      const one = [`--endpoints=${small.clientUrl(0)}`];
      const big = "x".repeat(100_000);
      for (let i = 0; i < 40; i++) {
        const put = await ours([...one, "put", `fill${i}`, big]);
        if (put.stderr.includes("database space exceeded")) break;
      }
      const compare = async (args: string[], mask: Mask = {}): Promise<void> => {
        const [theirs, mine] = [await etcdctl([...one, ...args]), await ours([...one, ...args])];
        assert.deepEqual(masked(mine, mask), masked(theirs, mask), args.join(" "));
        counted["alarm"] = (counted["alarm"] ?? 0) + 1;
      };
      await compare(["alarm", "list"]);
      assert.match((await ours([...one, "alarm", "list"])).stdout, /^memberID:\d+ alarm:NOSPACE \n$/);
      await compare(["alarm", "list", "-w", "json"]);
      // etcd 3.4 sends this reply without a header, and etcdctl 3.4's fields printer panics on it (exit 2).
      if (version() === "3.5") await compare(["alarm", "list", "-w", "fields"]);
      await compare(["endpoint", "health"], { sort: true });
      await compare(["put", "k", "v"]);
      const [theirs, mine] = [await etcdctl([...one, "alarm", "disarm"]), await ours([...one, "alarm", "disarm"])];
      assert.match(theirs.stdout, /alarm:NOSPACE/);
      // The first disarm clears the alarm; the second finds none: both print what they cleared.
      assert.deepEqual(masked(mine), masked({ ...theirs, stdout: "" }));
    } finally {
      await small.stop();
    }
  });

  it("auth enable (making the root role), status, and disable with root's credentials", async () => {
    const steps = ["user add root:rootpw", "auth enable", ...(version() === "3.5" ? ["--user=root:rootpw auth status"] : []), "user list", "--user=root:wrong user list", "--user=root:rootpw auth disable"];
    const runAll = async (runner: typeof ours): Promise<Outcome[]> => {
      const outcomes: Outcome[] = [];
      for (const step of steps) outcomes.push(masked(await runner([...eps, ...step.split(" ")])));
      await etcdctl([...eps, "user", "delete", "root"]);
      await etcdctl([...eps, "role", "delete", "root"]);
      return outcomes;
    };
    const theirs = await runAll(etcdctl);
    const mine = await runAll(ours);
    assert.equal(theirs[1]?.stdout, "Authentication Enabled\n");
    assert.deepEqual(mine, theirs);
    counted["auth"] = (counted["auth"] ?? 0) + steps.length;
  });
});
