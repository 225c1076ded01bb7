/**
 * v3 watch scale, in a child process of its own (run with --expose-gc): 10,000 watchers on one
 * etcd-ts v3 client, each on its own key, all sharing the client's gRPC watch stream. The same
 * measures as the v2 child. Exits with code 3 and a reason on stderr when `EtcdV3Client` is not
 * exported yet, so the parent can print why the table is missing.
 */
import { setMaxListeners } from "node:events";
import { countError, type ErrorCounts } from "./errors.js";
import { sleep } from "./stats.js";
import { loadV3, NO_V3_EXIT } from "./v3.js";
import { addErrors, Arrivals, collect, summary, writeAll } from "./watch-common.js";
import type { WatchResult, WatchSpec } from "./watch-scale.js";

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? "{}") as WatchSpec;
  const v3 = await loadV3();
  if (!v3.ok) {
    process.stderr.write(`${v3.reason}\n`);
    process.exitCode = NO_V3_EXIT;
    return;
  }
  const client = new v3.EtcdV3Client({ endpoints: [spec.pin, ...spec.endpoints.filter((e) => e !== spec.pin)] });
  const stop = new AbortController();
  setMaxListeners(0, stop.signal);
  const arrivals = new Arrivals();
  const watchErrors: ErrorCounts = {};
  const key = (i: number): string => `${spec.prefix}/v3w/${i}`;
  const watchLoop = async (i: number, startRevision: bigint): Promise<void> => {
    try {
      for await (const event of client.watch(key(i), { startRevision, signal: stop.signal })) {
        if (event.type === "put") arrivals.arrived(Buffer.from(event.kv.value).toString());
      }
    } catch (error) {
      countError(watchErrors, error);
      arrivals.dead(i);
    }
  };
  const write = (i: number, token: string): Promise<unknown> => client.put(key(i), token);
  const all = Array.from({ length: spec.watches }, (_, i) => i);
  // An explicit start revision: every write after it is delivered, however late its watch is created.
  const from = (await client.put(`${spec.prefix}/v3w-start`, "x")).header.revision + 1n;
  await sleep(200);
  const before = collect();
  const started = performance.now();
  const loops = all.map((i) => watchLoop(i, from));
  const warm = await writeAll(all, spec.burstConcurrency, arrivals, write);
  const establishMs = performance.now() - started;
  await sleep(500);
  const idle = collect();
  const sample = Array.from({ length: Math.min(spec.samples, spec.watches) }, (_, s) => Math.floor((s * spec.watches) / spec.samples));
  const sequential = await writeAll(sample, 1, arrivals, write);
  const burstStart = performance.now();
  const burst = await writeAll(all, spec.burstConcurrency, arrivals, write);
  const burstMs = performance.now() - burstStart;
  stop.abort();
  await Promise.all(loops);
  await client.close();
  const writeErrors: ErrorCounts = {};
  for (const w of [warm, sequential, burst]) addErrors(writeErrors, w.writeErrors);
  const result: WatchResult = {
    api: "v3",
    watches: spec.watches,
    establishMs,
    heapDeltaBytes: idle.heapUsed - before.heapUsed,
    rssDeltaBytes: idle.rss - before.rss,
    sequential: summary(sequential.latencies),
    burst: { ...summary(burst.latencies), totalMs: burstMs },
    lost: [...warm.latencies, ...sequential.latencies, ...burst.latencies].filter((l) => !Number.isFinite(l)).length,
    writeErrors,
    watchErrors,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
