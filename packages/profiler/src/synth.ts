/**
 * Synthetic activation traces for model shapes we cannot run here (Llama-2-7B,
 * OPT-6.7B, Mistral-7B), with the statistics that matter to placement taken from
 * published measurements of real models. The generative model, per layer:
 *
 * 1. Sparsity. A target fraction d of the layer's neurons fires per token. It
 *    grows linearly from `densityLo` (first layer) to `densityHi` (last layer);
 *    the defaults per shape follow the measured sparsity of ReLU models (see
 *    SHAPES and docs/placement.md#synthetic-traces).
 * 2. Power-law hotness (PowerInfer). Neuron ids get a random rank; the neuron of
 *    rank r has weight (r + 1)^-alpha. A "background" share of each token's active
 *    neurons is drawn from this distribution, so a few neurons fire on most tokens
 *    and most fire rarely.
 * 3. Clustered co-activation (Deja Vu, Neuralink). The neurons are split at random
 *    into clusters of `clusterSize`; clusters have Zipf popularity. A token activates
 *    K clusters; each member of an active cluster fires with probability `pIn`.
 * 4. Temporal reuse (LLM in a Flash's sliding window). Within a sequence each of the
 *    token's K cluster slots keeps the previous token's cluster with probability
 *    `reuse`, else draws a fresh one; background neurons are drawn afresh per token.
 *
 * Neuron ids carry no structure (hotness and clusters are assigned by random
 * permutations), so the identity order is as scattered as in a real checkpoint.
 * Everything comes from one seeded PRNG per layer: same options → same bytes.
 */
import {
  ColinkError,
  holdoutSplit,
  progress,
  Sfc32,
  synthLayerStructure,
  type TraceChunk,
  type TraceMeta,
  TraceWriter,
  tokenColumns,
} from "@colink/core";

// kept importable from here for scripts written against earlier versions
export { Sfc32 };

export interface SynthOptions {
  /** llama2-7b | opt-6.7b | mistral-7b | NxL (neurons x layers, e.g. 1024x3) */
  shape: string;
  tokens: number;
  seed: number;
  out: string;
  /** Tokens per sequence (default 128) and held-out fraction (default 0.2). */
  seqLen?: number;
  holdout?: number;
  quiet?: boolean;
  /** Overrides of the generative model's parameters (defaults come from the shape). */
  model?: Partial<SynthModel>;
}

export interface SynthResult {
  layers: number;
  neurons: number;
  tokens: number;
  sequences: number;
}

/** Parameters of the generative model (documented above and in docs/placement.md). */
export interface SynthModel {
  /** Active fraction at the first and last layer. */
  densityLo: number;
  densityHi: number;
  /** Power-law exponent of neuron hotness. */
  alpha: number;
  /** Share of a token's active neurons drawn from the hotness distribution. */
  background: number;
  /** Neurons per co-activation cluster. */
  clusterSize: number;
  /** Zipf exponent of cluster popularity. */
  clusterAlpha: number;
  /** Probability that a member of an active cluster fires. */
  pIn: number;
  /** Probability that a cluster slot carries over to the next token of the sequence. */
  reuse: number;
}

export interface SynthShape {
  family: "llama" | "opt";
  layers: number;
  neurons: number;
  hidden: number;
  /** Bytes of one neuron's bundle in fp16 (Llama: gate row + up row + down column). */
  bundleBytes: number;
  model: SynthModel;
}

// Sparsity targets: LLM in a Flash (arXiv 2312.11514) measures ~97% FFN sparsity for
// OPT-6.7B (3% active); ReLU-fied Llama-2-7B / Mistral-7B variants (ReluLLaMA,
// ProSparse arXiv 2402.13516, TurboSparse arXiv 2406.05955) reach 85-95%+. Deja Vu
// (arXiv 2310.17157) shows MLP sparsity varies by layer, so we ramp it across layers.
const RELU_LLAMA: SynthModel = {
  densityLo: 0.05,
  densityHi: 0.09,
  alpha: 1.0,
  background: 0.4,
  clusterSize: 64,
  clusterAlpha: 1.1,
  pIn: 0.6,
  reuse: 0.7,
};

export const SYNTH_SHAPES: Readonly<Record<string, SynthShape>> = Object.freeze({
  "llama2-7b": { family: "llama", layers: 32, neurons: 11008, hidden: 4096, bundleBytes: 3 * 4096 * 2, model: RELU_LLAMA },
  "mistral-7b": { family: "llama", layers: 32, neurons: 14336, hidden: 4096, bundleBytes: 3 * 4096 * 2, model: RELU_LLAMA },
  // OPT bundle: fc1 row + bias + fc2 column
  "opt-6.7b": {
    family: "opt",
    layers: 32,
    neurons: 16384,
    hidden: 4096,
    bundleBytes: (2 * 4096 + 1) * 2,
    model: { ...RELU_LLAMA, densityLo: 0.02, densityHi: 0.04 },
  },
});

/** Resolves `--shape`: a named shape or NxL (neurons x layers). */
export function resolveShape(shape: string): SynthShape {
  const named = SYNTH_SHAPES[shape];
  if (named) return named;
  const m = /^(\d+)x(\d+)$/.exec(shape);
  if (!m)
    throw new ColinkError(
      "BAD_ARGUMENT",
      `--shape "${shape}": expected ${Object.keys(SYNTH_SHAPES).join(", ")} or NxL (neurons x layers, e.g. 1024x3)`,
    );
  const neurons = Number(m[1]);
  const layers = Number(m[2]);
  if (neurons < 8 || neurons > 1 << 20 || layers < 1 || layers > 1024)
    throw new ColinkError("BAD_ARGUMENT", `--shape "${shape}": need 8 <= neurons <= 1048576 and 1 <= layers <= 1024`);
  // Llama proportions (intermediate = 2.6875 x hidden), rounded to a multiple of 8.
  const hidden = Math.max(8, Math.round(neurons / 2.6875 / 8) * 8);
  const clusterSize = Math.max(4, Math.min(64, Math.round(neurons / 64)));
  return { family: "llama", layers, neurons, hidden, bundleBytes: 3 * hidden * 2, model: { ...RELU_LLAMA, clusterSize } };
}

/** Walker's alias table: O(1) draws from a discrete distribution. */
class Alias {
  private readonly prob: Float64Array;
  private readonly alias: Int32Array;
  readonly n: number;

  constructor(weights: Float64Array) {
    const n = weights.length;
    this.n = n;
    this.prob = new Float64Array(n);
    this.alias = new Int32Array(n);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += weights[i];
    const scaled = new Float64Array(n);
    const small = new Int32Array(n);
    const large = new Int32Array(n);
    let ns = 0;
    let nl = 0;
    for (let i = 0; i < n; i++) {
      scaled[i] = (weights[i] * n) / sum;
      if (scaled[i] < 1) small[ns++] = i;
      else large[nl++] = i;
    }
    while (ns > 0 && nl > 0) {
      const s = small[--ns];
      const l = large[--nl];
      this.prob[s] = scaled[s];
      this.alias[s] = l;
      scaled[l] = scaled[l] + scaled[s] - 1;
      if (scaled[l] < 1) small[ns++] = l;
      else large[nl++] = l;
    }
    while (nl > 0) this.prob[large[--nl]] = 1;
    while (ns > 0) this.prob[small[--ns]] = 1;
  }

  draw(rng: Sfc32): number {
    const u = rng.next() * this.n;
    const i = Math.floor(u);
    return u - i < this.prob[i] ? i : this.alias[i];
  }
}

/** One layer's generator: fixed structure (hotness, clusters) plus temporal state. */
export class LayerGenerator {
  readonly neurons: number;
  private readonly rng: Sfc32;
  private readonly hot: Alias;
  private readonly hotId: Int32Array;
  private readonly clusters: Alias;
  /** Members of cluster c: members[clusterStart[c] .. clusterStart[c + 1]). */
  private readonly members: Int32Array;
  private readonly clusterStart: Int32Array;
  private readonly slots: Int32Array;
  private readonly bgCount: number;
  private readonly pIn: number;
  private readonly reuse: number;
  private readonly bits: Uint32Array;

  constructor(neurons: number, density: number, m: SynthModel, seed: number, layer: number) {
    this.neurons = neurons;
    // hotness rank → id, and ids grouped by cluster: drawn in core so a benchmark
    // can rebuild the true clusters from the trace's meta (synthLayerStructure)
    const s = synthLayerStructure(neurons, seed, layer);
    this.rng = s.rng;
    const w = new Float64Array(neurons);
    for (let r = 0; r < neurons; r++) w[r] = (r + 1) ** -m.alpha;
    this.hot = new Alias(w);
    this.hotId = s.hotId;
    this.members = s.members;
    const size = Math.max(1, Math.min(neurons, Math.round(m.clusterSize)));
    const nc = Math.max(1, Math.floor(neurons / size));
    this.clusterStart = new Int32Array(nc + 1);
    for (let c = 0; c <= nc; c++) this.clusterStart[c] = Math.min(neurons, c * size);
    this.clusterStart[nc] = neurons; // the last cluster takes the remainder
    const cw = new Float64Array(nc);
    for (let c = 0; c < nc; c++) cw[c] = (c + 1) ** -m.clusterAlpha;
    this.clusters = new Alias(cw);
    // Draws overlap (popular clusters repeat across slots, background hits cluster
    // members): aim 30% higher so the measured density lands near d.
    const target = 1.3 * density * neurons;
    this.bgCount = Math.round(target * m.background);
    const k = Math.max(1, Math.round((target * (1 - m.background)) / (size * m.pIn)));
    this.slots = new Int32Array(Math.min(k, nc)).fill(-1);
    this.pIn = m.pIn;
    this.reuse = m.reuse;
    this.bits = new Uint32Array((neurons + 31) >>> 5);
  }

  /**
   * Writes the next token's active ids, ascending, into `out` from `at`; returns the
   * new end. `fresh` starts a new sequence (no carry-over from the previous token).
   */
  next(fresh: boolean, out: Uint16Array | Uint32Array, at: number): number {
    const rng = this.rng;
    const bits = this.bits;
    const slots = this.slots;
    for (let s = 0; s < slots.length; s++) {
      if (fresh || slots[s] < 0 || rng.next() >= this.reuse) slots[s] = this.clusters.draw(rng);
      const c = slots[s];
      const end = this.clusterStart[c + 1];
      for (let i = this.clusterStart[c]; i < end; i++) {
        if (rng.next() < this.pIn) {
          const id = this.members[i];
          bits[id >>> 5] |= 1 << (id & 31);
        }
      }
    }
    for (let i = 0; i < this.bgCount; i++) {
      const id = this.hotId[this.hot.draw(rng)];
      bits[id >>> 5] |= 1 << (id & 31);
    }
    // Extract ascending (and de-duplicated) from the bitset, clearing it as we go.
    let n = at;
    for (let w = 0; w < bits.length; w++) {
      let word = bits[w];
      if (word === 0) continue;
      bits[w] = 0;
      while (word !== 0) {
        const low = word & -word;
        out[n++] = (w << 5) | (31 - Math.clz32(low));
        word ^= low;
      }
    }
    return n;
  }
}

/** CLI flag of each model parameter, so an error names what the user typed. */
const FLAGS: Readonly<Record<keyof SynthModel, string>> = {
  densityLo: "--density-lo",
  densityHi: "--density-hi",
  alpha: "--alpha",
  background: "--background",
  clusterSize: "--cluster-size",
  clusterAlpha: "--cluster-alpha",
  pIn: "--p-in",
  reuse: "--reuse",
};

/**
 * Checks a (possibly overridden) model for `neurons` per layer; throws one
 * BAD_ARGUMENT line naming the flag and the expected range.
 */
export function validateModel(m: SynthModel, neurons: number): void {
  const bad = (k: keyof SynthModel, want: string): never => {
    throw new ColinkError("BAD_ARGUMENT", `${FLAGS[k]} must be ${want}, got ${m[k]}`);
  };
  for (const k of ["densityLo", "densityHi", "background", "reuse"] as const) {
    if (!(m[k] >= 0 && m[k] <= 1)) bad(k, "a fraction in [0, 1]");
  }
  // pIn = 0 would ask for infinitely many clusters per token to reach the density
  if (!(m.pIn > 0 && m.pIn <= 1)) bad("pIn", "a probability in (0, 1]");
  if (m.densityLo > m.densityHi)
    throw new ColinkError("BAD_ARGUMENT", `--density-lo (${m.densityLo}) must be <= --density-hi (${m.densityHi})`);
  for (const k of ["alpha", "clusterAlpha"] as const) {
    if (!(Number.isFinite(m[k]) && m[k] >= 0 && m[k] <= 10)) bad(k, "an exponent in [0, 10]");
  }
  if (!(Number.isInteger(m.clusterSize) && m.clusterSize >= 1 && m.clusterSize <= neurons))
    bad("clusterSize", `an integer in [1, ${neurons}] (neurons per layer)`);
}

/** Writes a synthetic trace to `opts.out` (atomically) and returns its shape. */
export async function synthesizeTrace(opts: SynthOptions): Promise<SynthResult> {
  const shape = resolveShape(opts.shape);
  const model: SynthModel = { ...shape.model };
  // undefined overrides (flags not given) keep the shape's default
  for (const [k, v] of Object.entries(opts.model ?? {})) if (v !== undefined) model[k as keyof SynthModel] = v;
  validateModel(model, shape.neurons);
  const tokens = opts.tokens;
  if (!Number.isInteger(tokens) || tokens < 1) throw new ColinkError("BAD_ARGUMENT", `--tokens must be an integer >= 1, got ${tokens}`);
  const seed = opts.seed;
  if (!Number.isInteger(seed) || seed < 0) throw new ColinkError("BAD_ARGUMENT", `--seed must be an integer >= 0, got ${seed}`);
  const seqLen = opts.seqLen ?? 128;
  if (!Number.isInteger(seqLen) || seqLen < 1) throw new ColinkError("BAD_ARGUMENT", `--seq-len must be an integer >= 1, got ${seqLen}`);
  const holdout = opts.holdout ?? 0.2;
  const { layers, neurons } = shape;
  const sequences = Math.ceil(tokens / seqLen);
  const split = holdoutSplit(sequences, holdout, seed);
  const meta: TraceMeta = {
    schemaVersion: 1,
    modelId: `synthetic-${opts.shape}`,
    configDigest: "",
    layers,
    neurons,
    activation: { rule: "synthetic", params: { ...model } },
    corpusDigest: "",
    seqLen,
    sequences,
    tokens,
    holdout,
    seed,
    source: "synth",
    extra: { shape: opts.shape, family: shape.family, hiddenSize: shape.hidden, bundleBytes: shape.bundleBytes },
  };
  const gens: LayerGenerator[] = [];
  for (let l = 0; l < layers; l++) {
    const d = layers === 1 ? model.densityLo : model.densityLo + ((model.densityHi - model.densityLo) * l) / (layers - 1);
    gens.push(new LayerGenerator(neurons, d, model, seed, l));
  }
  const Ids = neurons <= 65536 ? Uint16Array : Uint32Array;
  // Chunks of whole sequences, ~512 tokens: bounded memory, batches pyarrow reads well.
  const seqPerChunk = Math.max(1, Math.floor(512 / seqLen));
  const writer = await TraceWriter.create(opts.out, meta);
  const bar = progress({ label: "synth", total: tokens, unit: "tok", quiet: opts.quiet });
  try {
    for (let s0 = 0; s0 < sequences; s0 += seqPerChunk) {
      const s1 = Math.min(sequences, s0 + seqPerChunk);
      const t0 = s0 * seqLen;
      const t1 = Math.min(tokens, s1 * seqLen);
      const n = t1 - t0;
      const { seq: seqCol, pos: posCol, split: splitCol } = tokenColumns(t0, t1, seqLen, split);
      for (let l = 0; l < layers; l++) {
        const g = gens[l];
        let ids = new Ids(Math.max(1024, n * 64));
        const offsets = new Int32Array(n + 1);
        let end = 0;
        for (let i = 0; i < n; i++) {
          if (ids.length - end < neurons) {
            const grown = new Ids(Math.max(ids.length * 2, end + neurons));
            grown.set(ids.subarray(0, end));
            ids = grown;
          }
          end = g.next(posCol[i] === 0, ids, end);
          offsets[i + 1] = end;
        }
        const chunk: TraceChunk = { layer: l, seq: seqCol, pos: posCol, split: splitCol, offsets, ids: ids.slice(0, end) };
        writer.write(chunk);
      }
      bar.tick(n);
      // let the file pump drain so memory stays bounded
      await new Promise((r) => setImmediate(r));
    }
    await writer.close();
  } catch (e) {
    await writer.abort();
    throw e;
  } finally {
    bar.done();
  }
  return { layers, neurons, tokens, sequences };
}
