/**
 * Abort listening without EventTarget's cost on the hot path. The engine gives each attempt a
 * recycled AbortController's signal, and the transport listens to it for the length of one call.
 * On Node 20 an `addEventListener`/`removeEventListener` pair on an AbortSignal costs about
 * 1.2 µs, about 5 % of a v3 call's client CPU (docs/performance.md, "Client CPU per call, round 3").
 * A controller made by `reusableAbortController` instead carries one permanent listener of ours
 * that forwards the abort to a single callback slot, which a call fills and clears with a
 * WeakMap lookup each. Any other signal, or a second listener on the same one, takes the
 * ordinary EventTarget path, so `listen`/`unlisten` work on every AbortSignal.
 */
import { getEventListeners } from "node:events";

interface Slot {
  callback: (() => void) | undefined;
}

const slots = new WeakMap<AbortSignal, Slot>();

/** A fresh AbortController whose signal has a callback slot (for a controller that is reused across calls). */
export function reusableAbortController(): AbortController {
  const controller = new AbortController();
  const slot: Slot = { callback: undefined };
  controller.signal.addEventListener(
    "abort",
    () => {
      const callback = slot.callback;
      slot.callback = undefined;
      callback?.();
    },
    { once: true },
  );
  slots.set(controller.signal, slot);
  return controller;
}

/** Calls `callback` once when `signal` aborts (the signal must not be aborted yet); `unlisten` undoes it. */
export function listen(signal: AbortSignal, callback: () => void): void {
  const slot = slots.get(signal);
  if (slot !== undefined && slot.callback === undefined) slot.callback = callback;
  else signal.addEventListener("abort", callback, { once: true });
}

/** Stops `callback` (given to `listen`) being called; nothing happens if it was called already or never listened. */
export function unlisten(signal: AbortSignal, callback: () => void): void {
  const slot = slots.get(signal);
  if (slot !== undefined && slot.callback === callback) slot.callback = undefined;
  else signal.removeEventListener("abort", callback);
}

/** Whether nothing listens to `signal` any more (through `listen` or directly), so its controller may serve another call. */
export function unheard(signal: AbortSignal): boolean {
  const slot = slots.get(signal);
  if (slot === undefined) return getEventListeners(signal, "abort").length === 0;
  // Our own listener is there until the abort, which removes it with every other `once` listener.
  return slot.callback === undefined && getEventListeners(signal, "abort").length === (signal.aborted ? 0 : 1);
}
