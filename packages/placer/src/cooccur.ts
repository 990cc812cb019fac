/**
 * Co-activation statistics of one layer from its fit tokens (CSR: token t's active
 * ids are ids[offsets[t] .. offsets[t+1]), ascending).
 *
 * Pair counts live in a dense upper triangle (i < j), one counter per pair, indexed
 * rowBase[i] + j. Counting is *sparse pair counting*: each token adds one to the
 * k(k-1)/2 pairs of its k active ids; with ids ascending, the inner loop walks one
 * row of the triangle forwards, so it stays in cache. For 11008 neurons the triangle
 * holds 60.6M counters: 121 MB as uint16 (used while tokens < 65536), 242 MB as
 * uint32. docs/benchmarks.md#placer compares this with bit-packed popcount.
 */

/** A layer's tokens in CSR form. */
export interface LayerTokens {
  neurons: number;
  tokens: number;
  offsets: Int32Array;
  ids: Uint16Array | Uint32Array;
}

/** Mean active ids per token (0 without tokens). */
export function meanActive(data: LayerTokens): number {
  return data.tokens > 0 ? (data.offsets[data.tokens] - data.offsets[0]) / data.tokens : 0;
}

/** The pair counters' array type when `tokens` tokens are counted: uint16 while no count can pass 65535. */
export function counterArray(tokens: number): Uint16ArrayConstructor | Uint32ArrayConstructor {
  return tokens < 65536 ? Uint16Array : Uint32Array;
}

/** Activation count per neuron id. */
export function activationCounts(data: LayerTokens): Uint32Array {
  const f = new Uint32Array(data.neurons);
  const end = data.offsets[data.tokens];
  for (let i = data.offsets[0]; i < end; i++) f[data.ids[i]]++;
  return f;
}

export interface PairCounts {
  neurons: number;
  /** Tokens counted. */
  tokens: number;
  /** rowBase[i] + j is pair (i, j)'s index, for i < j (int32: integer indexing keeps V8 on its fast path). */
  rowBase: Int32Array;
  counts: Uint16Array | Uint32Array;
}

/**
 * Most neurons per layer the pair counts support: ids fit in uint16 and the
 * triangle's n(n-1)/2 counters (2147450880 at 65536) in an int32 index.
 */
export const MAX_PAIR_NEURONS = 65536;

/**
 * Bytes one layer's pair counts hold at their peak: the triangle of n(n-1)/2
 * counters (uint16 while fewer than 65536 tokens are counted, else uint32), plus,
 * with `sortedPairs`, the two id lists of neuralink's sorted pairs (every pair, at
 * worst: uint16 ids).
 */
export function pairBytes(n: number, tokens: number, sortedPairs: boolean): number {
  const pairs = (n * (n - 1)) / 2;
  return pairs * (counterArray(tokens).BYTES_PER_ELEMENT + (sortedPairs ? 4 : 0));
}

export function triangleRowBase(n: number): Int32Array {
  if (n > MAX_PAIR_NEURONS) throw new RangeError(`pair counts support at most ${MAX_PAIR_NEURONS} neurons per layer, got ${n}`);
  const base = new Int32Array(n);
  // row i starts after rows 0..i-1, which hold (n-1) + (n-2) + ... + (n-i) pairs
  for (let i = 0; i < n; i++) base[i] = i * n - (i * (i + 1)) / 2 - i - 1;
  return base;
}

/**
 * The tokens counted: all of them, or `maxTokens` evenly spaced ones (a deterministic
 * subsample keeps time and the counter width bounded; colink uses it, neuralink not).
 */
export function sampleTokens(tokens: number, maxTokens?: number): Int32Array {
  const m = maxTokens === undefined || maxTokens >= tokens ? tokens : Math.max(1, maxTokens);
  const out = new Int32Array(m);
  for (let i = 0; i < m; i++) out[i] = Math.floor((i * tokens) / m);
  return out;
}

// A released triangle's memory, reused by the next countPairs in this thread: at 7B
// each layer's triangle is 121 MB, and allocating a fresh one per layer cost more in
// page faults and GC than zeroing the old one (docs/benchmarks.md#placer).
let spare: ArrayBuffer | null = null;

function zeroed(Kind: Uint16ArrayConstructor | Uint32ArrayConstructor, size: number): Uint16Array | Uint32Array {
  const bytes = size * Kind.BYTES_PER_ELEMENT;
  if (spare && spare.byteLength >= bytes) {
    const view = new Kind(spare, 0, size);
    spare = null;
    view.fill(0);
    return view;
  }
  return new Kind(new ArrayBuffer(bytes), 0, size);
}

/**
 * Hands a PairCounts' memory back for reuse by the next countPairs on this thread.
 * The caller must not touch `pc` afterwards.
 */
export function releasePairs(pc: PairCounts): void {
  const buf = pc.counts.buffer as ArrayBuffer;
  if (!spare || buf.byteLength > spare.byteLength) spare = buf;
}

/** Default work budget of colink's pair sample: pair increments (k(k-1)/2 per token). */
export const PAIR_BUDGET = 2.5e8;

/**
 * How many fit tokens colink counts pairs on: as many as fit in `budget` pair
 * increments at this layer's mean k(k-1)/2 per token, at least `minTokens` (and at
 * most all of them). At 7B (550-990 active per token) the floor of 1536 binds or
 * nearly; a small layer (768 neurons, ~55-160 active) counts 10-100x more tokens for
 * about the same time, so its pair estimates are as good as neuralink's all-token
 * ones. The floor was 2048 until colink counted the pairs inside communities on more
 * tokens (methods countInside); with those, 1536 places as well (docs/benchmarks.md#speed).
 */
export function autoPairTokens(data: LayerTokens, budget = PAIR_BUDGET, minTokens = 1536): number {
  if (data.tokens === 0) return 0;
  const mean = pairWork(data, sampleTokens(data.tokens)) / data.tokens;
  const fit = mean > 0 ? Math.floor(budget / mean) : data.tokens;
  return Math.min(data.tokens, Math.max(minTokens, fit));
}

/** Pair increments a pair count on the tokens `rows` costs: k(k-1)/2 per token of k active ids. */
export function pairWork(data: LayerTokens, rows: Int32Array): number {
  let pairs = 0;
  for (let r = 0; r < rows.length; r++) {
    const k = data.offsets[rows[r] + 1] - data.offsets[rows[r]];
    pairs += (k * (k - 1)) / 2;
  }
  return pairs;
}

/**
 * Counts co-activations of every pair over the given tokens (sparse pair counting).
 * Blocked by rows of the triangle: the pairs (i, j) with i in one block of rows are
 * counted for all tokens before the next block, so the counters being incremented
 * (a block of ~1 MiB) stay in cache instead of missing to DRAM on every increment.
 * Each token keeps a cursor into its ascending ids, so finding the ids that fall in
 * a block costs nothing extra.
 */
export function countPairs(data: LayerTokens, rows?: Int32Array, blockBytes = 1 << 20): PairCounts {
  const n = data.neurons;
  const sel = rows ?? sampleTokens(data.tokens);
  const rowBase = triangleRowBase(n);
  const size = (n * (n - 1)) / 2;
  const counts = zeroed(counterArray(sel.length), size);
  const { offsets, ids } = data;
  const m = sel.length;
  const cur = new Int32Array(m);
  const end = new Int32Array(m);
  for (let r = 0; r < m; r++) {
    cur[r] = offsets[sel[r]];
    end[r] = offsets[sel[r] + 1];
  }
  const perBlock = Math.max(1, Math.floor(blockBytes / counts.BYTES_PER_ELEMENT));
  let r0 = 0;
  while (r0 < n - 1) {
    // rows [r0, r1): as many as fit in the block (row i holds n - 1 - i counters)
    let r1 = r0 + 1;
    let cells = n - 1 - r0;
    while (r1 < n - 1 && cells + (n - 1 - r1) <= perBlock) cells += n - 1 - r1++;
    for (let r = 0; r < m; r++) {
      let p = cur[r];
      const b = end[r];
      while (p < b && ids[p] < r1) {
        const base = rowBase[ids[p]];
        let q = p + 1;
        // unrolled by 4: ~1.5x faster in V8 (bench/counting.js), same counts
        for (; q + 3 < b; q += 4) {
          counts[(base + ids[q]) | 0]++;
          counts[(base + ids[q + 1]) | 0]++;
          counts[(base + ids[q + 2]) | 0]++;
          counts[(base + ids[q + 3]) | 0]++;
        }
        for (; q < b; q++) counts[(base + ids[q]) | 0]++;
        p++;
      }
      cur[r] = p;
    }
    r0 = r1;
  }
  return { neurons: n, tokens: m, rowBase, counts };
}

/**
 * Bit-packed alternative (measured in the benchmark, not used by the methods): one
 * bitset over tokens per neuron, pair count = popcount(a AND b). O(n^2 T / 32).
 */
export function countPairsPopcount(data: LayerTokens, rows?: Int32Array): PairCounts {
  const n = data.neurons;
  const sel = rows ?? sampleTokens(data.tokens);
  const words = (sel.length + 31) >>> 5;
  const bits = new Uint32Array(n * words);
  for (let r = 0; r < sel.length; r++) {
    const t = sel[r];
    for (let p = data.offsets[t]; p < data.offsets[t + 1]; p++) bits[data.ids[p] * words + (r >>> 5)] |= 1 << (r & 31);
  }
  const rowBase = triangleRowBase(n);
  const counts = new (counterArray(sel.length))((n * (n - 1)) / 2);
  for (let i = 0; i < n; i++) {
    const oi = i * words;
    const base = rowBase[i];
    for (let j = i + 1; j < n; j++) {
      const oj = j * words;
      let c = 0;
      for (let w = 0; w < words; w++) {
        let x = bits[oi + w] & bits[oj + w];
        x -= (x >>> 1) & 0x55555555;
        x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
        c += (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
      }
      counts[base + j] = c;
    }
  }
  return { neurons: n, tokens: sel.length, rowBase, counts };
}

/** Edge weight of a pair from its co-activation count and the two activation counts. */
export type WeightKind = "p" | "jaccard";

/**
 * The pruned graph: for every neuron its `k` strongest neighbours (by weight), kept
 * if the pair co-occurred at least `minCount` times. Returns the union as an edge
 * list (i < j, no duplicates), weights as float64.
 */
export function topKEdges(
  pc: PairCounts,
  freq: Uint32Array,
  k: number,
  minCount: number,
  weight: WeightKind,
): { a: Uint32Array; b: Uint32Array; w: Float64Array; c: Uint32Array } {
  const n = pc.neurons;
  // Per-neuron min-heaps of size k over (weight, neighbour), in flat typed arrays.
  const hw = new Float64Array(n * k).fill(-1);
  const hn = new Int32Array(n * k).fill(-1);
  const size = new Int32Array(n);
  // minW[i]: weight an edge must beat to enter i's full heap (-1 while not full);
  // a small dense array, so the common rejection does not touch the heaps.
  const minW = new Float64Array(n).fill(-1);
  const push = (i: number, w: number, j: number): void => {
    const o = i * k;
    let s = size[i];
    if (s < k) {
      let c = s++;
      size[i] = s;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (hw[o + p] <= w) break;
        hw[o + c] = hw[o + p];
        hn[o + c] = hn[o + p];
        c = p;
      }
      hw[o + c] = w;
      hn[o + c] = j;
      if (s === k) minW[i] = hw[o];
      return;
    }
    if (w <= hw[o]) return;
    let c = 0;
    for (;;) {
      const l = 2 * c + 1;
      if (l >= k) break;
      const r = l + 1;
      const m = r < k && hw[o + r] < hw[o + l] ? r : l;
      if (hw[o + m] >= w) break;
      hw[o + c] = hw[o + m];
      hn[o + c] = hn[o + m];
      c = m;
    }
    hw[o + c] = w;
    hn[o + c] = j;
    minW[i] = hw[o];
  };
  const { counts, rowBase } = pc;
  const T = pc.tokens;
  // One specialised loop per weight, float64 activation counts, and the minCount test
  // only on the rare pairs that pass a heap's threshold: the scan of the whole
  // triangle (60.6M pairs at 7B) is ~2.5x faster than one generic loop, same edges.
  const f = Float64Array.from(freq);
  if (weight === "p") {
    for (let i = 0; i < n - 1; i++) {
      const base = rowBase[i];
      for (let j = i + 1; j < n; j++) {
        const c = counts[base + j];
        const w = c / T;
        if ((w > minW[i] || w > minW[j]) && c >= minCount) {
          if (w > minW[i]) push(i, w, j);
          if (w > minW[j]) push(j, w, i);
        }
      }
    }
  } else {
    for (let i = 0; i < n - 1; i++) {
      const base = rowBase[i];
      const fi = f[i];
      for (let j = i + 1; j < n; j++) {
        const c = counts[base + j];
        const w = c / (fi + f[j] - c);
        if ((w > minW[i] || w > minW[j]) && c >= minCount) {
          if (w > minW[i]) push(i, w, j);
          if (w > minW[j]) push(j, w, i);
        }
      }
    }
  }
  // Union of both directions, each edge once, listed where first seen (i ascending,
  // heap order): (i, j) with j < i was already listed at j's turn iff i is in j's heap.
  // (A Map keyed by pair gave the same list at several times the cost.)
  const listed = (x: number, y: number): boolean => {
    if (y >= x) return false;
    const o = y * k;
    for (let s = 0; s < size[y]; s++) if (hn[o + s] === x) return true;
    return false;
  };
  let m = 0;
  for (let i = 0; i < n; i++) for (let s = 0; s < size[i]; s++) if (!listed(i, hn[i * k + s])) m++;
  const a = new Uint32Array(m);
  const b = new Uint32Array(m);
  const w = new Float64Array(m);
  const c = new Uint32Array(m);
  let e = 0;
  for (let i = 0; i < n; i++) {
    for (let s = 0; s < size[i]; s++) {
      const j = hn[i * k + s];
      if (listed(i, j)) continue;
      a[e] = Math.min(i, j);
      b[e] = Math.max(i, j);
      c[e] = counts[rowBase[a[e]] + b[e]];
      w[e++] = hw[i * k + s];
    }
  }
  return { a, b, w, c };
}
