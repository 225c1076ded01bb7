/**
 * The watch's buffer and resume position without a server: a watch pauses past its limit and is
 * re-created once drained to half; its position (revision + events of it already queued) makes a
 * replay drop exactly what it has; and one listener per AbortSignal however many share it.
 */
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { describe, it } from "node:test";
import { onAbort } from "../../src/endpoints/shared-abort.js";
import { Watcher, type V3WatchEvent, type WatchHost } from "../../src/v3/watcher.js";
import type { WatchCreateRequest } from "../../src/v3/gen/etcdserverpb.js";

const REQUEST: WatchCreateRequest = { key: Buffer.from("k"), rangeEnd: Buffer.alloc(0), startRevision: 0n, progressNotify: false, filters: [], prevKv: false, watchId: 0n, fragment: true };
const HEADER = { clusterId: 1n, memberId: 1n, revision: 0n, raftTerm: 1n };

function event(revision: bigint, key = "k", value = "v"): V3WatchEvent {
  const kv = { key: Buffer.from(key), value: Buffer.from(value), createRevision: revision, modRevision: revision, version: 1n, lease: 0n };
  return { type: "put", kv, header: { ...HEADER, revision } };
}

class Host implements WatchHost {
  readonly log: string[] = [];
  readonly requestTimeout = 1000;
  release(): void {
    this.log.push("release");
  }
  pause(w: Watcher): void {
    this.log.push(`pause@${w.resume}+${w.skip}`);
  }
  requeue(w: Watcher): void {
    this.log.push(`requeue@${w.resume}+${w.skip}`);
  }
  askProgress(): void {
    this.log.push("progress");
  }
}

/** Offers the events a reply carries, as the stream does; returns how many were taken. */
function reply(w: Watcher, events: V3WatchEvent[], complete = true): number {
  let taken = 0;
  for (const e of events) {
    if (!w.isNew(e.kv.modRevision)) continue;
    taken++;
    if (!w.offer(e)) return taken;
  }
  if (complete) w.revisionComplete();
  return taken;
}

describe("a watch's buffer", () => {
  it("pauses past its event limit, keeps what it took, and asks to be re-created once drained to half", async () => {
    const host = new Host();
    const w = new Watcher(host, REQUEST, 10n, { events: 4, bytes: 1 << 30 }, undefined);
    w.startCreate();
    w.onCreated(1n);
    assert.equal(await w.created, 10n);
    // Five events of one revision: the fifth passes the limit of 4.
    const txn = [1, 2, 3, 4, 5, 6].map((i) => event(10n, `k${i}`));
    assert.equal(reply(w, txn), 5);
    assert.equal(w.state, "paused");
    assert.equal(w.overflows, 1);
    assert.deepEqual(host.log, ["pause@10+5"]);
    assert.equal(w.buffered, 5);
    for (let i = 0; i < 3; i++) await w.next();
    assert.equal(w.state, "queued", "drained to 2 of 4 events: re-created");
    assert.deepEqual(host.log, ["pause@10+5", "requeue@10+5"]);
    // The replay from revision 10 drops the five events already queued and takes the sixth.
    assert.equal(w.startCreate(), 10n);
    w.onCreated(2n);
    assert.equal(reply(w, [...txn, event(11n)]), 2);
    assert.deepEqual([w.resume, w.skip], [12n, 0]);
    const rest: string[] = [];
    for (let left = w.buffered; left > 0; left--) {
      const r = await w.next();
      assert.ok(r.done !== true);
      rest.push(r.value.kv.key.toString());
    }
    assert.deepEqual(rest, ["k4", "k5", "k6", "k"]);
  });

  it("counts bytes too, and a fragment leaves the revision open until the reply's last fragment", () => {
    const host = new Host();
    const w = new Watcher(host, REQUEST, 5n, { events: 1000, bytes: 1000 }, undefined);
    w.startCreate();
    w.onCreated(1n);
    assert.equal(reply(w, [event(5n, "a", "x".repeat(300)), event(6n, "b", "x".repeat(300))], false), 2);
    assert.deepEqual([w.resume, w.skip, w.state], [6n, 1, "live"]);
    assert.equal(reply(w, [event(6n, "c", "x".repeat(300))], true), 1);
    assert.equal(w.state, "paused", "over 1,000 bytes");
    assert.deepEqual([w.resume, w.skip], [6n, 2]);
  });

  it("return() drops what is queued; the end reason and created tell why it ended", async () => {
    const host = new Host();
    const w = new Watcher(host, REQUEST, 0n, { events: 10, bytes: 1 << 20 }, undefined);
    await w.return();
    assert.deepEqual(await w.ended, { kind: "returned" });
    await assert.rejects(w.created, /ended by its caller/);
    assert.deepEqual(host.log, ["release"]);
  });
});

describe("onAbort", () => {
  it("puts one listener on a signal however many subscribe, and removes it with the last", () => {
    const controller = new AbortController();
    const offs = Array.from({ length: 50 }, () => onAbort(controller.signal, () => undefined));
    assert.equal(getEventListeners(controller.signal, "abort").length, 1);
    for (const off of offs) off();
    assert.equal(getEventListeners(controller.signal, "abort").length, 0);
  });

  it("calls every subscriber once on abort, and unsubscribing afterwards does nothing", () => {
    const controller = new AbortController();
    let calls = 0;
    const offs = Array.from({ length: 20 }, () => onAbort(controller.signal, () => calls++));
    offs[0]?.();
    controller.abort();
    controller.abort();
    assert.equal(calls, 19);
    for (const off of offs) off();
    // A new subscription after the abort's entry is gone starts afresh.
    const again = new AbortController();
    onAbort(again.signal, () => calls++);
    again.abort();
    assert.equal(calls, 20);
  });
});
