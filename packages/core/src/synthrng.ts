/**
 * The synthetic-trace generator's randomness, shared so that a benchmark can
 * rebuild a synthetic trace's true co-activation clusters from its metadata
 * (seed, layer, neurons) without importing the profiler (stages never import each
 * other). The profiler's generator (packages/profiler/src/synth.ts) draws from
 * these; changing them changes every synthetic trace's bytes.
 */

/** sfc32: a small, fast, well-mixed 32-bit PRNG; deterministic across platforms. */
export class Sfc32 {
  private a: number;
  private b: number;
  private c: number;
  private d = 1;

  constructor(seed: number, stream: number) {
    this.a = seed >>> 0;
    this.b = (stream * 0x9e3779b9) >>> 0;
    this.c = (seed ^ 0x6a09e667 ^ (stream << 7)) >>> 0;
    for (let i = 0; i < 16; i++) this.nextU32();
  }

  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }
}

/** A Fisher-Yates permutation of 0..n-1 drawn from `rng`. */
export function shuffledIds(n: number, rng: Sfc32): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.nextU32() % (i + 1);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a;
}

/**
 * A synthetic layer's two structural permutations, in the order the generator
 * draws them from stream `layer + 1` of `seed`: `hotId` (hotness rank → id) and
 * `members` (ids grouped by cluster: cluster c is members[c * clusterSize ..], the
 * last cluster taking the remainder).
 */
export function synthLayerStructure(neurons: number, seed: number, layer: number): { rng: Sfc32; hotId: Int32Array; members: Int32Array } {
  const rng = new Sfc32(seed, layer + 1);
  const hotId = shuffledIds(neurons, rng);
  const members = shuffledIds(neurons, rng);
  return { rng, hotId, members };
}
