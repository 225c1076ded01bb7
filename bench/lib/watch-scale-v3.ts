/**
 * v3 watch scale, in a child process of its own (run with --expose-gc): 10,000 watchers on one
 * etcd-ts v3 client, each on its own key, all sharing the client's gRPC watch stream. The same
 * measures as the v2 child. Exits with code 3 and a reason on stderr when `EtcdV3Client` is not
 * exported yet, so the parent can print why the table is missing.
 */
import { setMaxListeners } from "node:events";
import { countError, type ErrorCounts } from "./errors.js";
import { loadV3, NO_V3_EXIT } from "./v3.js";
import { Arrivals, measureWatches } from "./watch-common.js";
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
  // An explicit start revision: every write after it is delivered, however late its watch is created.
  const from = (await client.put(`${spec.prefix}/v3w-start`, "x")).header.revision + 1n;
  const measures = await measureWatches(spec, arrivals, stop, (i) => watchLoop(i, from), write);
  await client.close();
  const result: WatchResult = { api: "v3", watches: spec.watches, ...measures, watchErrors };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
