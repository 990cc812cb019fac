/**
 * Layer-streamed prefill forward pass for Llama-family (Llama, Mistral) and
 * OPT-family checkpoints, float32.
 *
 * A batch of B sequences of T tokens keeps only its hidden states [B·T, d] between
 * layers; each layer's weights are read from the checkpoint, used, and dropped, so
 * peak memory is about one layer's weights in float32 plus the batch's activations
 * (formula in docs/profiler.md). `onFfn` sees each layer's FFN activation values
 * [B·T, ffn] (act(gate)·up, or relu(fc1) for OPT) before the down projection.
 */
import { type Checkpoint, FLOAT_DTYPES, fail, type ModelSpec } from "@colink/core";
import { causalMask, type Kernels } from "./onnx.js";
import { activate, addInPlace, applyRope, gatedAct, layerNorm, repeatKv, rmsNorm, splitColumns } from "./ops.js";

export type FfnHook = (layer: number, values: Float32Array, rows: number) => void | Promise<void>;

export interface ForwardOptions {
  /** Called once per layer with the FFN activation values of the whole batch. */
  onFfn?: FfnHook;
  /** Compute logits for every position (for tests and the reference check); off for profiling. */
  logits?: boolean;
  /** Stop after this many layers (profiling needs no final norm or head). */
  layers?: number;
}

export interface ForwardResult {
  /** [B·T, vocab] when logits were asked for. */
  logits?: Float32Array;
}

/** Models whose weights take at most this much as float32 keep them in memory across batches. */
export const WEIGHT_CACHE_BYTES = 1 << 30;

/** Every tensor a forward pass reads (without the head), with the shape it must have. */
export function requiredTensors(s: ModelSpec): [string, number[]][] {
  const d = s.hidden;
  const out: [string, number[]][] = [];
  if (s.family === "llama") {
    const qd = s.heads * s.headDim;
    const kvd = s.kvHeads * s.headDim;
    out.push(["model.embed_tokens.weight", [s.vocab, d]]);
    for (let l = 0; l < s.layers; l++) {
      const p = `model.layers.${l}.`;
      out.push(
        [`${p}input_layernorm.weight`, [d]],
        [`${p}self_attn.q_proj.weight`, [qd, d]],
        [`${p}self_attn.k_proj.weight`, [kvd, d]],
        [`${p}self_attn.v_proj.weight`, [kvd, d]],
        [`${p}self_attn.o_proj.weight`, [d, qd]],
        [`${p}post_attention_layernorm.weight`, [d]],
        [`${p}mlp.gate_proj.weight`, [s.ffn, d]],
        [`${p}mlp.up_proj.weight`, [s.ffn, d]],
        [`${p}mlp.down_proj.weight`, [d, s.ffn]],
      );
    }
    return out;
  }
  const P = "model.decoder.";
  out.push([`${P}embed_tokens.weight`, [s.vocab, s.wordEmbedProjDim]], [`${P}embed_positions.weight`, [s.maxPositions + 2, d]]);
  if (s.wordEmbedProjDim !== d) out.push([`${P}project_in.weight`, [d, s.wordEmbedProjDim]]);
  for (let l = 0; l < s.layers; l++) {
    const p = `${P}layers.${l}.`;
    const lin = (name: string, o: number, i: number) => {
      out.push([`${p}${name}.weight`, [o, i]]);
      if (s.enableBias) out.push([`${p}${name}.bias`, [o]]);
    };
    for (const n of ["q_proj", "k_proj", "v_proj", "out_proj"]) lin(`self_attn.${n}`, d, d);
    lin("fc1", s.ffn, d);
    lin("fc2", d, s.ffn);
    for (const n of ["self_attn_layer_norm", "final_layer_norm"]) out.push([`${p}${n}.weight`, [d]], [`${p}${n}.bias`, [d]]);
  }
  return out;
}

/** Checks up front that every tensor exists with a float dtype and the expected shape. */
export function checkCheckpoint(s: ModelSpec, ck: Checkpoint): void {
  for (const [name, shape] of requiredTensors(s)) {
    const t = ck.tensor(name); // NOT_FOUND names the weights file and the tensor
    // the error's file prefix (ColinkError) names t.file
    if (!FLOAT_DTYPES.includes(t.dtype))
      fail("UNSUPPORTED", `tensor "${name}" has dtype ${t.dtype}; colink computes with F32, F16 or BF16 tensors`, t.file);
    const okShape = name.endsWith("embed_positions.weight")
      ? t.shape.length === 2 && t.shape[1] === shape[1] && t.shape[0] >= 2
      : t.shape.length === shape.length && t.shape.every((v, i) => v === shape[i]);
    if (!okShape) fail("BAD_FORMAT", `tensor "${name}" has shape [${t.shape.join(", ")}], config.json implies [${shape.join(", ")}]`, t.file);
  }
}

export class Forward {
  private readonly masks = new Map<number, Float32Array>();
  /** Weights kept across batches for a small model (null: stream every layer from the checkpoint). */
  private readonly cache: Map<string, Float32Array> | null;
  /** Reads a weight as float32, through the cache when there is one. */
  private readonly w: (name: string) => Promise<Float32Array>;

  constructor(
    readonly spec: ModelSpec,
    readonly ck: Checkpoint,
    readonly kernels: Kernels,
    opts: { cacheWeights?: boolean } = {},
  ) {
    let f32Bytes = 0;
    for (const n of ck.names()) f32Bytes += ck.tensor(n).shape.reduce((a, b) => a * b, 1) * 4;
    this.cache = (opts.cacheWeights ?? f32Bytes <= WEIGHT_CACHE_BYTES) ? new Map() : null;
    const cache = this.cache;
    this.w = async (name) => {
      if (!cache) return ck.readF32(name);
      let t = cache.get(name);
      if (!t) {
        t = await ck.readF32(name);
        cache.set(name, t);
      }
      return t;
    };
  }

  /**
   * Row-wise concatenation of weights [n_i, k] into one [sum n_i, k], so that one
   * Gemm computes several projections of the same input (q/k/v, gate/up): fewer,
   * larger matmuls. Cached with the weights when the model is small.
   */
  private async fused(key: string, names: string[]): Promise<Float32Array> {
    const hit = this.cache?.get(key);
    if (hit) return hit;
    const sizes = names.map((n) => this.ck.tensor(n).shape.reduce((a, b) => a * b, 1));
    const out = new Float32Array(sizes.reduce((a, b) => a + b, 0));
    let o = 0;
    for (let i = 0; i < names.length; i++) {
      await this.ck.readF32Into(names[i], out, o); // converted in place: no per-part float32 copy
      o += sizes[i];
    }
    this.cache?.set(key, out);
    return out;
  }

  private mask(t: number): Float32Array {
    let m = this.masks.get(t);
    if (!m) {
      m = causalMask(t);
      this.masks.set(t, m);
    }
    return m;
  }

  /** Reads embedding rows for `tokens` (one read per distinct token: never the whole table). */
  private async embed(name: string, tokens: ArrayLike<number>, width: number): Promise<Float32Array> {
    const out = new Float32Array(tokens.length * width);
    const rows = new Map<number, Float32Array>();
    const vocab = this.ck.tensor(name).shape[0];
    for (let i = 0; i < tokens.length; i++) {
      const id = tokens[i];
      if (!(id >= 0 && id < vocab)) throw new RangeError(`token id ${id} is outside the vocabulary of ${vocab}`);
      let row = rows.get(id);
      if (!row) {
        row = await this.ck.readRowsF32(name, id, id + 1);
        rows.set(id, row);
      }
      out.set(row, i * width);
    }
    return out;
  }

  /** Runs B sequences of T tokens each (tokens in sequence-major order). */
  async run(tokens: ArrayLike<number>, b: number, t: number, opts: ForwardOptions = {}): Promise<ForwardResult> {
    return this.spec.family === "llama" ? this.runLlama(tokens, b, t, opts) : this.runOpt(tokens, b, t, opts);
  }

  private async attention(q: Float32Array, k: Float32Array, v: Float32Array, b: number, t: number, scale: number): Promise<Float32Array> {
    const { heads, kvHeads, headDim } = this.spec;
    const rows = b * t;
    return this.kernels.attention(
      q,
      repeatKv(k, rows, kvHeads, heads, headDim),
      repeatKv(v, rows, kvHeads, heads, headDim),
      b,
      t,
      heads,
      headDim,
      scale,
      this.mask(t),
    );
  }

  private async runLlama(tokens: ArrayLike<number>, b: number, t: number, opts: ForwardOptions): Promise<ForwardResult> {
    const s = this.spec;
    const ck = this.ck;
    const d = s.hidden;
    const rows = b * t;
    const qd = s.heads * s.headDim;
    const kvd = s.kvHeads * s.headDim;
    const x = await this.embed("model.embed_tokens.weight", tokens, d);
    const h = new Float32Array(rows * d);
    const nLayers = opts.layers ?? s.layers;
    const K = this.kernels;
    for (let l = 0; l < nLayers; l++) {
      const p = `model.layers.${l}.`;
      // Attention block: weights read, used and released within this scope.
      {
        rmsNorm(x, rows, d, await this.w(`${p}input_layernorm.weight`), s.normEps, h);
        const a = `${p}self_attn.`;
        const wqkv = await this.fused(`${a}qkv`, [`${a}q_proj.weight`, `${a}k_proj.weight`, `${a}v_proj.weight`]);
        const qkv = await K.linear(h, rows, d, wqkv, qd + 2 * kvd);
        const [q, k, v] = splitColumns(qkv, rows, [qd, kvd, kvd]);
        applyRope(q, b, t, s.heads, s.headDim, s.ropeTheta);
        applyRope(k, b, t, s.kvHeads, s.headDim, s.ropeTheta);
        const att = await this.attention(q, k, v, b, t, 1 / Math.sqrt(s.headDim));
        addInPlace(x, await K.linear(att, rows, qd, await this.w(`${a}o_proj.weight`), d));
      }
      {
        rmsNorm(x, rows, d, await this.w(`${p}post_attention_layernorm.weight`), s.normEps, h);
        const wgu = await this.fused(`${p}mlp.gate_up`, [`${p}mlp.gate_proj.weight`, `${p}mlp.up_proj.weight`]);
        if (s.act === "relu" || s.act === "silu") {
          // The whole FFN in one onnxruntime call; H comes back for the activation rule.
          const { h: hv, y } = await K.ffn(h, rows, d, wgu, s.ffn, await this.w(`${p}mlp.down_proj.weight`), d, s.act);
          if (opts.onFfn) await opts.onFfn(l, hv, rows);
          addInPlace(x, y);
        } else {
          const gu = await K.linear(h, rows, d, wgu, 2 * s.ffn);
          const gate = gatedAct(gu, rows, s.ffn, s.act);
          if (opts.onFfn) await opts.onFfn(l, gate, rows);
          addInPlace(x, await K.linear(gate, rows, s.ffn, await this.w(`${p}mlp.down_proj.weight`), d));
        }
      }
    }
    if (!opts.logits) return {};
    rmsNorm(x, rows, d, await this.w("model.norm.weight"), s.normEps, h);
    const head = ck.has("lm_head.weight") || !s.tieWordEmbeddings ? "lm_head.weight" : "model.embed_tokens.weight";
    return { logits: await K.linear(h, rows, d, await this.w(head), s.vocab) };
  }

  private async runOpt(tokens: ArrayLike<number>, b: number, t: number, opts: ForwardOptions): Promise<ForwardResult> {
    const s = this.spec;
    const ck = this.ck;
    const d = s.hidden;
    const rows = b * t;
    const K = this.kernels;
    const P = "model.decoder.";
    const bias = async (name: string): Promise<Float32Array | undefined> => (s.enableBias ? this.w(name) : undefined);
    let x = await this.embed(`${P}embed_tokens.weight`, tokens, s.wordEmbedProjDim);
    if (s.wordEmbedProjDim !== d) x = await K.linear(x, rows, s.wordEmbedProjDim, await this.w(`${P}project_in.weight`), d);
    // Learned positions; OPT's table is offset by 2 (position p reads row p + 2).
    const pos = await ck.readRowsF32(`${P}embed_positions.weight`, 2, 2 + t);
    for (let r = 0; r < rows; r++) {
      const o = (r % t) * d;
      for (let i = 0; i < d; i++) x[r * d + i] += pos[o + i];
    }
    const h = new Float32Array(rows * d);
    const nLayers = opts.layers ?? s.layers;
    for (let l = 0; l < nLayers; l++) {
      const p = `${P}layers.${l}.`;
      {
        const lnW = await this.w(`${p}self_attn_layer_norm.weight`);
        const lnB = await this.w(`${p}self_attn_layer_norm.bias`);
        const src = s.doLayerNormBefore ? layerNorm(x, rows, d, lnW, lnB, s.normEps, h) : x;
        const a = `${p}self_attn.`;
        const q = await K.linear(src, rows, d, await this.w(`${a}q_proj.weight`), d, await bias(`${a}q_proj.bias`));
        const k = await K.linear(src, rows, d, await this.w(`${a}k_proj.weight`), d, await bias(`${a}k_proj.bias`));
        const v = await K.linear(src, rows, d, await this.w(`${a}v_proj.weight`), d, await bias(`${a}v_proj.bias`));
        const att = await this.attention(q, k, v, b, t, 1 / Math.sqrt(s.headDim));
        addInPlace(x, await K.linear(att, rows, d, await this.w(`${a}out_proj.weight`), d, await bias(`${a}out_proj.bias`)));
        if (!s.doLayerNormBefore) layerNorm(x, rows, d, lnW, lnB, s.normEps, x);
      }
      {
        const lnW = await this.w(`${p}final_layer_norm.weight`);
        const lnB = await this.w(`${p}final_layer_norm.bias`);
        const src = s.doLayerNormBefore ? layerNorm(x, rows, d, lnW, lnB, s.normEps, h) : x;
        const f = await K.linear(src, rows, d, await this.w(`${p}fc1.weight`), s.ffn, await bias(`${p}fc1.bias`));
        activate(f, s.act);
        if (opts.onFfn) await opts.onFfn(l, f, rows);
        addInPlace(x, await K.linear(f, rows, s.ffn, await this.w(`${p}fc2.weight`), d, await bias(`${p}fc2.bias`)));
        if (!s.doLayerNormBefore) layerNorm(x, rows, d, lnW, lnB, s.normEps, x);
      }
    }
    if (!opts.logits) return {};
    let y = x;
    if (s.finalLayerNorm)
      y = layerNorm(x, rows, d, await this.w(`${P}final_layer_norm.weight`), await this.w(`${P}final_layer_norm.bias`), s.normEps, h);
    if (s.wordEmbedProjDim !== d) y = await K.linear(y, rows, d, await this.w(`${P}project_out.weight`), s.wordEmbedProjDim);
    const head = ck.has("lm_head.weight") ? "lm_head.weight" : `${P}embed_tokens.weight`;
    return { logits: await K.linear(y, rows, s.wordEmbedProjDim, await this.w(head), s.vocab) };
  }
}
