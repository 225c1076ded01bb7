/**
 * etcd-ts against `ETCDCTL_API=2 etcdctl` on a real 3-member cluster: for each command line,
 * etcdctl works on one fresh key prefix and etcd-ts on another with the same prior state; their
 * stdout, stderr and exit codes must be equal once prefixes and indexes are normalised.
 * Member, user, role and auth commands are in cli-compat-admin.test.ts.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { etcdVersion, startCluster, type Cluster } from "../harness/index.js";
import { NO_ETCDCTL, normalize, runEtcdctl, runEtcdctlUntil, runOurs, runOursProcess, runOursUntil, type Outcome, type RunOptions } from "./cli-kit.js";

/** One command line to compare. `{K}` is the side's key prefix, `{In}` the index of setup step n. */
interface Case {
  readonly args: readonly string[];
  readonly setup?: readonly (readonly string[])[];
  readonly stdin?: string;
  /** "stderr": etcdctl also prints its help on stdout after a usage error; we print only the error. */
  readonly same?: "all" | "stderr";
  /** Refused by etcd 3.5: updating an existing directory over v2 (etcd-io/etcd#13589). */
  readonly refusedBy35?: boolean;
}

/** etcd 3.4 serves every case; 3.5 refuses some (see `refusedBy35`). */
const ETCD_34 = etcdVersion().startsWith("3.4.");

const c = (args: string, extra: Omit<Case, "args"> = {}): Case => ({ args: args.split(" "), ...extra });
const X = [["set", "{K}/x", "hello"]];
const DIR = [["mkdir", "{K}/d"], ["set", "{K}/d/c", "child"]];
const EMPTY = [["mkdir", "{K}/e"]];
const TREE = [["set", "{K}/b/x", "v"], ["set", "{K}/a", "v"], ["set", "{K}/c/d/e", "v"], ["mkdir", "{K}/empty"], ["set", "{K}/_hidden", "v"]];
const FORMATS = ["simple", "extended", "json"];
const each = (args: string, extra: Omit<Case, "args"> = {}): Case[] => FORMATS.map((f) => c(`-o ${f} ${args}`, extra));

const CASES: readonly Case[] = [
  // get
  ...each("get {K}/x", { setup: X }),
  ...each("get {K}/nope"),
  ...each("get {K}/d", { setup: DIR }),
  c("get --sort {K}/x", { setup: X }),
  c("get --quorum {K}/x", { setup: X }),
  c("get -q {K}/a/../x", { setup: X }),
  c("get"),
  // set
  ...each("set {K}/new hello"),
  ...each("set {K}/x again", { setup: X }),
  ...each("set --ttl 100 {K}/t v"),
  c("-o extended set -ttl 7 {K}/t v"),
  c("-o extended set {K}/t v --ttl 0x10"),
  ...each("set --swap-with-value hello {K}/x swapped", { setup: X }),
  c("set --swap-with-value wrong {K}/x v", { setup: X }),
  c("set --swap-with-index 1 {K}/x v", { setup: X }),
  c("-o json set --swap-with-index {I0} {K}/x v", { setup: X }),
  c("-o json set {K}/in", { stdin: "from stdin\n" }),
  c("set {K}/in", { stdin: "" }),
  c("set"),
  c("set {K}/d v", { setup: DIR }),
  c("set {K}/x/y v", { setup: X }),
  { args: ["-o", "json", "set", "--", "{K}/dash", "-neg"] },
  { args: ["-o", "json", "set", "{K}/sp ace/k+y%z", '<a&b>\u2028\u0001\tq"\\é'] },
  // mk
  ...each("mk {K}/m v"),
  c("mk {K}/x v", { setup: X }),
  ...each("mk --in-order {K}/q v", { setup: [["mkdir", "{K}/q"]] }),
  c("-o json mk --in-order --ttl 60 {K}/q2 v"),
  c("mk {K}/m", { stdin: "" }),
  // mkdir, setdir, updatedir
  ...each("mkdir {K}/nd"),
  c("mkdir {K}/d", { setup: DIR }),
  c("-o json mkdir --ttl 60 {K}/nd"),
  c("mkdir {K}/x/sub", { setup: X }),
  ...each("setdir {K}/sd"),
  c("setdir {K}/d", { setup: DIR }),
  c("-o json setdir {K}/x", { setup: X }),
  ...each("updatedir {K}/d", { setup: DIR, refusedBy35: true }),
  c("-o json updatedir --ttl 60 {K}/d", { setup: DIR, refusedBy35: true }),
  c("updatedir {K}/nope"),
  c("updatedir {K}/x", { setup: X }),
  // update
  ...each("update {K}/x updated", { setup: X }),
  c("update {K}/nope v"),
  c("update {K}/d v", { setup: DIR }),
  c("-o extended update --ttl 30 {K}/x v", { setup: X }),
  // rm, rmdir
  ...each("rm {K}/x", { setup: X }),
  c("rm {K}/nope"),
  c("rm {K}/d", { setup: DIR }),
  c("rm --dir {K}/d", { setup: DIR }),
  ...each("rm --dir {K}/e", { setup: EMPTY }),
  ...each("rm -r {K}/d", { setup: DIR }),
  c("rm --recursive {K}/nope"),
  ...each("rm --with-value hello {K}/x", { setup: X }),
  c("rm --with-value wrong {K}/x", { setup: X }),
  c("rm --with-index 1 {K}/x", { setup: X }),
  c("rm"),
  ...each("rmdir {K}/e", { setup: EMPTY }),
  c("rmdir {K}/d", { setup: DIR }),
  c("rmdir {K}/x", { setup: X }),
  c("rmdir {K}/nope"),
  // ls (children come back in map order, so only sorted or single-child listings are compared)
  c("ls --sort {K}", { setup: TREE }),
  c("ls -r --sort {K}", { setup: TREE }),
  c("ls -p --sort {K}", { setup: TREE }),
  c("ls --sort -q {K}/c", { setup: TREE }),
  c("-o json ls -r --sort {K}", { setup: TREE }),
  c("-o extended ls --sort {K}", { setup: TREE }),
  c("ls {K}/a", { setup: TREE }),
  c("ls {K}/empty", { setup: TREE }),
  c("ls {K}/nope"),
  // watch, from history so that no writer has to race the watcher
  ...each("watch --after-index {I0} {K}/w", { setup: [["set", "{K}/w", "v0"], ["set", "{K}/w", "v1"]] }),
  ...each("watch -r --after-index {I0} {K}/wd", { setup: [["set", "{K}/x", "v"], ["mkdir", "{K}/wd/sub"], ["set", "{K}/wd/a", "v1"]] }),
  c("watch --after-index {I0} {K}/w", { setup: [["set", "{K}/w", "v0"], ["rm", "{K}/w"]] }),
  c("watch"),
  c("exec-watch {K}/x"),
  // usage errors: etcdctl's one-line error on stderr, same exit code
  c("set --bogus {K}/x v", { same: "stderr" }),
  c("--bogus get {K}/x", { same: "stderr" }),
  c("set --ttl abc {K}/x v", { same: "stderr" }),
  c("set --ttl 99999999999999999999 {K}/x v", { same: "stderr" }),
  c("set --ttl", { same: "stderr" }),
  c("get --sort=maybe {K}/x", { same: "stderr" }),
  c("--timeout 1x get {K}/x", { same: "stderr" }),
  c("nosuch"),
  c("member bogus"),
];

describe("etcd-ts prints what etcdctl v2 prints", { skip: NO_ETCDCTL }, () => {
  let cluster: Cluster;
  let eps: string;
  let base: string;

  before(async () => {
    cluster = await startCluster({ size: 3, name: "cli-compat" });
    eps = cluster.endpoints().join(",");
    base = cluster.prefix("cli");
  });
  after(() => cluster.stop());

  /** Runs `kase` on its own prefix: setup through etcdctl, then the command through `runner`. */
  async function side(kase: Case, key: string, runner: (args: readonly string[], o: RunOptions) => Promise<Outcome>): Promise<Outcome> {
    const indexes: string[] = [];
    for (const step of kase.setup ?? []) {
      const done = await runEtcdctl(["--endpoints", eps, "-o", "extended", ...step.map((s) => s.replaceAll("{K}", key))]);
      assert.equal(done.code, 0, `setup ${step.join(" ")} failed: ${done.stderr}`);
      indexes.push(/^Index: (\d+)$/m.exec(done.stdout)?.[1] ?? "0");
    }
    const args = kase.args.map((a) => a.replaceAll("{K}", key).replace(/\{I(\d)\}/g, (_, i: string) => indexes[Number(i)] ?? "0"));
    return runner(["--endpoints", eps, ...args], { ...(kase.stdin === undefined ? {} : { stdin: kase.stdin }) });
  }

  /** Both sides of a case, normalised. */
  async function both(kase: Case, n: number): Promise<{ theirs: Outcome; ours: Outcome }> {
    const a = `${base}/c${n}a`;
    const b = `${base}/c${n}b`;
    const [theirs, ours] = await Promise.all([side(kase, a, runEtcdctl), side(kase, b, runOurs)]);
    const names = { [a]: "{K}", [b]: "{K}" };
    return { theirs: normalize(theirs, names), ours: normalize(ours, names) };
  }

  describe("key commands, every format, and their errors", { concurrency: 4 }, () => {
    CASES.forEach((kase, n) => {
      it(kase.args.join(" "), async () => {
        const { theirs, ours } = await both(kase, n);
        if (kase.refusedBy35 === true && !ETCD_34) {
          // etcd 3.5 answers error 300 (Raft Internal Error), which Go's client reads as "has no
          // leader" and tries on every member; etcd-ts does not re-send a write that may have been
          // applied, so it names one member. Both fail alike otherwise.
          for (const side of [theirs, ours]) {
            assert.equal(side.code, 4, side.stderr);
            assert.match(side.stderr, /^Error: {2}client: etcd cluster is unavailable or misconfigured; error #0: client: etcd member \S+ has no leader\n/);
          }
          return;
        }
        if (kase.same === "stderr") {
          assert.deepEqual({ stderr: ours.stderr, code: ours.code }, { stderr: theirs.stderr, code: theirs.code });
          assert.equal(ours.stdout, "", "a usage error prints only the error");
        } else {
          assert.deepEqual(ours, theirs);
        }
      });
    });
  });

  it("watch without --after-index sees a write made after it started", async () => {
    const write = (key: string): Promise<Outcome> => runEtcdctl(["--endpoints", eps, "set", key, "live"]);
    const [theirs, ours] = await Promise.all(
      (["a", "b"] as const).map(async (tag, i) => {
        const key = `${base}/live${tag}`;
        const runner = i === 0 ? runEtcdctl : runOurs;
        const watching = runner(["--endpoints", eps, "-o", "json", "watch", key]);
        await new Promise((resolve) => setTimeout(resolve, 800));
        await write(key);
        return normalize(await watching, { [key]: "{K}" });
      }),
    );
    assert.deepEqual(ours, theirs);
    assert.match(ours?.stdout ?? "", /"value":"live"/);
  });

  it("watch --forever and exec-watch print every event until Ctrl-C, then exit 0", async () => {
    const setup = async (key: string): Promise<string> => {
      const first = await runEtcdctl(["--endpoints", eps, "-o", "extended", "set", `${key}/k1`, "one"]);
      await runEtcdctl(["--endpoints", eps, "set", `${key}/k2`, "two"]);
      await runEtcdctl(["--endpoints", eps, "mkdir", `${key}/dir`]);
      await runEtcdctl(["--endpoints", eps, "set", `${key}/k1`, "three"]);
      return /^Index: (\d+)$/m.exec(first.stdout)?.[1] ?? "0";
    };
    const [ia, ib] = await Promise.all([setup(`${base}/fa`), setup(`${base}/fb`)]);
    const names = { [`${base}/fa`]: "{K}", [`${base}/fb`]: "{K}" };
    const lines = (n: number) => (out: string) => out.split("\n").length > n;
    const watch = (key: string, index: string): string[] => ["--endpoints", eps, "watch", "--forever", "-r", "--after-index", String(Number(index) - 1), key];
    const theirs = normalize(await runEtcdctlUntil(watch(`${base}/fa`, ia), lines(6)), names);
    const ours = normalize(await runOursUntil(watch(`${base}/fb`, ib), lines(6)), names);
    assert.deepEqual(ours, theirs);
    const exec = (key: string, index: string): string[] => ["--endpoints", eps, "exec-watch", "--after-index", String(Number(index) - 1), "-r", key, "--", "sh", "-c", 'echo "$ETCD_WATCH_ACTION $ETCD_WATCH_KEY $ETCD_WATCH_VALUE"'];
    const theirExec = normalize(await runEtcdctlUntil(exec(`${base}/fa`, ia), lines(3)), names);
    const ourExec = normalize(await runOursUntil(exec(`${base}/fb`, ib), lines(3)), names);
    // etcdctl starts the handlers without waiting for each other, so its lines may come in any order.
    const sorted = (o: Outcome): Outcome => ({ ...o, stdout: o.stdout.split("\n").sort().join("\n") });
    assert.deepEqual(sorted(ourExec), sorted(theirExec));
    assert.equal(ourExec.stdout, "set {K}/k1 one\nset {K}/k2 two\nset {K}/k1 three\n");
  });

  it("ETCDCTL_ENDPOINTS is used when no --endpoints flag is given", async () => {
    await runEtcdctl(["--endpoints", eps, "set", `${base}/env`, "from-env"]);
    const env = { ETCDCTL_ENDPOINTS: eps };
    const [theirs, ours] = await Promise.all([runEtcdctl(["get", `${base}/env`], { env }), runOurs(["get", `${base}/env`], { env })]);
    assert.deepEqual(ours, theirs);
    assert.equal(ours.stdout, "from-env\n");
  });

  it("a cluster that cannot be reached: exit 2 while syncing, 4 with --no-sync, same words", async () => {
    for (const args of [["get", "/x"], ["--no-sync", "get", "/x"], ["member", "list"], ["cluster-health"], ["--no-sync", "user", "list"]]) {
      const full = ["--endpoints", "http://127.0.0.1:1", ...args];
      const [theirs, ours] = await Promise.all([runEtcdctl(full), runOurs(full)]);
      assert.deepEqual(ours, theirs, args.join(" "));
    }
  });

  it("the real executable behaves as in-process runs do (smoke)", async () => {
    const key = `${base}/smoke`;
    for (const args of [["set", key, "v"], ["-o", "json", "get", key], ["get", `${key}/nope`], ["set", "--bogus", key, "v"]]) {
      const full = ["--endpoints", eps, ...args];
      const [theirs, ours] = await Promise.all([runEtcdctl(full), runOursProcess(full)]);
      if (args.includes("--bogus")) assert.deepEqual([ours.stderr, ours.code, ours.stdout], [theirs.stderr, theirs.code, ""]);
      else assert.deepEqual(normalize(ours, {}), normalize(theirs, {}), args.join(" "));
    }
  });

  describe("deliberate differences (docs/cli.md)", () => {
    it("an unsupported -o is refused before anything is sent", async () => {
      const key = `${base}/weird`;
      const ours = await runOurs(["--endpoints", eps, "-o", "weird", "set", key, "v"]);
      assert.deepEqual(ours, { stdout: "", stderr: "Unsupported output format: weird\n", code: 1 });
      assert.equal((await runEtcdctl(["--endpoints", eps, "get", key])).code, 4, "nothing was written");
    });

    it("extra arguments are an error instead of being dropped", async () => {
      const ours = await runOurs(["--endpoints", eps, "set", `${base}/extra`, "two", "words"]);
      assert.equal(ours.code, 1);
      assert.match(ours.stderr, /too many arguments/);
    });

    it("an endpoint without a scheme means http", async () => {
      const bare = eps.split(",").map((e) => e.replace("http://", ""));
      const ours = await runOurs(["--endpoints", bare.join(","), "set", `${base}/bare`, "ok"]);
      assert.deepEqual(ours, { stdout: "ok\n", stderr: "", code: 0 });
    });

    it("--debug prints each request as a curl command", async () => {
      const ours = await runOurs(["--debug", "--no-sync", "--endpoints", eps, "get", `${base}/nope`]);
      assert.match(ours.stderr, /^cURL Command: curl -X GET '?http:\/\/127\.0\.0\.1:\d+\/v2\/keys\/.*nope/m);
    });
  });
});
