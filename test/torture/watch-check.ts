/**
 * Watch completeness: a recursive v2 watch (or a v3 prefix watch, watch-v3.ts) on the run's prefix
 * records every event it delivers, and the check compares them with the writes: exactly the
 * successful ones (plus those unknown-outcome writes that took effect), in index (revision)
 * order, none twice, each at the index its write's reply gave. Values are unique, so
 * set/create/cas/put/txn events are matched by value; deletes carry no value and are matched by
 * key and index.
 */
import type { EtcdV2Client } from "../../src/index.js";
import type { TortureOp } from "./workers.js";

/** One delivered event, reduced to what the check needs. */
export interface SeenEvent {
  readonly action: string;
  readonly key: string;
  readonly value: string | undefined;
  readonly index: number;
}

/** A stretch of history the watch could not deliver (etcd keeps only the last 1000 events). */
export interface Gap {
  readonly from: number;
  readonly to: number;
}

/** What a run needs of a watch being recorded, whichever the API. */
export interface Recorder {
  /** Events in delivery order. */
  readonly events: readonly SeenEvent[];
  /** Index ranges the watch could not deliver. */
  readonly gaps: readonly Gap[];
  /** Why the watch ended, if it ended by itself. */
  readonly error: string | undefined;
  /** The highest index delivered (or skipped) so far. */
  readonly lastIndex: number;
  /** Waits until the watch has reached `index`, for at most `ms`; true if it did. */
  reach(index: number, ms: number): Promise<boolean>;
  /** Ends the watch and waits for it. */
  stop(): Promise<void>;
}

/** What both recorders share: the delivered events, how far the watch got, and stopping it. */
export abstract class RecorderBase implements Recorder {
  /** Events in delivery order. */
  readonly events: SeenEvent[] = [];
  /** Index ranges the watch could not deliver. */
  readonly gaps: Gap[] = [];
  /** Why the watch ended, if it ended by itself. */
  error: string | undefined;
  /** The highest index delivered (or skipped) so far. */
  protected last = 0;
  readonly #stop = new AbortController();
  #done: Promise<void> = Promise.resolve();

  /** Runs `watch` (which records into `events`) from index `from`, keeping its error as text. */
  protected run(from: number, watch: (signal: AbortSignal) => Promise<void>): void {
    this.last = from - 1;
    this.#done = (async () => {
      try {
        await watch(this.#stop.signal);
        if (!this.#stop.signal.aborted) this.error = "the watch ended by itself";
      } catch (error) {
        this.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      }
    })();
  }

  /** Appends one event and moves the high-water mark. */
  protected record(event: SeenEvent): void {
    this.events.push(event);
    this.last = Math.max(this.last, event.index);
  }

  /** The highest index delivered (or skipped) so far. */
  get lastIndex(): number {
    return this.last;
  }

  /** Waits until the watch has reached `index`, for at most `ms`; true if it did. */
  async reach(index: number, ms: number): Promise<boolean> {
    const until = performance.now() + ms;
    while (this.last < index && this.error === undefined && performance.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return this.last >= index;
  }

  /** Ends the watch and waits for it. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#done;
  }
}

/** Records a recursive v2 watch until stopped; a cleared history is recorded as a gap. */
export class WatchRecorder extends RecorderBase {
  /** Starts watching `prefix` recursively from `fromIndex`. */
  start(client: EtcdV2Client, prefix: string, fromIndex: number): void {
    this.run(fromIndex, async (signal) => {
      for await (const ev of client.watch(prefix, { recursive: true, waitIndex: fromIndex, signal, onCleared: "resync" })) {
        if (ev.action === "resync") {
          this.gaps.push({ from: this.last + 1, to: ev.etcdIndex });
          this.last = ev.etcdIndex;
          continue;
        }
        this.record({ action: ev.action, key: ev.node?.key ?? "", value: ev.node?.value, index: ev.node?.modifiedIndex ?? 0 });
      }
    });
  }
}

/** What the completeness check found. */
export interface WatchReport {
  readonly events: number;
  readonly acknowledged: number;
  /** Unknown-outcome writes the watch shows took effect, out of all unknown-outcome writes. */
  readonly unknownApplied: number;
  readonly unknownTotal: number;
  readonly gaps: readonly Gap[];
  readonly problems: readonly string[];
}

/** The event each kind of write makes: v2 actions, and v3's "put" for both put and a succeeded txn. */
const ACTIONS: Readonly<Record<string, string>> = { set: "set", create: "create", cas: "compareAndSwap", delete: "delete", put: "put", txn: "put" };

/** Checks `events` against the writes, for indices in `range` outside `gaps`; `keys` picks the workload's keys. */
export function checkWatch(events: readonly SeenEvent[], gaps: readonly Gap[], ops: readonly TortureOp[], keys: (key: string) => boolean, range: Gap): WatchReport {
  const writes = ops.filter((op) => op.kind !== "read");
  const seen = new Map<TortureOp, number[]>();
  const unknownDeletes = new Map<string, number>();
  for (const w of writes) if (w.kind === "delete" && w.outcome === "unknown") unknownDeletes.set(w.key, (unknownDeletes.get(w.key) ?? 0) + 1);
  const problems: string[] = [];
  const attribute = attributor(writes, unknownDeletes);
  let previous = 0;
  for (const ev of events) {
    if (!keys(ev.key)) continue;
    if (ev.index <= previous) problems.push(`event ${describe(ev)} came after index ${previous}: out of order or repeated`);
    previous = Math.max(previous, ev.index);
    const write = attribute(ev);
    if (typeof write === "string") problems.push(write);
    else if (write !== undefined) seen.set(write, [...(seen.get(write) ?? []), ev.index]);
  }
  const inRange = (i: number | undefined): boolean => i !== undefined && i >= range.from && i <= range.to && !gaps.some((g) => i >= g.from && i <= g.to);
  const acked = writes.filter((w) => w.outcome === "ok" && inRange(w.index));
  for (const w of writes) problems.push(...judge(w, seen.get(w) ?? [], inRange(w.index)));
  const unknown = writes.filter((w) => w.outcome === "unknown");
  const unknownDeletesLeft = [...unknownDeletes.values()].reduce((a, b) => a + b, 0);
  const unknownDeletesUsed = unknown.filter((w) => w.kind === "delete").length - unknownDeletesLeft;
  return {
    events: events.length,
    acknowledged: acked.length,
    unknownApplied: unknown.filter((w) => seen.has(w)).length + unknownDeletesUsed,
    unknownTotal: unknown.length,
    gaps,
    problems,
  };
}

/** What is wrong with one write given the indices of the events attributed to it. */
function judge(w: TortureOp, indices: readonly number[], expected: boolean): string[] {
  const what = `${w.kind} of ${w.key}${w.value === undefined ? "" : ` = ${w.value}`} by worker ${w.worker}`;
  if (indices.length > 1) {
    const twice = new Set(indices).size === 1 ? `delivered twice at index ${indices[0] ?? "?"}` : `applied ${indices.length} times, at indices ${indices.join(", ")}`;
    return [`${what} (${w.outcome}${w.index === undefined ? "" : ` at index ${w.index}`}) was ${twice}`];
  }
  if (w.outcome === "ok" && indices.length === 1 && indices[0] !== w.index) {
    return [`${what} was acknowledged at index ${w.index ?? "?"} but delivered at index ${indices[0] ?? "?"}`];
  }
  if (w.outcome === "ok" && indices.length === 0 && expected) return [`acknowledged ${what} at index ${w.index ?? "?"} was never delivered`];
  return [];
}

/** Attributes an event to the write that made it, or returns why it cannot (undefined: an unknown-outcome delete). */
function attributor(writes: readonly TortureOp[], unknownDeletes: Map<string, number>): (ev: SeenEvent) => TortureOp | string | undefined {
  const byValue = new Map(writes.filter((w) => w.value !== undefined).map((w) => [w.value, w]));
  const deletes = new Map(writes.filter((w) => w.kind === "delete" && w.outcome === "ok").map((w) => [`${w.key}@${w.index ?? "?"}`, w]));
  return (ev) => {
    if (ev.action === "delete") {
      const write = deletes.get(`${ev.key}@${ev.index}`);
      if (write !== undefined) return write;
      const left = unknownDeletes.get(ev.key) ?? 0;
      if (left === 0) return `watch delivered ${describe(ev)}, but no delete of that key succeeded at that index or had an unknown outcome`;
      unknownDeletes.set(ev.key, left - 1);
      return undefined;
    }
    const write = byValue.get(ev.value);
    if (write === undefined) return `watch delivered ${describe(ev)}, which no operation wrote`;
    if (write.key !== ev.key || ACTIONS[write.kind] !== ev.action) return `watch delivered ${describe(ev)}, but that value was written by ${write.kind} of ${write.key}`;
    if (write.outcome !== "ok" && write.outcome !== "unknown") {
      return `watch delivered ${describe(ev)}, but its ${write.kind} by worker ${write.worker} was reported as ${write.outcome} (${write.code ?? ""}${write.delivery === undefined ? "" : `, delivery ${write.delivery}`})`;
    }
    return write;
  };
}

function describe(ev: SeenEvent): string {
  return `${ev.action} ${ev.key}${ev.value === undefined ? "" : ` = ${ev.value}`} at index ${ev.index}`;
}
