/**
 * Service registration with a lease: each instance writes its address under a key bound to a
 * lease and keeps the lease alive; when the instance stops (cleanly: it revokes the lease) or dies
 * (its keep-alives stop: the lease expires after its TTL), etcd deletes the key, and clients that
 * watch the service's prefix see it leave.
 *
 *   ETCD_ENDPOINTS=http://127.0.0.1:2379 npx tsx service-registry.ts
 */
import { EtcdV3Client, type LeaseKeepAlive } from "etcd-ts";

const PREFIX = "examples/services/api/";
const TTL_SECONDS = 2;
const endpoints = (process.env["ETCD_ENDPOINTS"] ?? "http://127.0.0.1:2379").split(",");
const etcd = new EtcdV3Client({ endpoints });

/** A registered instance: its lease and the keep-alive that holds it. */
interface Registration {
  readonly name: string;
  readonly lease: bigint;
  readonly keepAlive: LeaseKeepAlive;
}

async function register(name: string, address: string): Promise<Registration> {
  const { id } = await etcd.lease.grant(TTL_SECONDS);
  await etcd.put(`${PREFIX}${name}`, address, { lease: id });
  const keepAlive = etcd.lease.keepAlive(id);
  // `lost` resolves if the lease may have expired (e.g. the cluster was unreachable for a TTL):
  // a real service would register again.
  void keepAlive.lost.then((error) => {
    console.log(`${name}: registration lost (${error.code})`);
  });
  console.log(`registered ${name} at ${address} with lease ${id.toString(16)} (TTL ${TTL_SECONDS} s)`);
  return { name, lease: id, keepAlive };
}

await etcd.delete(PREFIX, { prefix: true });
const discovery = await etcd.get(PREFIX, { prefix: true });
const stop = new AbortController();
const left: string[] = [];
const watching = (async () => {
  for await (const ev of etcd.watch(PREFIX, { prefix: true, startRevision: discovery.header.revision + 1n, signal: stop.signal })) {
    const name = ev.kv.key.toString().slice(PREFIX.length);
    console.log(ev.type === "put" ? `discovered ${name} at ${ev.kv.value.toString()}` : `${name} left`);
    if (ev.type === "delete") left.push(name);
    if (left.length === 2) stop.abort();
  }
})();

const a = await register("instance-a", "10.0.0.1:8080");
const b = await register("instance-b", "10.0.0.2:8080");
// Kept alive well past the TTL: both are still registered.
await new Promise((resolve) => setTimeout(resolve, TTL_SECONDS * 1500));
const live = await etcd.get(PREFIX, { prefix: true, keysOnly: true });
console.log(`after ${TTL_SECONDS * 1.5} s: ${live.kvs.length} instances registered`);

// instance-a shuts down cleanly: revoking the lease deletes its key at once.
a.keepAlive.close();
await etcd.lease.revoke(a.lease);
// instance-b "crashes": its keep-alives stop, and etcd expires the lease after its TTL.
const crashed = performance.now();
b.keepAlive.close();
await watching;
console.log(`instance-b expired ${((performance.now() - crashed) / 1000).toFixed(1)} s after its last keep-alive stopped`);
await etcd.close();
