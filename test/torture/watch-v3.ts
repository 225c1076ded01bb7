/**
 * The v3 side of watch completeness: one prefix watch on the run's prefix from a start revision,
 * recording every event as the check in watch-check.ts expects it (the index is the event's
 * modRevision). The run never compacts, so a v3 watch has no reason to skip history: it records
 * no gaps, and any error that ends it fails the run.
 */
import type { EtcdV3Client } from "../../src/index.js";
import { RecorderBase } from "./watch-check.js";

/** Records a v3 prefix watch until stopped. */
export class WatchRecorderV3 extends RecorderBase {
  /** Starts watching every key under `prefix` (as a string prefix) from revision `fromRevision`. */
  start(client: EtcdV3Client, prefix: string, fromRevision: number): void {
    this.run(fromRevision, async (signal) => {
      for await (const ev of client.watch(prefix, { prefix: true, startRevision: fromRevision, signal })) {
        const value = ev.type === "put" ? ev.kv.value.toString("utf8") : undefined;
        this.record({ action: ev.type, key: ev.kv.key.toString("utf8"), value, index: Number(ev.kv.modRevision) });
      }
    });
  }
}
