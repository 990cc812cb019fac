/**
 * The report's plot data, computed from real files in core formats: one streaming
 * pass over the trace (core TraceReader) with every placement (core readPlacement)
 * planned through core's LayerPlanner + LayerCache, the same read planning and
 * cache rules the placer's cost model and the loader use. Per-layer numbers and run
 * lengths come from here; the per-method totals of the summary come from the
 * loader's replay (real reads) and are passed in.
 */
import {
  type DeviceProfile,
  LayerCache,
  LayerPlanner,
  type Placement,
  TraceReader,
  budgetForFraction,
  cacheSpecForPolicy,
  layoutFromOrder,
} from "@colink/core";

/** Upper bounds (inclusive) of the run-length bins, in bundles; the last bin is open. */
export const RUN_BINS = [1, 2, 4, 8, 16, 32, 64, 128, 256];
export const RUN_LABELS = ["1", "2", "3-4", "5-8", "9-16", "17-32", "33-64", "65-128", "129-256", "257+"];
/** Bins of the activation-frequency histogram (percent of tokens). */
export const FREQ_BINS = 50;

export interface MethodTotals {
  reads_per_token: number;
  bytes_per_token: number;
  io_ms_per_token: number;
  hit_rate: number;
  /** Where the totals came from: "replay" (the loader) or "model" (core planner). */
  source?: string;
}

export interface MethodReport {
  method: string;
  /** Fraction of read requests per RUN_LABELS bin (held-out tokens). */
  runHist: number[];
  meanRunBundles: number;
  perLayer: { readsPerToken: number[]; ioMsPerToken: number[]; hitRate: number[] };
  /** Totals from the core planner (same rules as the loader). */
  model: MethodTotals;
  /** Totals measured by the loader's replay, when the pipeline has them. */
  replay?: MethodTotals;
}

export interface ReportData {
  title: string;
  model: string;
  device: { name: string; latencyUs: number; bandwidthBytesPerSec: number };
  dtype: string;
  bundleBytes: number;
  layers: number;
  neurons: number;
  cacheFraction: number;
  /** Cache budget per layer, in bundles. */
  budget: number;
  tokens: { fit: number; heldout: number };
  chosen: string;
  /** Mean fraction of neurons active per token, per layer (all tokens). */
  sparsity: number[];
  /** Neurons (all layers) per activation-frequency bin of width 100/FREQ_BINS %. */
  freqHist: number[];
  /** Neurons that never fired. */
  deadNeurons: number;
  heatmap: { layer: number; size: number; method: string; before: number[]; after: number[] };
  methods: MethodReport[];
  /** Free-form key facts shown under the title (stage cache hits, verify result...). */
  facts: [string, string][];
}

export interface ReportInputs {
  trace: string;
  /** Placements by method, already read (core readPlacement). */
  placements: Record<string, Placement>;
  chosen: string;
  device: DeviceProfile;
  bundleBytes: number;
  cacheFraction: number;
  dtype: string;
  model: string;
  /** Layer for the heatmap; -1 = the middle layer. */
  heatmapLayer?: number;
  /** Heatmap side in cells (default 128, at most the neuron count). */
  heatmapSize?: number;
  title?: string;
}

function runBin(len: number): number {
  for (let b = 0; b < RUN_BINS.length; b++) if (len <= RUN_BINS[b]) return b;
  return RUN_BINS.length;
}

interface MethodState {
  method: string;
  planners: LayerPlanner[];
  runs: Float64Array;
  reads: Float64Array;
  bytes: Float64Array;
  io: Float64Array;
  hits: Float64Array;
  unique: Float64Array;
  slotOfHeat: Uint32Array | null;
}

/**
 * Block-level co-activation of one token: adds cnt[a] x cnt[b] to cell (a, b) for
 * every pair of blocks the token touched, i.e. the sum of the neuron-level
 * co-activation counts over each pair of blocks.
 */
function addCoactivation(
  ids: ArrayLike<number>,
  from: number,
  to: number,
  map: Uint32Array | null,
  neurons: number,
  size: number,
  cnt: Float64Array,
  touched: Int32Array,
  cells: Float64Array,
): void {
  let t = 0;
  for (let i = from; i < to; i++) {
    const pos = map ? map[ids[i]] : ids[i];
    const b = Math.floor((pos * size) / neurons);
    if (cnt[b] === 0) touched[t++] = b;
    cnt[b]++;
  }
  for (let i = 0; i < t; i++) {
    const a = touched[i];
    const row = a * size;
    for (let j = 0; j < t; j++) cells[row + touched[j]] += cnt[a] * cnt[touched[j]];
  }
  for (let i = 0; i < t; i++) cnt[touched[i]] = 0;
}

/** Log-scales two matrices onto a shared [0, 1] range so they can be compared by eye. */
function logNormalise(a: Float64Array, b: Float64Array): [number[], number[]] {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, a[i], b[i]);
  const den = Math.log1p(max) || 1;
  const f = (m: Float64Array): number[] => Array.from(m, (v) => Number((Math.log1p(v) / den).toFixed(4)));
  return [f(a), f(b)];
}

export async function computeReportData(inp: ReportInputs): Promise<ReportData> {
  const reader = await TraceReader.open(inp.trace);
  const { layers, neurons } = reader.meta;
  const budget = budgetForFraction(inp.cacheFraction, neurons);
  const heatLayer = inp.heatmapLayer === undefined || inp.heatmapLayer < 0 ? Math.floor(layers / 2) : Math.min(inp.heatmapLayer, layers - 1);
  const size = Math.min(inp.heatmapSize ?? 128, neurons);
  const states: MethodState[] = Object.entries(inp.placements).map(([method, p]) => ({
    method,
    planners: p.layers.map((l) => {
      const spec = cacheSpecForPolicy("declared", budget, { neurons, declared: l.cache, freq: l.freq });
      return new LayerPlanner(layoutFromOrder(l.order, inp.bundleBytes), inp.device, new LayerCache(neurons, spec));
    }),
    runs: new Float64Array(RUN_LABELS.length),
    reads: new Float64Array(layers),
    bytes: new Float64Array(layers),
    io: new Float64Array(layers),
    hits: new Float64Array(layers),
    unique: new Float64Array(layers),
    slotOfHeat: method === inp.chosen ? layoutFromOrder(p.layers[heatLayer].order, 1).slotOf : null,
  }));
  const chosenState = states.find((s) => s.method === inp.chosen);
  const active = new Float64Array(layers);
  const tokensPerLayer = new Float64Array(layers);
  const fitTokens = new Float64Array(layers);
  const heldTokens = new Float64Array(layers);
  const freq = new Float64Array(layers * neurons);
  const before = new Float64Array(size * size);
  const after = new Float64Array(size * size);
  const cnt = new Float64Array(size);
  const touched = new Int32Array(size);
  try {
    for await (const c of reader.chunks()) {
      const L = c.layer;
      const n = c.seq.length;
      for (let t = 0; t < n; t++) {
        const from = c.offsets[t];
        const to = c.offsets[t + 1];
        active[L] += to - from;
        tokensPerLayer[L]++;
        const base = L * neurons;
        for (let i = from; i < to; i++) freq[base + c.ids[i]]++;
        if (c.split[t] === 0) {
          fitTokens[L]++;
          continue;
        }
        heldTokens[L]++;
        const ids = c.ids.subarray(from, to);
        if (L === heatLayer) {
          addCoactivation(ids, 0, ids.length, null, neurons, size, cnt, touched, before);
          if (chosenState) addCoactivation(ids, 0, ids.length, chosenState.slotOfHeat, neurons, size, cnt, touched, after);
        }
        for (const s of states) {
          const r = s.planners[L].step(ids);
          s.reads[L] += r.reads;
          s.bytes[L] += r.bytes;
          s.io[L] += r.ioUs;
          s.hits[L] += r.hits;
          s.unique[L] += r.unique;
          for (let k = 0; k < r.reads; k++) s.runs[runBin(r.readSlots[k])]++;
        }
      }
    }
  } finally {
    await reader.close();
  }
  const freqHist = new Array<number>(FREQ_BINS).fill(0);
  let dead = 0;
  for (let L = 0; L < layers; L++) {
    const tok = tokensPerLayer[L] || 1;
    for (let i = 0; i < neurons; i++) {
      const f = freq[L * neurons + i] / tok;
      if (freq[L * neurons + i] === 0) dead++;
      freqHist[Math.min(FREQ_BINS - 1, Math.floor(f * FREQ_BINS))]++;
    }
  }
  const [b, a] = logNormalise(before, after);
  const held = heldTokens[0] || 0;
  const methods: MethodReport[] = states.map((s) => {
    const totalReads = s.runs.reduce((x, y) => x + y, 0);
    let slots = 0;
    const perTok = (arr: Float64Array, L: number) => (heldTokens[L] > 0 ? arr[L] / heldTokens[L] : 0);
    for (let L = 0; L < layers; L++) slots += s.bytes[L] / inp.bundleBytes;
    const sum = (arr: Float64Array) => Array.from({ length: layers }, (_, L) => perTok(arr, L)).reduce((x, y) => x + y, 0);
    const hits = s.hits.reduce((x, y) => x + y, 0);
    const uniq = s.unique.reduce((x, y) => x + y, 0);
    return {
      method: s.method,
      runHist: Array.from(s.runs, (v) => (totalReads > 0 ? v / totalReads : 0)),
      meanRunBundles: totalReads > 0 ? slots / totalReads : 0,
      perLayer: {
        readsPerToken: Array.from({ length: layers }, (_, L) => perTok(s.reads, L)),
        ioMsPerToken: Array.from({ length: layers }, (_, L) => perTok(s.io, L) / 1000),
        hitRate: Array.from({ length: layers }, (_, L) => (s.unique[L] > 0 ? s.hits[L] / s.unique[L] : 0)),
      },
      model: {
        reads_per_token: sum(s.reads),
        bytes_per_token: sum(s.bytes),
        io_ms_per_token: sum(s.io) / 1000,
        hit_rate: uniq > 0 ? hits / uniq : 0,
        source: "model",
      },
    };
  });
  return {
    title: inp.title ?? `colink report: ${inp.model}`,
    model: inp.model,
    device: { name: inp.device.name, latencyUs: inp.device.latencyUs, bandwidthBytesPerSec: inp.device.bandwidthBytesPerSec },
    dtype: inp.dtype,
    bundleBytes: inp.bundleBytes,
    layers,
    neurons,
    cacheFraction: inp.cacheFraction,
    budget,
    tokens: { fit: fitTokens[0] || 0, heldout: held },
    chosen: inp.chosen,
    sparsity: Array.from({ length: layers }, (_, L) => (tokensPerLayer[L] > 0 ? active[L] / tokensPerLayer[L] / neurons : 0)),
    freqHist,
    deadNeurons: dead,
    heatmap: { layer: heatLayer, size, method: inp.chosen, before: b, after: a },
    methods,
    facts: [],
  };
}
