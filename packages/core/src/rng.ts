/**
 * The seeded PRNG for everything deterministic that needs randomness outside the
 * synthetic-trace generator (held-out splits, test data, benchmark offsets):
 * xorshift32, the same stream on every platform. Never Math.random.
 */

/** A uniform stream in [0, 1) from a 32-bit seed (0 is mapped to 1, a fixed point). */
export function xorshift32(seed: number): () => number {
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
