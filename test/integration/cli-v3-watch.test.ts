/**
 * etcd-ts's `watch` beside `ETCDCTL_API=3 etcdctl watch`, both as real processes on the same
 * cluster, each on its own key prefix with the same writes: events replayed from a revision
 * (no race with the writer), live events, `-w json` (one line per reply), `-- command` with its
 * ETCD_WATCH_* variables, Ctrl-C, argument errors, `-i`, and a watch canceled by compaction.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startCluster, type Cluster } from "../harness/index.js";
import { NO_ETCDCTL, normalize, runEtcdctl, runOurs, start, type Outcome, type RunOptions } from "./cli-v3-kit.js";

/** The writes each side's prefix gets: a put, an update, a txn of two puts, a delete of the prefix. */
async function writes(eps: string, key: string): Promise<string> {
  const first = await runEtcdctl(["--endpoints", eps, "-w", "json", "put", `${key}/a`, "1"]);
  await runEtcdctl(["--endpoints", eps, "put", `${key}/a`, "2"]);
  await runEtcdctl(["--endpoints", eps, "txn"], { stdin: `\nput ${key}/b x\nput ${key}/c "y z"\n\n\n` });
  await runEtcdctl(["--endpoints", eps, "del", "--prefix", `${key}/`]);
  return /"revision":(\d+)/.exec(first.stdout)?.[1] ?? "0";
}

const lines = (n: number) => (out: string): boolean => out.split("\n").length > n;

describe("etcd-ts's watch does what etcdctl v3's does", { skip: NO_ETCDCTL }, () => {
  let cluster: Cluster;
  let eps: string;
  let base: string;

  before(async () => {
    cluster = await startCluster({ size: 1, name: "cli-v3-watch" });
    eps = cluster.endpoints().join(",");
    base = cluster.prefix("w");
  });
  after(() => cluster.stop());

  /** Both sides watching from their first write's revision until `enough`, then Ctrl-C. */
  async function fromHistory(tag: string, args: (key: string, rev: string) => string[], enough: (out: string) => boolean): Promise<[Outcome, Outcome]> {
    const a = `${base}/${tag}a`;
    const b = `${base}/${tag}b`;
    const [ra, rb] = await Promise.all([writes(eps, a), writes(eps, b)]);
    const theirs = start("etcdctl", ["--endpoints", eps, ...args(a, ra)]);
    const ours = start("ours", ["--endpoints", eps, ...args(b, rb)]);
    await Promise.all([theirs.until(enough), ours.until(enough)]);
    const [t, o] = await Promise.all([theirs.stop(), ours.stop()]);
    const names = { [a]: "{K}", [b]: "{K}" };
    return [normalize(t, names), normalize(o, names)];
  }

  it("replays events from --rev with --prefix, then Ctrl-C ends both the same way", async () => {
    const [theirs, ours] = await fromHistory("h", (k, r) => ["watch", "--prefix", "--rev", r, `${k}/`], lines(20));
    assert.deepEqual(ours, theirs);
    assert.match(ours.stdout, /^PUT\n\{K\}\/a\n1\nPUT\n/);
  });

  it("-w json prints one line per reply, with --prev-kv", async () => {
    // etcd sends the replayed history in one reply; the delete of two keys is one event pair of it.
    const [theirs, ours] = await fromHistory("j", (k, r) => ["-w", "json", "watch", "--prev-kv", "--prefix", `${k}/`, "--rev", r], (out) => out.split('"type":1').length > 2);
    assert.deepEqual(ours, theirs);
    for (const line of ours.stdout.trimEnd().split("\n")) assert.match(line, /^\{"Header":\{.*\},"Events":\[.*\],"CompactRevision":N,"Canceled":false,"Created":false\}$/);
    assert.match(ours.stdout, /"type":1/);
  });

  it("-w fields and a range end", async () => {
    const [theirs, ours] = await fromHistory("f", (k, r) => ["-w", "fields", "watch", "--rev", r, `${k}/a`, `${k}/c`], (out) => out.split('"Type"').length > 5);
    assert.deepEqual(ours, theirs);
  });

  it("-- command runs once per event with ETCD_WATCH_* set as etcdctl sets them", async () => {
    const script = 'echo "rev=$ETCD_WATCH_REVISION type=$ETCD_WATCH_EVENT_TYPE key=$ETCD_WATCH_KEY value=$ETCD_WATCH_VALUE"';
    const [theirs, ours] = await fromHistory("x", (k, r) => ["watch", "--rev", r, "--prefix", `${k}/`, "--", "sh", "-c", script], (out) => out.split("rev=").length > 7);
    const mask = (o: Outcome): Outcome => ({ ...o, stdout: o.stdout.replace(/rev=\d+/g, "rev=N") });
    assert.deepEqual(mask(ours), mask(theirs));
    assert.match(ours.stdout, /type="PUT" key="\{K\}\/c" value="y z"/);
  });

  it("ETCDCTL_WATCH_KEY stands in for the key", async () => {
    const a = `${base}/enva`;
    const b = `${base}/envb`;
    const [ra, rb] = await Promise.all([writes(eps, a), writes(eps, b)]);
    const theirs = start("etcdctl", ["--endpoints", eps, "watch", "--rev", ra], { env: { ETCDCTL_WATCH_KEY: `${a}/a` } });
    const ours = start("ours", ["--endpoints", eps, "watch", "--rev", rb], { env: { ETCDCTL_WATCH_KEY: `${b}/a` } });
    await Promise.all([theirs.until(lines(8)), ours.until(lines(8))]);
    const names = { [a]: "{K}", [b]: "{K}" };
    assert.deepEqual(normalize(await ours.stop(), names), normalize(await theirs.stop(), names));
  });

  it("sees a write made after it started", async () => {
    const a = `${base}/livea`;
    const b = `${base}/liveb`;
    const theirs = start("etcdctl", ["--endpoints", eps, "watch", a]);
    const ours = start("ours", ["--endpoints", eps, "watch", b]);
    // Time for both processes to start and create their watch (node with tsx is the slower one).
    await new Promise((resolve) => setTimeout(resolve, 4000));
    await Promise.all([runEtcdctl(["--endpoints", eps, "put", a, "live"]), runEtcdctl(["--endpoints", eps, "put", b, "live"])]);
    await Promise.all([theirs.until(lines(3)), ours.until(lines(3))]);
    const names = { [a]: "{K}", [b]: "{K}" };
    const o = normalize(await ours.stop(), names);
    assert.deepEqual(o, normalize(await theirs.stop(), names));
    assert.equal(o.stdout, "PUT\n{K}\nlive\n");
  });

  it("-i: a `progress` line makes each running watch print etcd's progress revision after its events", async () => {
    const a = `${base}/pa`;
    const b = `${base}/pb`;
    const revision = async (key: string): Promise<string> => /"revision":(\d+)/.exec((await runEtcdctl(["--endpoints", eps, "-w", "json", "put", key, "v"])).stdout)?.[1] ?? "0";
    const [ra, rb] = await Promise.all([revision(a), revision(b)]);
    // From the put's revision, so that the event comes whenever the watch is created.
    const theirs = start("etcdctl", ["--endpoints", eps, "watch", "-i"], { stdin: `watch --rev ${ra} ${a}\n`, keepStdinOpen: true });
    const ours = start("ours", ["--endpoints", eps, "watch", "-i"], { stdin: `watch --rev ${rb} ${b}\n`, keepStdinOpen: true });
    await Promise.all([theirs.until(lines(3)), ours.until(lines(3))]);
    theirs.write("progress\n");
    ours.write("progress\n");
    const progressed = (out: string): boolean => out.includes("progress notify: ");
    await Promise.all([theirs.until(progressed), ours.until(progressed)]);
    const names = { [a]: "{K}", [b]: "{K}" };
    const mask = (o: Outcome): Outcome => ({ ...o, stdout: o.stdout.replace(/^progress notify: \d+$/gm, "progress notify: N") });
    const o = mask(normalize(await ours.stop(), names));
    assert.deepEqual(o, mask(normalize(await theirs.stop(), names)));
    assert.equal(o.stdout, "PUT\n{K}\nv\nprogress notify: N\n");
  });

  describe("argument errors", { concurrency: 4 }, () => {
    const release = runEtcdctl(["version"]).then((o) => /etcdctl version: (\d+\.\d+)/.exec(o.stdout)?.[1]);
    const cases: { args: string[]; env?: Record<string, string>; stdin?: string; only?: string }[] = [
      { args: ["watch"] },
      { args: ["watch", "k", "--"] },
      { args: ["watch", "--", "echo"] },
      { args: ["watch", "a", "b", "--prefix"] },
      { args: ["watch", "k"], env: { ETCDCTL_WATCH_KEY: "k" } },
      { args: ["watch"], env: { ETCDCTL_WATCH_RANGE_END: "z" } },
      { args: ["watch", "-i"], stdin: "watch k\n" },
      { args: ["watch", "-i"], stdin: "\nnothing\nwatch\n" },
      // The usage shown lists --progress-notify, which etcdctl 3.4 does not have.
      { args: ["watch", "--rev=x", "k"], only: "3.5" },
    ];
    for (const kase of cases) {
      it(`${kase.args.join(" ")}${kase.env === undefined ? "" : ` ${JSON.stringify(kase.env)}`}${kase.stdin === undefined ? "" : ` <<< ${JSON.stringify(kase.stdin)}`}`, async (t) => {
        if (kase.only !== undefined && kase.only !== (await release)) {
          t.skip(`etcdctl ${kase.only} only`);
          return;
        }
        const options: RunOptions = { ...(kase.env === undefined ? {} : { env: kase.env }), ...(kase.stdin === undefined ? {} : { stdin: kase.stdin }) };
        const [theirs, ours] = await Promise.all([runEtcdctl(["--endpoints", eps, ...kase.args], options), runOurs(["--endpoints", eps, ...kase.args], options)]);
        assert.deepEqual(normalize(ours, {}), normalize(theirs, {}));
      });
    }
  });

  it("a watch from a compacted revision is canceled: same stderr, -w json line and exit 5", async () => {
    const key = `${base}/compacted`;
    const put = await runEtcdctl(["--endpoints", eps, "-w", "json", "put", key, "v"]);
    const revision = /"revision":(\d+)/.exec(put.stdout)?.[1] ?? "0";
    assert.equal((await runEtcdctl(["--endpoints", eps, "compaction", revision])).code, 0);
    const args = ["--endpoints", eps, "-w", "json", "watch", "--rev", "1", key];
    const [theirs, ours] = await Promise.all([start("etcdctl", args).ended, start("ours", args).ended]);
    assert.equal(ours.code, 5);
    assert.deepEqual(normalize(ours, {}), normalize(theirs, {}));
  });
});
