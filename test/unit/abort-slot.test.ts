/**
 * The abort slot the engine's recycled controllers carry: one listener through the slot, a second
 * one (or any other signal) through EventTarget, each called once, and `unheard` telling when a
 * controller may serve another call.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { listen, reusableAbortController, unheard, unlisten } from "../../src/abort-slot.js";

describe("abort slot", () => {
  for (const [kind, make] of [
    ["a reusable controller's slot", reusableAbortController],
    ["any other AbortSignal, through EventTarget", () => new AbortController()],
  ] as const) {
    it(`${kind}: the listener is called once on abort, and not after unlisten`, () => {
      const c = make();
      let calls = 0;
      const cb = (): void => {
        calls++;
      };
      listen(c.signal, cb);
      assert.equal(unheard(c.signal), false);
      unlisten(c.signal, cb);
      assert.equal(unheard(c.signal), true);
      listen(c.signal, cb);
      c.abort(new Error("x"));
      c.abort(new Error("again"));
      assert.equal(calls, 1);
      // The listener is gone once called: unlisten afterwards is harmless.
      unlisten(c.signal, cb);
      assert.equal(unheard(c.signal), true);
    });
  }

  it("a second listener on a busy slot goes through EventTarget, and both are called", () => {
    const c = reusableAbortController();
    const order: string[] = [];
    const first = (): void => {
      order.push("first");
    };
    const second = (): void => {
      order.push("second");
    };
    listen(c.signal, first);
    listen(c.signal, second);
    assert.equal(getEventListeners(c.signal, "abort").length, 2);
    unlisten(c.signal, first);
    assert.equal(unheard(c.signal), false, "the EventTarget listener still listens");
    listen(c.signal, first);
    c.abort();
    assert.deepEqual(order.sort(), ["first", "second"]);
  });

  it("a listener added directly keeps a reusable controller from counting as unheard", () => {
    const c = reusableAbortController();
    const direct = (): void => {};
    c.signal.addEventListener("abort", direct);
    assert.equal(unheard(c.signal), false);
    c.signal.removeEventListener("abort", direct);
    assert.equal(unheard(c.signal), true);
  });
});
