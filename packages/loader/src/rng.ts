/** Seeded PRNG for deterministic offsets and test data (never Math.random). */

/** xorshift32: a uniform stream in [0, 1), the same on every platform. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

