/**
 * A leader-elected worker: three candidates campaign in one election (compatible with Go's
 * concurrency.Election and `etcdctl elect`); only the leader works. Each leader runs a few rounds
 * of work, stopping at once if its `signal` says leadership may be lost, then resigns and the
 * next candidate in line takes over. An observer prints each leader as the cluster sees it.
 *
 *   ETCD_ENDPOINTS=http://127.0.0.1:2379 npx tsx leader-worker.ts
 */
import { EtcdV3Client } from "etcd-ts";

const ELECTION = "examples/leader/scheduler";
const ROUNDS = 3;
const endpoints = (process.env["ETCD_ENDPOINTS"] ?? "http://127.0.0.1:2379").split(",");
const etcd = new EtcdV3Client({ endpoints });
await etcd.delete("examples/leader/", { prefix: true });

// Everyone can see who leads: the current leader, then each change, in order.
const stopObserving = new AbortController();
const observed: string[] = [];
const observing = (async () => {
  for await (const leader of etcd.election(ELECTION).observe({ signal: stopObserving.signal })) {
    observed.push(leader.value.toString());
    console.log(`observer: leader is ${leader.value.toString()}`);
  }
})();

async function candidate(name: string): Promise<void> {
  const leadership = await etcd.election(ELECTION, { ttl: 5 }).campaign(name);
  console.log(`${name}: elected`);
  for (let round = 1; round <= ROUNDS && !leadership.signal.aborted; round++) {
    // The work; a real worker passes leadership.signal to every call it makes as leader.
    await etcd.put("examples/leader/last-run", `${name} round ${round}`, { signal: leadership.signal });
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  console.log(`${name}: resigning after ${ROUNDS} rounds`);
  await leadership.resign();
}

await Promise.all(["candidate-1", "candidate-2", "candidate-3"].map(candidate));
// The observer may see the last change a moment after the candidates are done.
for (let waited = 0; observed.length < 3 && waited < 5000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
stopObserving.abort();
await observing;
const last = (await etcd.get("examples/leader/last-run")).kvs[0]?.value.toString();
console.log(`leaders in order: ${observed.join(", ")}; last work: ${last ?? "none"}`);
await etcd.delete("examples/leader/", { prefix: true });
await etcd.close();
