/**
 * `make-mirror` beside `ETCDCTL_API=3 etcdctl make-mirror`, two processes at once: each mirrors
 * the same source prefix of one cluster into its own prefix of a second cluster while keys are
 * written, updated, deleted and written in one transaction; the two copies must end up equal,
 * and so must both tools' errors.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { EtcdV3Client } from "../../src/index.js";
import { sleep, startCluster, type Cluster } from "../harness/index.js";
import { etcdctl, etcdctl3, masked, ours, version } from "./cli-admin-kit.js";

async function waitFor(check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out waiting for the mirror");
    await sleep(100);
  }
}

describe(`make-mirror beside etcdctl ${version()}`, () => {
  let source: Cluster;
  let target: Cluster;
  let src: EtcdV3Client;
  let dst: EtcdV3Client;

  before(async () => {
    [source, target] = await Promise.all([startCluster({ size: 1, name: "mirror-src" }), startCluster({ size: 1, name: "mirror-dst" })]);
    src = new EtcdV3Client({ endpoints: source.endpoints() });
    dst = new EtcdV3Client({ endpoints: target.endpoints() });
  });
  after(async () => {
    await Promise.all([src.close(), dst.close()]);
    await Promise.all([source.stop(), target.stop()]);
  });

  const copy = async (prefix: string): Promise<string[]> => (await dst.get(prefix, { prefix: true })).kvs.map((kv) => `${kv.key.toString().slice(prefix.length)}=${kv.value.toString()}`);

  it("copies the prefix, then follows puts, deletes and a transaction, as etcdctl's does", async () => {
    for (const k of ["a", "b", "c"]) await src.put(`/m/${k}`, `v-${k}`);
    await src.put("/other/x", "not mirrored");
    const child = spawn(etcdctl3(), [`--endpoints=${source.endpoints().join(",")}`, "make-mirror", "--prefix=/m/", "--dest-prefix=/e/", target.clientUrl(0)], { env: { PATH: "/usr/bin:/bin", ETCDCTL_API: "3" } });
    const stop = new AbortController();
    const mine = (async () => {
      const { run } = await import("../../src/cli/run.js");
      let stderr = "";
      const code = await run([`--endpoints=${source.endpoints().join(",")}`, "make-mirror", "--prefix=/m/", "--dest-prefix=/o/", target.clientUrl(0)], {
        stdout: () => undefined,
        stderr: (t) => (stderr += t),
        env: { ETCDCTL_API: "3" },
        readStdin: () => Promise.resolve(""),
        readSecret: () => Promise.resolve(""),
        trapInterrupt: () => stop.signal,
      });
      return { code, stderr };
    })();
    try {
      await waitFor(async () => (await copy("/e/")).length === 3 && (await copy("/o/")).length === 3);
      await src.put("/m/b", "v-b2");
      await src.delete("/m/a");
      await src.txn({ success: [{ put: { key: "/m/t1", value: "1" } }, { put: { key: "/m/t2", value: "2" } }, { delete: { key: "/m/c" } }] });
      await src.put("/m/d", "v-d");
      const expected = ["b=v-b2", "d=v-d", "t1=1", "t2=2"];
      await waitFor(async () => JSON.stringify(await copy("/e/")) === JSON.stringify(expected) && JSON.stringify(await copy("/o/")) === JSON.stringify(expected));
      assert.deepEqual(await copy("/o/"), await copy("/e/"));
      assert.equal((await dst.get("/other/", { prefix: true })).count, 0n);
      // One destination transaction per source revision: the three changes of the txn landed together.
      const [t1, t2] = (await dst.get("/o/t", { prefix: true })).kvs;
      assert.equal(t1?.modRevision, t2?.modRevision);
    } finally {
      child.kill("SIGINT");
      stop.abort();
    }
    assert.deepEqual(await mine, { code: 0, stderr: "" });
  });

  it("argument errors", async () => {
    const eps = `--endpoints=${source.endpoints().join(",")}`;
    for (const args of [["make-mirror"], ["make-mirror", "a", "b"], ["make-mirror", "--dest-prefix=/x/", "--no-dest-prefix", target.clientUrl(0)]]) {
      const [theirs, mine] = [await etcdctl([eps, ...args]), await ours([eps, ...args])];
      assert.deepEqual(masked(mine), masked(theirs), args.join(" "));
    }
  });
});
