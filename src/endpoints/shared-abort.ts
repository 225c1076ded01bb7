/**
 * Many listeners on one AbortSignal through a single `abort` listener: a caller may pass one
 * signal to hundreds of watches, and Node warns (MaxListenersExceededWarning) past ten listeners
 * on one signal. Changing the caller's signal's listener limit would hide their own leaks, so
 * instead each signal carries one listener of ours, removed when its last subscriber leaves.
 */

interface Entry {
  readonly callbacks: Set<() => void>;
  readonly onAbort: () => void;
}

const entries = new WeakMap<AbortSignal, Entry>();

/**
 * Calls `callback` once when `signal` aborts (the signal must not be aborted yet). Returns the
 * unsubscribe function; calling it after the abort, or twice, does nothing.
 */
export function onAbort(signal: AbortSignal, callback: () => void): () => void {
  let entry = entries.get(signal);
  if (entry === undefined) {
    const callbacks = new Set<() => void>();
    const fire = (): void => {
      entries.delete(signal);
      for (const cb of callbacks) cb();
      callbacks.clear();
    };
    entry = { callbacks, onAbort: fire };
    entries.set(signal, entry);
    signal.addEventListener("abort", fire, { once: true });
  }
  // A wrapper, so that the same function subscribed twice is two subscriptions.
  const subscription = (): void => {
    callback();
  };
  const mine = entry;
  mine.callbacks.add(subscription);
  return () => {
    if (!mine.callbacks.delete(subscription) || mine.callbacks.size > 0) return;
    if (entries.get(signal) === mine) entries.delete(signal);
    signal.removeEventListener("abort", mine.onAbort);
  };
}
