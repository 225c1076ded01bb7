/**
 * etcd-ts against `ETCDCTL_API=3 etcdctl` (the release of the server under test) for get, put,
 * del, compaction, version, help and the global flags: each command line runs on its own key
 * prefix for each side with the same prior state, and stdout, stderr and the exit code must be
 * equal once prefixes and revisions are normalised (cli-v3-kit.ts).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startCluster, type Cluster } from "../harness/index.js";
import { ETCDCTL, NO_ETCDCTL, normalize, runEtcdctl, runOurs, type Outcome, type RunOptions } from "./cli-v3-kit.js";

/** One command line to compare. `{K}` is the side's key prefix. */
interface Case {
  readonly args: readonly string[];
  readonly setup?: readonly (readonly string[])[];
  readonly stdin?: string;
  readonly env?: Readonly<Record<string, string>>;
  /** Only with this etcdctl release (the flag or text exists only there). */
  readonly only?: "3.4" | "3.5";
  /** What is compared: everything, or stdout and exit code (etcdctl's --debug adds gRPC logs to stderr). */
  readonly compare?: "all" | "stdout";
}

const c = (args: string, extra: Omit<Case, "args"> = {}): Case => ({ args: args.split(" "), ...extra });
const AC = [["put", "{K}/a", "1"], ["put", "{K}/b", "22"], ["put", "{K}/c", "333"]];
const FORMATS = ["simple", "json", "fields", "table"];
const each = (args: string, extra: Omit<Case, "args"> = {}): Case[] => FORMATS.map((f) => c(`-w ${f} ${args}`, extra));

/** Which etcdctl release the comparison is against (the tests follow the server's). */
const RELEASE = await (async (): Promise<string> => {
  if (ETCDCTL === undefined) return "none";
  const out = await runEtcdctl(["version"]);
  return /etcdctl version: (\d+\.\d+)/.exec(out.stdout)?.[1] ?? "unknown";
})();

/** The cases, by command group (the report counts them per group). */
export const GROUPS: Readonly<Record<string, readonly Case[]>> = {
  get: [
    ...each("get {K}/a", { setup: AC }),
    ...each("get {K}/ --prefix", { setup: AC }),
    ...each("get {K}/a {K}/c", { setup: AC }),
    ...each("get {K}/nope"),
    c("get {K}/ --prefix --keys-only", { setup: AC }),
    c("-w json get {K}/ --prefix --keys-only", { setup: AC }),
    c("get {K}/ --prefix --limit 2", { setup: AC }),
    c("-w json get {K}/ --prefix --limit=2", { setup: AC }),
    c("get {K}/ --prefix --sort-by=VALUE --order=DESCEND", { setup: AC }),
    c("get {K}/ --prefix --sort-by=version --order=ascend", { setup: AC }),
    c("get {K}/ --prefix --order=DESCEND", { setup: AC }),
    c("get --from-key {K}/b --limit 2", { setup: AC }),
    c("get {K}/ --prefix --print-value-only", { setup: AC }),
    c("-w json get {K}/a --print-value-only", { setup: AC }),
    c("--hex get {K}/a", { setup: AC }),
    c("-w fields --hex get {K}/a", { setup: AC }),
    c("get --consistency=s {K}/a", { setup: AC }),
    c("get --consistency=x {K}/a"),
    c("get --order=sideways {K}/a"),
    c("get --sort-by=size {K}/a"),
    c("get --prefix --from-key {K}/a"),
    c("get --prefix {K}/a {K}/b"),
    c("get --rev=99999999 {K}/a"),
    c("-w fields get {K}/ --prefix --count-only", { setup: AC, only: "3.5" }),
    c("get {K}/ --prefix --count-only", { setup: AC, only: "3.5" }),
    c("get --keys-only --count-only {K}/a", { only: "3.5" }),
    c("get"),
    c("compaction --physical=abc 1"),
    c("put --lease"),
    c("get --bogus {K}/a", { only: "3.5" }),
    c("get -x {K}/a", { only: "3.5" }),
    c("put --bogus {K}/a"),
    c("get --help", { only: "3.5" }),
    c("g {K}/a", { setup: AC }),
  ],
  put: [
    ...each("put {K}/n v"),
    ...each("put --prev-kv {K}/a again", { setup: AC }),
    c("put {K}/in", { stdin: "from stdin\nline 2\n" }),
    c("put {K}/in", { stdin: "" }),
    c("put"),
    c("put --ignore-value {K}/a", { setup: AC }),
    c("put --ignore-value {K}/nope"),
    c("put --ignore-value {K}/a v", { setup: AC }),
    c("put --lease=zz {K}/a v"),
    c("put --lease=1234abcd {K}/a v"),
    c("put --ignore-lease {K}/a v", { setup: AC }),
    { args: ["put", "--", "{K}/dash", "-neg"] },
    { args: ["-w", "json", "put", "--prev-kv", "{K}/a", '<a&b>\u2028\u0001\tq"\\é'], setup: AC },
    { args: ["-w", "fields", "put", "--prev-kv", "{K}/a", "x"], setup: [["put", "{K}/a", '"quoted"\ttab\u0001é']] },
    c("put -h"),
  ],
  del: [
    ...each("del {K}/a", { setup: AC }),
    ...each("del --prev-kv {K}/ --prefix", { setup: AC }),
    c("del {K}/nope"),
    c("del {K}/a {K}/c", { setup: AC, only: "3.5" }),
    c("del --range {K}/a {K}/c", { setup: AC, only: "3.5" }),
    c("del"),
    c("del {K}/a {K}/b {K}/c"),
    c("del --prefix --from-key {K}/a"),
    c("del --prefix {K}/a {K}/b"),
  ],
  compaction: [c("compaction"), c("compaction abc"), c("compaction 1 2"), c("compaction 99999999")],
  global: [
    c("-w yaml get {K}/a", { setup: AC }),
    c("--write-out=json get {K}/a", { setup: AC }),
    c("get {K}/a", { setup: AC, env: { ETCDCTL_WRITE_OUT: "fields" } }),

    c("get {K}/a", { setup: AC, env: { ETCDCTL_DIAL_TIMEOUT: "nonsense" } }),
    c("--dial-timeout=abc put {K}/a"),
    c("--command-timeout 3s get {K}/a", { setup: AC }),
    c("--cert= get {K}/a"),
    c("--cacert /nonexistent/ca.pem get {K}/a"),
    c("--debug get {K}/a", { setup: AC, compare: "stdout" }),
    c("foo"),
    c("gte {K}/a"),
    c("help put"),
    c("version --help"),
  ],
};

describe(`etcd-ts prints what etcdctl v3 (${RELEASE}) prints: get, put, del, compaction, globals`, { skip: NO_ETCDCTL }, () => {
  let cluster: Cluster;
  let eps: string;
  let base: string;

  before(async () => {
    cluster = await startCluster({ size: 1, name: "cli-v3-kv" });
    eps = cluster.endpoints().join(",");
    base = cluster.prefix("v3");
  });
  after(() => cluster.stop());

  async function side(kase: Case, key: string, runner: (args: readonly string[], o: RunOptions) => Promise<Outcome>): Promise<Outcome> {
    for (const step of kase.setup ?? []) {
      const done = await runEtcdctl(["--endpoints", eps, ...step.map((s) => s.replaceAll("{K}", key))]);
      assert.equal(done.code, 0, `setup ${step.join(" ")} failed: ${done.stderr}`);
    }
    const args = kase.args.map((a) => a.replaceAll("{K}", key));
    return runner(["--endpoints", eps, ...args], { ...(kase.stdin === undefined ? {} : { stdin: kase.stdin }), ...(kase.env === undefined ? {} : { env: kase.env }) });
  }

  for (const [group, cases] of Object.entries(GROUPS)) {
    describe(group, { concurrency: 4 }, () => {
      cases.forEach((kase, n) => {
        const skip = kase.only !== undefined && kase.only !== RELEASE ? `etcdctl ${kase.only} only` : false;
        it(kase.args.join(" "), { skip }, async () => {
          const a = `${base}/${group}${n}a`;
          const b = `${base}/${group}${n}b`;
          const [theirs, ours] = await Promise.all([side(kase, a, runEtcdctl), side(kase, b, runOurs)]);
          const names = { [a]: "{K}", [b]: "{K}" };
          const t = normalize(theirs, names);
          const o = normalize(ours, names);
          if (kase.compare === "stdout") assert.deepEqual({ stdout: o.stdout, code: o.code }, { stdout: t.stdout, code: t.code });
          else assert.deepEqual(o, t);
        });
      });
    });
  }

  it("compaction: the same texts for a revision compacted, then one compacted already", async () => {
    const key = `${base}/compact`;
    const put = await runEtcdctl(["--endpoints", eps, "-w", "json", "put", key, "v"]);
    const revision = /"revision":(\d+)/.exec(put.stdout)?.[1] ?? "0";
    const theirs = await runEtcdctl(["--endpoints", eps, "compaction", revision]);
    const again = await runEtcdctl(["--endpoints", eps, "put", key, "w"]);
    assert.equal(again.code, 0);
    const ours = await runOurs(["--endpoints", eps, "compaction", "--physical", String(Number(revision) + 1)]);
    assert.deepEqual(normalize(ours, {}), normalize(theirs, {}));
    const [theirsOld, oursOld] = await Promise.all([runEtcdctl(["--endpoints", eps, "compaction", revision]), runOurs(["--endpoints", eps, "compaction", revision])]);
    assert.equal(oursOld.code, 1);
    assert.deepEqual(normalize(oursOld, {}), normalize(theirsOld, {}));
  });

  it("ETCDCTL_ENDPOINTS is read when --endpoints is not given; both at once are refused, exit 1", async () => {
    const key = `${base}/env`;
    await runEtcdctl(["--endpoints", eps, "put", key, "from-env"]);
    const env = { ETCDCTL_ENDPOINTS: eps };
    const [theirs, ours] = await Promise.all([runEtcdctl(["get", key], { env }), runOurs(["get", key], { env })]);
    assert.deepEqual(ours, theirs);
    assert.equal(ours.stdout, `${key}\nfrom-env\n`);
    const args = ["--endpoints", eps, "get", key];
    const [theirsBoth, oursBoth] = await Promise.all([runEtcdctl(args, { env }), runOurs(args, { env })]);
    assert.deepEqual({ stdout: oursBoth.stdout, code: oursBoth.code }, { stdout: theirsBoth.stdout, code: theirsBoth.code });
    for (const outcome of [theirsBoth, oursBoth]) assert.match(outcome.stderr, /conflicting environment variable.*ETCDCTL_ENDPOINTS/);
  });

  it("an unreachable endpoint ends in 'context deadline exceeded', exit 1, after --command-timeout", async () => {
    const args = ["--endpoints", "127.0.0.1:1", "--command-timeout", "1s", "get", "k"];
    const [theirs, ours] = await Promise.all([runEtcdctl(args), runOurs(args)]);
    assert.deepEqual(normalize(ours, {}), normalize(theirs, {}));
  });

  it("-w protobuf writes the reply's protobuf bytes (reads of the same keys, so the bytes are equal)", async () => {
    const key = `${base}/pb`;
    await runEtcdctl(["--endpoints", eps, "put", `${key}/a`, "1"]);
    await runEtcdctl(["--endpoints", eps, "put", `${key}/b`, "é\u0001"]);
    for (const args of [["get", `${key}/`, "--prefix"], ["get", `${key}/nope`], ["del", `${key}/nope`], ["txn"]]) {
      const options = args[0] === "txn" ? { stdin: `value("${key}/a") = "1"\n\nget ${key}/a\n\nget ${key}/b\n\n` } : {};
      const full = ["--endpoints", eps, "-w", "protobuf", ...args];
      const [theirs, ours] = await Promise.all([runEtcdctl(full, options), runOurs(full, options)]);
      assert.deepEqual(ours, theirs, args.join(" "));
      assert.ok(ours.stdout.length > 0);
    }
  });

  it("a 64-bit ID above 2^53 keeps every digit in -w json (bigint writer)", async () => {
    const out = await runOurs(["--endpoints", eps, "-w", "json", "get", `${base}/none`]);
    const ids = /"cluster_id":(\d+),"member_id":(\d+)/.exec(out.stdout);
    const theirs = await runEtcdctl(["--endpoints", eps, "-w", "json", "get", `${base}/none`]);
    assert.equal(ids?.[1], /"cluster_id":(\d+)/.exec(theirs.stdout)?.[1]);
    assert.equal(ids?.[2], /"member_id":(\d+)/.exec(theirs.stdout)?.[1]);
  });
});
