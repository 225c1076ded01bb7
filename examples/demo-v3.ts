/**
 * The v3 part of `npm run demo`: the same cluster through etcd's gRPC API — put and get, a
 * transaction, a prefix watch and a lease kept alive — while the member in use is SIGSTOPped.
 */
import { EtcdError, EtcdV3Client } from "../src/index.js";
import type { Cluster } from "../test/harness/index.js";

/** Runs the v3 demo on `c`, printing through `say`; leaves every member running. */
export async function demoV3(c: Cluster, say: (text: string) => void): Promise<void> {
  let inUse = "";
  const etcd = new EtcdV3Client({
    endpoints: c.endpoints(),
    onEvent: (ev) => {
      if (ev.type === "member-chosen") inUse = ev.endpoint;
      if (ev.type === "member-set-aside") say(`  engine: ${ev.endpoint} set aside (${ev.reason})`);
      if (ev.type === "member-chosen" && ev.previous !== undefined) say(`  engine: now using ${ev.endpoint}`);
    },
  });
  try {
    const put = await etcd.put("demo/v3/greeting", "hello");
    const got = await etcd.get("demo/v3/greeting");
    say(`put then get -> ${got.kvs[0]?.value.toString() ?? "?"} (revision ${put.header.revision}, a bigint)`);

    const swap = await etcd.txn({
      compare: [{ key: "demo/v3/greeting", target: "value", result: "==", value: "hello" }],
      success: [{ put: { key: "demo/v3/greeting", value: "hello again" } }],
      failure: [{ get: { key: "demo/v3/greeting" } }],
    });
    say(`txn compare-and-swap succeeded: ${swap.succeeded}`);

    const lease = await etcd.lease.grant(5);
    const keepAlive = etcd.lease.keepAlive(lease.id);
    let lost = false;
    void keepAlive.lost.then(() => (lost = true));
    await etcd.put("demo/v3/session", "alive", { lease: lease.id });
    say(`lease ${lease.id.toString(16)} granted for ${lease.ttl} s and kept alive on the client's one keep-alive stream`);

    const stop = new AbortController();
    const revisions: bigint[] = [];
    const watching = (async () => {
      for await (const ev of etcd.watch("demo/v3/n/", { prefix: true, startRevision: put.header.revision + 1n, signal: stop.signal })) {
        revisions.push(ev.kv.modRevision);
      }
    })();

    const victim = c.endpoints().indexOf(inUse);
    say(`SIGSTOP member ${victim} (${inUse}), the one in use, with writes and the watch going on`);
    await c.member(victim).pause();
    const times: string[] = [];
    let acknowledged = 0;
    for (let n = 0; n < 10; n++) {
      const t0 = performance.now();
      try {
        await etcd.put(`demo/v3/n/${n}`, String(n));
        acknowledged++;
        times.push((performance.now() - t0).toFixed(0));
      } catch (error) {
        if (!(error instanceof EtcdError && error.code === "OUTCOME_UNKNOWN")) throw error;
        times.push(`${(performance.now() - t0).toFixed(0)} (OUTCOME_UNKNOWN)`);
      }
    }
    say(`the next 10 puts took (ms): ${times.join(", ")}`);
    await c.member(victim).resume();
    await new Promise((resolve) => setTimeout(resolve, 500));
    stop.abort();
    await watching;
    const ordered = revisions.every((r, i) => i === 0 || r > (revisions[i - 1] ?? 0n));
    say(`the v3 watch delivered ${revisions.length} events for ${acknowledged} acknowledged puts, in revision order: ${ordered}`);
    const ttl = await etcd.lease.timeToLive(lease.id);
    say(`the lease is still alive (${ttl.ttl} s left, lost reported: ${lost}); closing its keep-alive`);
    keepAlive.close();
    await etcd.lease.revoke(lease.id);
  } finally {
    await etcd.close();
  }
}
