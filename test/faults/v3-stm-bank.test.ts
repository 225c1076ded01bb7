/**
 * The STM bank under faults: 6 clients make random transfers among 8 accounts with `etcd.stm`
 * (default isolation) for ~20 s while the leader is SIGKILLed and restarted, then another member
 * is SIGSTOPped and resumed. A separate auditor reads every account in one range read (one
 * snapshot) throughout: the total never changes and no account goes below zero, at any snapshot
 * and at the end. Transfers that fail (OUTCOME_UNKNOWN, UNAVAILABLE… during the faults) are
 * counted, not retried: a commit is one txn, so even one of unknown outcome moves all or nothing.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { EtcdError, EtcdV3Client } from "../../src/index.js";
import type { StmIsolation } from "../../src/v3/concurrency/stm.js";
import { sleep, startCluster, type Cluster } from "../harness/index.js";

const ACCOUNTS = 8;
const INITIAL = 100;
const CLIENTS = 6;
const RUN_MS = 20_000;
/** The checking level under test; BANK_ISOLATION=read-committed (which checks nothing) shows the test can fail. */
const ISOLATION = (process.env.BANK_ISOLATION ?? "snapshot") as StmIsolation;

let cluster: Cluster;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
before(async () => {
  process.on("unhandledRejection", onUnhandled);
  cluster = await startCluster({ size: 3 });
});
after(async () => {
  process.off("unhandledRejection", onUnhandled);
  await cluster.stop();
});

interface Tally {
  commits: number;
  runs: number;
  skipped: number;
  failures: Map<string, number>;
  commitsAfterFaults: number;
}

/** Each client starts on a different member, so faults hit some clients' current member and not others'. */
function clientFor(i: number): EtcdV3Client {
  const endpoints = cluster.endpoints();
  const rotated = [...endpoints.slice(i % endpoints.length), ...endpoints.slice(0, i % endpoints.length)];
  return new EtcdV3Client({ endpoints: rotated, requestTimeout: 5000 });
}

async function transfers(etcd: EtcdV3Client, account: (i: number) => string, stop: AbortSignal, tally: Tally, faultsOver: () => boolean): Promise<void> {
  const over = (): boolean => stop.aborted;
  while (!over()) {
    const from = Math.floor(Math.random() * ACCOUNTS);
    const to = (from + 1 + Math.floor(Math.random() * (ACCOUNTS - 1))) % ACCOUNTS;
    const amount = 1 + Math.floor(Math.random() * 30);
    try {
      const moved = await etcd.stm(
        async (tx) => {
          tally.runs++;
          const a = Number((await tx.get(account(from)))?.toString());
          const b = Number((await tx.get(account(to)))?.toString());
          if (a < amount) return false;
          tx.put(account(from), String(a - amount));
          tx.put(account(to), String(b + amount));
          return true;
        },
        { signal: stop, isolation: ISOLATION },
      );
      if (moved) {
        tally.commits++;
        if (faultsOver()) tally.commitsAfterFaults++;
      } else tally.skipped++;
    } catch (error) {
      if (over()) return;
      const code = error instanceof EtcdError ? error.code : `not an EtcdError: ${String(error)}`;
      tally.failures.set(code, (tally.failures.get(code) ?? 0) + 1);
      await sleep(50);
    }
  }
}

test("6 clients' STM transfers keep the total and every balance >= 0 through a leader kill and a member SIGSTOP", async (t) => {
  const prefix = cluster.prefix("bank/");
  const account = (i: number): string => `${prefix}${String(i).padStart(2, "0")}`;
  const setup = new EtcdV3Client({ endpoints: cluster.endpoints() });
  for (let i = 0; i < ACCOUNTS; i++) await setup.put(account(i), String(INITIAL));
  const total = ACCOUNTS * INITIAL;

  const stop = new AbortController();
  const tally: Tally = { commits: 0, runs: 0, skipped: 0, failures: new Map(), commitsAfterFaults: 0 };
  let faultsOver = false;
  const clients = Array.from({ length: CLIENTS }, (_, i) => clientFor(i));
  const work = clients.map((c) => transfers(c, account, stop.signal, tally, () => faultsOver));

  // The auditor: one range read is one snapshot, so each must show the full total.
  const audits: string[] = [];
  let snapshots = 0;
  const audit = (async () => {
    while (!stop.signal.aborted) {
      try {
        const r = await setup.get(prefix, { prefix: true, timeout: 5000 });
        const balances = r.kvs.map((kv) => Number(kv.value.toString()));
        const sum = balances.reduce((x, y) => x + y, 0);
        snapshots++;
        if (r.kvs.length !== ACCOUNTS || sum !== total || balances.some((b) => b < 0)) audits.push(`revision ${r.header.revision}: ${balances.join(" ")} (sum ${sum})`);
      } catch {
        // An auditor read lost to a fault says nothing about the invariant.
      }
      await sleep(200);
    }
  })();

  const t0 = performance.now();
  const phase = (name: string): void => {
    t.diagnostic(`${(performance.now() - t0).toFixed(0)} ms: ${name}; ${tally.commits} commits so far`);
  };
  await sleep(3000);
  const leader = await cluster.leader();
  phase(`SIGKILL leader ${leader}`);
  await cluster.member(leader).kill();
  await sleep(3000);
  phase(`restart ${leader}`);
  await cluster.member(leader).restart();
  await sleep(2000);
  const paused = (leader + 1) % cluster.size;
  phase(`SIGSTOP ${paused}`);
  await cluster.member(paused).pause();
  await sleep(3000);
  phase(`SIGCONT ${paused}`);
  await cluster.member(paused).resume();
  faultsOver = true;
  await sleep(Math.max(0, RUN_MS - (performance.now() - t0)));
  phase("stop");
  stop.abort(new Error("bank test over"));
  await Promise.all([...work, audit]);
  await cluster.waitHealthy();

  const final = await setup.get(prefix, { prefix: true });
  const balances = final.kvs.map((kv) => Number(kv.value.toString()));
  t.diagnostic(
    `${tally.commits} transfers committed (${tally.commitsAfterFaults} after the faults), ${tally.skipped} skipped for want of funds, ` +
      `${tally.runs} runs in all, failures ${JSON.stringify([...tally.failures])}, ${snapshots} audited snapshots; final ${balances.join(" ")}`,
  );
  await Promise.all(clients.map((c) => c.close()));
  await setup.close();
  assert.deepEqual(audits, [], "every snapshot holds the whole total with no negative balance");
  assert.equal(balances.length, ACCOUNTS);
  assert.equal(balances.reduce((x, y) => x + y, 0), total);
  assert.ok(balances.every((b) => b >= 0));
  assert.ok(tally.commits >= 100, `only ${tally.commits} transfers committed`);
  assert.ok(tally.commitsAfterFaults > 0, "transfers resumed after the faults");
  assert.ok(snapshots >= 20, `only ${snapshots} snapshots audited`);
  assert.ok(![...tally.failures.keys()].some((code) => code.startsWith("not an EtcdError")), "every failure is typed");
  assert.deepEqual(unhandled, []);
});
