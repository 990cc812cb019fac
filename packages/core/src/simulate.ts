/**
 * Trace-level simulation of the cost model: every token of a trace (or of one
 * split of it) goes through one LayerPlanner per layer, with the layer's cache,
 * and the reads, bytes, simulated I/O time and cache hits are summed per token
 * over the layers. The placer's `evaluate` and the loader's `replay` both use it,
 * so "reads per token" means the same thing everywhere.
 *
 * Tokens are taken in file order; each layer's cache state carries over from one
 * token to the next (also across sequences), as it would in a loader serving the
 * tokens one after another. The lower bound reads all of a layer's active neurons
 * in one request (no cache): latency + active x bundleBytes / bandwidth.
 */
import { type CacheSpec, LayerCache } from "./cache.js";
import type { DeviceProfile } from "./device.js";
import { fail } from "./errors.js";
import { LayerPlanner, layoutFromOrder } from "./plan.js";
import type { TraceChunk } from "./trace.js";
import { TraceReader } from "./trace.js";

/** Per-token sums over layers. Arrays grow as tokens arrive; `tokens` is the count. */
export class TokenStats {
  tokens = 0;
  reads: Float64Array<ArrayBuffer> = new Float64Array(1024);
  bytes = new Float64Array(1024);
  ioUs = new Float64Array(1024);
  hits = new Float64Array(1024);
  unique = new Float64Array(1024);
  boundUs = new Float64Array(1024);

  /** Makes room for token index `t`. */
  ensure(t: number): void {
    if (t < this.reads.length) return;
    let cap = this.reads.length;
    while (cap <= t) cap *= 2;
    const grow = (a: Float64Array): Float64Array<ArrayBuffer> => {
      const b = new Float64Array(cap);
      b.set(a);
      return b;
    };
    this.reads = grow(this.reads);
    this.bytes = grow(this.bytes);
    this.ioUs = grow(this.ioUs);
    this.hits = grow(this.hits);
    this.unique = grow(this.unique);
    this.boundUs = grow(this.boundUs);
  }
}

export interface Distribution {
  mean: number;
  p50: number;
  p99: number;
}

/** The metrics `colink evaluate --json` prints (keys are part of its contract). */
export interface SimSummary {
  tokens: number;
  reads_per_token: Distribution;
  bytes_per_token: Distribution;
  io_ms_per_token: Distribution;
  /** Fraction of a token's requested bundles served from DRAM. `mean` is over all requests. */
  hit_rate: Distribution;
  bound_io_ms_per_token: Distribution;
}

/** Nearest-rank percentiles and the mean of `v[0..n)`, each times `scale`. */
export function distribution(v: Float64Array, n: number, scale = 1): Distribution {
  if (n === 0) return { mean: 0, p50: 0, p99: 0 };
  const s = v.slice(0, n).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += s[i];
  const rank = (p: number): number => s[Math.max(0, Math.ceil(p * n) - 1)] * scale;
  return { mean: (sum / n) * scale, p50: rank(0.5), p99: rank(0.99) };
}

export function summarize(stats: TokenStats): SimSummary {
  const n = stats.tokens;
  const rate = new Float64Array(n);
  let hits = 0;
  let unique = 0;
  for (let t = 0; t < n; t++) {
    rate[t] = stats.unique[t] > 0 ? stats.hits[t] / stats.unique[t] : 0;
    hits += stats.hits[t];
    unique += stats.unique[t];
  }
  const hit = distribution(rate, n);
  return {
    tokens: n,
    reads_per_token: distribution(stats.reads, n),
    bytes_per_token: distribution(stats.bytes, n),
    io_ms_per_token: distribution(stats.ioUs, n, 1e-3),
    hit_rate: { ...hit, mean: unique > 0 ? hits / unique : 0 },
    bound_io_ms_per_token: distribution(stats.boundUs, n, 1e-3),
  };
}

/**
 * Runs tokens `[from, to)` of one layer (CSR: ids[offsets[t] .. offsets[t+1])) through
 * `planner`, adding to `stats` at token index `base + (t - from)`. `select` (optional)
 * keeps only the rows where `select[t]` equals `want`.
 */
export function simulateLayerRows(
  planner: LayerPlanner,
  offsets: ArrayLike<number>,
  ids: Uint16Array | Uint32Array,
  from: number,
  to: number,
  stats: TokenStats,
  base: number,
  select?: { split: ArrayLike<number>; want: number },
): number {
  const lat = planner.device.latencyUs;
  const usPerByte = 1e6 / planner.device.bandwidthBytesPerSec;
  const bundle = planner.layout.bundleBytes;
  let k = base;
  for (let t = from; t < to; t++) {
    if (select && select.split[t] !== select.want) continue;
    stats.ensure(k);
    const r = planner.step(ids.subarray(offsets[t], offsets[t + 1]));
    stats.reads[k] += r.reads;
    stats.bytes[k] += r.bytes;
    stats.ioUs[k] += r.ioUs;
    stats.hits[k] += r.hits;
    stats.unique[k] += r.unique;
    if (r.unique > 0) stats.boundUs[k] += lat + r.unique * bundle * usPerByte;
    k++;
  }
  if (k > stats.tokens) stats.tokens = k;
  return k - base;
}

export interface SimLayer {
  /** Neuron ids in physical order. */
  order: ArrayLike<number>;
  /** The cache this layer runs with (NO_CACHE for none). */
  cache: CacheSpec;
}

/** Streams a trace's chunks through per-layer planners. */
export class TraceSimulator {
  readonly planners: LayerPlanner[];
  readonly stats = new TokenStats();
  private readonly next: Int32Array;

  constructor(layers: SimLayer[], device: DeviceProfile, bundleBytes: number) {
    if (!(bundleBytes > 0)) fail("BAD_ARGUMENT", `bundle size must be > 0 bytes, got ${bundleBytes}`);
    this.planners = layers.map((l) => {
      const layout = layoutFromOrder(l.order, bundleBytes);
      const cache = l.cache.pinned.length + l.cache.lru > 0 ? new LayerCache(layout.neurons, l.cache) : null;
      return new LayerPlanner(layout, device, cache);
    });
    this.next = new Int32Array(layers.length);
  }

  /** Adds a chunk's rows; `split` 0 = fit, 1 = held-out, undefined = all rows. */
  add(chunk: TraceChunk, split?: number): void {
    const l = chunk.layer;
    const planner = this.planners[l];
    if (!planner) fail("MISMATCH", `trace layer ${l} has no placement layer (placement has ${this.planners.length})`);
    const sel = split === undefined ? undefined : { split: chunk.split, want: split };
    this.next[l] += simulateLayerRows(planner, chunk.offsets, chunk.ids, 0, chunk.seq.length, this.stats, this.next[l], sel);
  }

  summary(): SimSummary {
    return summarize(this.stats);
  }
}

/**
 * Simulates the tokens of `files` (in order; each file's per-layer token streams are
 * concatenated) under one placement, device and bundle size. `split` picks fit (0),
 * held-out (1) or all rows (undefined).
 */
export async function simulateTraceFiles(
  files: string[],
  layers: SimLayer[],
  device: DeviceProfile,
  bundleBytes: number,
  split?: number,
): Promise<SimSummary> {
  const sim = new TraceSimulator(layers, device, bundleBytes);
  for (const file of files) {
    const reader = await TraceReader.open(file);
    try {
      if (reader.meta.layers !== layers.length || reader.meta.neurons !== layers[0].order.length)
        fail(
          "MISMATCH",
          `${file}: trace is ${reader.meta.layers} layers x ${reader.meta.neurons} neurons, placement is ${layers.length} x ${layers[0].order.length}`,
          file,
        );
      for await (const chunk of reader.chunks()) sim.add(chunk, split);
    } finally {
      await reader.close();
    }
  }
  return sim.summary();
}
