/**
 * `lock` and `elect` as two processes beside `ETCDCTL_API=3 etcdctl`: each tool waits for a lock
 * or leadership the other holds, and gets it once the other is interrupted; observers see both
 * tools' leaders; the key printed and the exec variables follow Go's layout.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { run } from "../../src/cli/run.js";
import { sleep, startCluster, type Cluster } from "../harness/index.js";
import { etcdctl3, version } from "./cli-admin-kit.js";

/** A long-running command: its output so far, a way to stop it (SIGINT / abort) and its end. */
interface Running {
  readonly output: () => string;
  readonly stop: () => void;
  readonly done: Promise<number>;
}

function theirs(args: readonly string[]): Running {
  const child: ChildProcessWithoutNullStreams = spawn(etcdctl3(), [...args], { env: { PATH: "/usr/bin:/bin", ETCDCTL_API: "3" } });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString().split("\n").filter((l) => !l.startsWith('{"level"')).join("\n")));
  const done = new Promise<number>((resolve) => child.on("close", (code) => { resolve(code ?? 1); }));
  return { output: () => out, stop: () => child.kill("SIGINT"), done };
}

function ours(args: readonly string[]): Running {
  const interrupt = new AbortController();
  let out = "";
  const done = run([...args], {
    stdout: (t) => (out += t),
    stderr: (t) => (out += t),
    env: { ETCDCTL_API: "3" },
    readStdin: () => Promise.resolve(""),
    readSecret: () => Promise.resolve(""),
    trapInterrupt: () => interrupt.signal,
  });
  return { output: () => out, stop: () => { interrupt.abort(); }, done };
}

async function until(check: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe(`lock and elect against etcdctl ${version()}, two processes`, () => {
  let cluster: Cluster;
  let eps: string;

  before(async () => {
    cluster = await startCluster({ size: 3, name: "cli-lock" });
    eps = `--endpoints=${cluster.endpoints().join(",")}`;
  });
  after(() => cluster.stop());

  for (const [first, second, name] of [
    [ours, theirs, "etcd-ts holds, etcdctl waits"],
    [theirs, ours, "etcdctl holds, etcd-ts waits"],
  ] as const) {
    it(`lock: ${name}, then gets it once the holder is interrupted`, async () => {
      const lockName = `lk-${first === ours ? "a" : "b"}`;
      const holder = first([eps, "lock", lockName]);
      await until(() => holder.output().startsWith(`${lockName}/`), "the first holder");
      assert.match(holder.output(), new RegExp(`^${lockName}/[0-9a-f]{1,16}\\n\\n$`));
      const waiter = second([eps, "lock", lockName, "--", "sh", "-c", 'echo "held $ETCD_LOCK_KEY"']);
      await sleep(1500);
      assert.equal(waiter.output(), "", "the second waits while the first holds the lock");
      holder.stop();
      assert.equal(await holder.done, 0);
      assert.equal(await waiter.done, 0);
      assert.match(waiter.output(), new RegExp(`^held ${lockName}/[0-9a-f]{1,16}\\n$`));
    });
  }

  it("elect: an etcd-ts observer sees etcdctl's leader, then etcd-ts's own after etcdctl is interrupted; etcdctl's observer sees both", async () => {
    const watcherOurs = ours([eps, "elect", "-l", "el"]);
    const watcherTheirs = theirs([eps, "elect", "-l", "el"]);
    const leaderTheirs = theirs([eps, "elect", "el", "from-etcdctl"]);
    await until(() => leaderTheirs.output().includes("from-etcdctl"), "etcdctl's leadership");
    await until(() => watcherOurs.output().includes("from-etcdctl"), "our observer");
    const leaderOurs = ours([eps, "elect", "el", "from-etcd-ts"]);
    await sleep(1500);
    assert.equal(leaderOurs.output(), "", "etcd-ts campaigns while etcdctl leads");
    leaderTheirs.stop();
    assert.equal(await leaderTheirs.done, 0);
    await until(() => leaderOurs.output().includes("from-etcd-ts"), "our leadership");
    assert.match(leaderOurs.output(), /^el\/[0-9a-f]{1,16}\nfrom-etcd-ts\n$/);
    await until(() => watcherTheirs.output().includes("from-etcd-ts") && watcherOurs.output().includes("from-etcd-ts"), "both observers");
    const shape = (text: string): string => text.replace(/el\/[0-9a-f]+/g, "el/ID");
    assert.equal(shape(watcherOurs.output()), "el/ID\nfrom-etcdctl\nel/ID\nfrom-etcd-ts\n");
    assert.equal(shape(watcherOurs.output()), shape(watcherTheirs.output()));
    for (const r of [leaderOurs, watcherOurs, watcherTheirs]) r.stop();
    assert.deepEqual(await Promise.all([leaderOurs.done, watcherOurs.done]), [0, 0]);
    await watcherTheirs.done;
  });
});
