/**
 * The v3 side of watch completeness: one prefix watch on the run's prefix from a start revision,
 * recording every event as the check in watch-check.ts expects it (the index is the event's
 * modRevision). The run never compacts, so a v3 watch has no reason to skip history: it records
 * no gaps, and any error that ends it fails the run.
 */
import type { EtcdV3Client } from "../../src/index.js";
import type { Gap, Recorder, SeenEvent } from "./watch-check.js";

/** Records a v3 prefix watch until stopped. */
export class WatchRecorderV3 implements Recorder {
  /** Events in delivery order. */
  readonly events: SeenEvent[] = [];
  /** Always empty: see the file's comment. */
  readonly gaps: readonly Gap[] = [];
  /** Why the watch ended, if it ended by itself. */
  error: string | undefined;
  readonly #stop = new AbortController();
  #done: Promise<void> = Promise.resolve();
  #last = 0;

  /** Starts watching every key under `prefix` (as a string prefix) from revision `fromRevision`. */
  start(client: EtcdV3Client, prefix: string, fromRevision: number): void {
    this.#last = fromRevision - 1;
    this.#done = (async () => {
      try {
        for await (const ev of client.watch(prefix, { prefix: true, startRevision: fromRevision, signal: this.#stop.signal })) {
          const index = Number(ev.kv.modRevision);
          this.events.push({ action: ev.type, key: ev.kv.key.toString("utf8"), value: ev.type === "put" ? ev.kv.value.toString("utf8") : undefined, index });
          this.#last = Math.max(this.#last, index);
        }
        if (!this.#stop.signal.aborted) this.error = "the watch ended by itself";
      } catch (error) {
        this.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      }
    })();
  }

  /** The highest revision delivered so far. */
  get lastIndex(): number {
    return this.#last;
  }

  /** Waits until the watch has reached revision `index`, for at most `ms`; true if it did. */
  async reach(index: number, ms: number): Promise<boolean> {
    const until = performance.now() + ms;
    while (this.#last < index && this.error === undefined && performance.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return this.#last >= index;
  }

  /** Ends the watch and waits for it. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#done;
  }
}
