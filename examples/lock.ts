/**
 * A distributed lock: two workers (two clients, as two processes would have) each add 1 to a
 * counter 15 times with a plain read-then-write, which loses updates without mutual exclusion.
 * Each increment runs under `etcd.withLock`, a lock compatible with Go's concurrency.Mutex and
 * `etcdctl lock` of the same name. The lock's `signal` aborts if the lock may have been lost
 * (its session's lease could not be renewed in time), so work done under it can stop.
 *
 *   ETCD_ENDPOINTS=http://127.0.0.1:2379 npx tsx lock.ts
 */
import { EtcdV3Client } from "etcd-ts";

const LOCK = "examples/lock/counter";
const COUNTER = "examples/lock/value";
const ROUNDS = 15;
const endpoints = (process.env["ETCD_ENDPOINTS"] ?? "http://127.0.0.1:2379").split(",");

let holders = 0;
let mostHolders = 0;

async function worker(name: string): Promise<void> {
  const etcd = new EtcdV3Client({ endpoints });
  try {
    for (let i = 0; i < ROUNDS; i++) {
      await etcd.withLock(LOCK, async (lock) => {
        holders++;
        mostHolders = Math.max(mostHolders, holders);
        // A read-modify-write that is only safe because of the lock.
        const current = Number((await etcd.get(COUNTER, { signal: lock.signal })).kvs[0]?.value.toString() ?? "0");
        await new Promise((resolve) => setTimeout(resolve, 5)); // widen the race a lock must close
        await etcd.put(COUNTER, String(current + 1), { signal: lock.signal });
        holders--;
      });
    }
    console.log(`${name} done`);
  } finally {
    await etcd.close();
  }
}

const admin = new EtcdV3Client({ endpoints });
await admin.delete("examples/lock/", { prefix: true });
await Promise.all([worker("worker-a"), worker("worker-b")]);
const total = (await admin.get(COUNTER)).kvs[0]?.value.toString();
console.log(`counter = ${total} after 2 workers × ${ROUNDS} locked increments; at most ${mostHolders} held the lock at once`);
await admin.delete("examples/lock/", { prefix: true });
await admin.close();
