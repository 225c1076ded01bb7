/**
 * Watch scale, in a child process of its own (run with --expose-gc, so memory is read after a
 * full collection): 1,000 v2 watches on one etcd-ts client, each on its own key. Reports the
 * memory they hold and how fast an event reaches its watcher, one write at a time and in a burst.
 * Failed writes and watches that end with an error are counted by code, never fatal.
 */
import { setMaxListeners } from "node:events";
import { EtcdV2Client } from "../../src/index.js";
import { countError, type ErrorCounts } from "./errors.js";
import { Arrivals, measureWatches, type WatchMeasures } from "./watch-common.js";

/** What the parent asks for. */
export interface WatchSpec {
  readonly endpoints: readonly string[];
  readonly pin: string;
  readonly prefix: string;
  readonly watches: number;
  /** Writes measured one at a time. */
  readonly samples: number;
  /** Writes in flight during the burst. */
  readonly burstConcurrency: number;
}

/** What the child prints (one JSON line). */
export interface WatchResult extends WatchMeasures {
  /** "v2" (1,000 long polls) or "v3" (watchers on the client's gRPC watch stream). */
  readonly api: "v2" | "v3";
  readonly watches: number;
  /** Watches that ended with an error, by code. */
  readonly watchErrors: ErrorCounts;
  /** v2 only: watches whose history was cleared (etcd keeps 1,000 events) and that resynced from a snapshot. */
  readonly resyncs?: number | undefined;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? "{}") as WatchSpec;
  const client = new EtcdV2Client({ endpoints: [spec.pin] });
  client.setEndpoints(spec.endpoints);
  const stop = new AbortController();
  // One signal ends all the watches; each adds a listener to it.
  setMaxListeners(0, stop.signal);
  const arrivals = new Arrivals();
  const watchErrors: ErrorCounts = {};
  let resyncs = 0;
  const watchLoop = async (i: number, waitIndex: number): Promise<void> => {
    try {
      // A burst of 1,000 writes can push a slow re-poll past etcd's 1,000-event history: resync then.
      for await (const event of client.watch(`${spec.prefix}/w${i}`, { waitIndex, signal: stop.signal, onCleared: "resync" })) {
        if (event.action === "resync") resyncs++;
        // A resync snapshot holding the awaited value delivered it too, only later.
        const value = event.node?.value;
        if (value !== undefined) arrivals.arrived(value);
      }
    } catch (error) {
      countError(watchErrors, error);
      arrivals.dead(i);
    }
  };
  const write = (i: number, token: string): Promise<unknown> => client.set(`${spec.prefix}/w${i}`, token);
  // An explicit start index: every write after it is delivered, however late its poll starts.
  const from = (await client.set(`${spec.prefix}/w-start`, "x")).etcdIndex + 1;
  const measures = await measureWatches(spec, arrivals, stop, (i) => watchLoop(i, from), write);
  await client.close();
  const result: WatchResult = { api: "v2", watches: spec.watches, ...measures, watchErrors, resyncs };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
