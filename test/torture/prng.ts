/**
 * A small seeded PRNG (SplitMix32-style mixing of a Weyl sequence), so a torture run's fault
 * schedule and operation mix can be replayed from its seed; `Math.random` cannot be seeded.
 */

/** A deterministic source of random numbers. */
export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** An integer in [min, max]. */
  between(min: number, max: number): number;
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
  /** True with probability `p`. */
  chance(p: number): boolean;
  /** An independent stream for a sub-task (a worker, the nemesis), stable for a given `label`. */
  fork(label: number): Random;
}

const GOLDEN = 0x9e3779b9;

/** Creates a PRNG from a 32-bit seed. */
export function createRandom(seed: number): Random {
  let counter = seed >>> 0;
  const next = (): number => {
    counter = (counter + GOLDEN) >>> 0;
    let z = counter;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    z = (z ^ (z >>> 16)) >>> 0;
    return z / 2 ** 32;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return {
    next,
    int,
    between: (min, max) => min + int(max - min + 1),
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new RangeError("pick from an empty array");
      return items[int(items.length)] as T;
    },
    chance: (p) => next() < p,
    // Mixing the label through a fresh generator keeps forks uncorrelated with each other and the parent.
    fork: (label) => createRandom(createRandom((seed ^ Math.imul(label + 1, GOLDEN)) >>> 0).int(2 ** 32)),
  };
}

/** A random 31-bit seed, for runs that were not given one. */
export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}
