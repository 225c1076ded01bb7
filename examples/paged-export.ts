/**
 * Exporting a large prefix as JSON lines, a page at a time: `getAll` reads `pageSize` keys per
 * request, every page at the revision of the first, so the export is one consistent snapshot
 * however long it takes, and memory holds one page at most.
 *
 *   ETCD_ENDPOINTS=http://127.0.0.1:2379 npx tsx paged-export.ts [file]
 */
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EtcdV3Client } from "etcd-ts";

const PREFIX = "examples/export/";
const KEYS = 2500;
const endpoints = (process.env["ETCD_ENDPOINTS"] ?? "http://127.0.0.1:2379").split(",");
const etcd = new EtcdV3Client({ endpoints });
const file = process.argv[2] ?? join(tmpdir(), `etcd-export-${process.pid}.jsonl`);

// Some data to export: 2,500 keys written 100 per transaction.
await etcd.delete(PREFIX, { prefix: true });
for (let start = 0; start < KEYS; start += 100) {
  const puts = Array.from({ length: 100 }, (_, i) => ({ put: { key: `${PREFIX}item/${String(start + i).padStart(5, "0")}`, value: JSON.stringify({ n: start + i }) } }));
  await etcd.txn({ compare: [], success: puts });
}
const written = await etcd.get(PREFIX, { prefix: true, countOnly: true });

// A write during the export does not show in it: every page is read at the first page's revision.
const out = createWriteStream(file);
let count = 0;
let revision = 0n;
for await (const kv of etcd.getAll(PREFIX, { pageSize: 1000 })) {
  if (count === 0) await etcd.put(`${PREFIX}item/99999`, "written during the export");
  revision = kv.modRevision > revision ? kv.modRevision : revision;
  const line = JSON.stringify({ key: kv.key.toString(), value: kv.value.toString(), modRevision: kv.modRevision.toString() });
  if (!out.write(`${line}\n`)) await once(out, "drain");
  count++;
}
out.end();
await once(out, "finish");
console.log(`exported ${count} of ${written.count} keys (newest modRevision ${revision}) to ${file}`);
await etcd.delete(PREFIX, { prefix: true });
await etcd.close();
