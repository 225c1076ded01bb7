/**
 * A configuration store with live updates: load every key under a prefix once, then follow
 * changes with a watch that starts exactly after the snapshot's revision, so no change between
 * the read and the watch is missed or applied twice (even if the client fails over to another
 * member meanwhile: etcd-ts resumes the watch after the last event it delivered).
 *
 *   ETCD_ENDPOINTS=http://127.0.0.1:2379 npx tsx config-store.ts
 */
import { EtcdV3Client } from "etcd-ts";

const PREFIX = "examples/config-store/";
const endpoints = (process.env["ETCD_ENDPOINTS"] ?? "http://127.0.0.1:2379").split(",");
const etcd = new EtcdV3Client({ endpoints });

/** The live configuration: key (without the prefix) → value. */
const config = new Map<string, string>();

// Seed a configuration as an operator would.
await etcd.delete(PREFIX, { prefix: true });
await etcd.put(`${PREFIX}log.level`, "info");
await etcd.put(`${PREFIX}http.port`, "8080");

// 1. A consistent snapshot of the prefix, and the revision it was taken at.
const snapshot = await etcd.get(PREFIX, { prefix: true });
for (const kv of snapshot.kvs) config.set(kv.key.toString().slice(PREFIX.length), kv.value.toString());
console.log(`loaded ${config.size} keys at revision ${snapshot.header.revision}`);

// 2. Every change after that revision, in order.
const stop = new AbortController();
const following = (async () => {
  for await (const ev of etcd.watch(PREFIX, { prefix: true, startRevision: snapshot.header.revision + 1n, signal: stop.signal })) {
    const name = ev.kv.key.toString().slice(PREFIX.length);
    if (ev.type === "put") config.set(name, ev.kv.value.toString());
    else config.delete(name);
    console.log(`${ev.type} ${name}${ev.type === "put" ? ` = ${ev.kv.value.toString()}` : ""} (revision ${ev.kv.modRevision})`);
    if (name === "done") stop.abort();
  }
})();

// 3. Someone changes the configuration.
await etcd.put(`${PREFIX}log.level`, "debug");
await etcd.put(`${PREFIX}feature.search`, "on");
await etcd.delete(`${PREFIX}http.port`);
await etcd.put(`${PREFIX}done`, "1");

await following; // ends without an error when the signal aborts it
config.delete("done");
console.log(`final config: ${JSON.stringify(Object.fromEntries([...config].sort()))}`);
await etcd.delete(PREFIX, { prefix: true });
await etcd.close();
