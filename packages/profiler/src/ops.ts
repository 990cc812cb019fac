/**
 * Elementwise and row-wise operations of the forward pass, on typed arrays in place
 * where possible. Matrix multiplies are elsewhere (onnx.ts); these are O(rows x d)
 * and cost little next to them. Each mirrors the Hugging Face float32 code it names.
 */
import type { Activation } from "@colink/core";

/** LlamaRMSNorm: w * x / sqrt(mean(x²) + eps), row by row, into `out`. */
export function rmsNorm(x: Float32Array, rows: number, d: number, w: Float32Array, eps: number, out: Float32Array): Float32Array {
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    let ss = 0;
    for (let i = 0; i < d; i++) ss += x[o + i] * x[o + i];
    const inv = 1 / Math.sqrt(Math.fround(ss / d) + eps);
    for (let i = 0; i < d; i++) out[o + i] = w[i] * Math.fround(x[o + i] * inv);
  }
  return out;
}

/** nn.LayerNorm (biased variance), row by row, into `out`. */
export function layerNorm(
  x: Float32Array,
  rows: number,
  d: number,
  w: Float32Array,
  b: Float32Array,
  eps: number,
  out: Float32Array,
): Float32Array {
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    let s = 0;
    for (let i = 0; i < d; i++) s += x[o + i];
    const mean = s / d;
    let v = 0;
    for (let i = 0; i < d; i++) {
      const c = x[o + i] - mean;
      v += c * c;
    }
    const inv = 1 / Math.sqrt(v / d + eps);
    for (let i = 0; i < d; i++) out[o + i] = (x[o + i] - mean) * inv * w[i] + b[i];
  }
  return out;
}

/** a += b. */
export function addInPlace(a: Float32Array, b: Float32Array): void {
  for (let i = 0; i < a.length; i++) a[i] += b[i];
}

/**
 * Rotary position embedding, Hugging Face convention (rotate_half: dimension i pairs
 * with i + D/2), applied in place to x [b, t, h, D] for positions 0..t-1 of each
 * sequence. Frequencies and angles are rounded to float32 as PyTorch computes them.
 */
export function applyRope(x: Float32Array, b: number, t: number, h: number, dHead: number, theta: number): void {
  const half = dHead / 2;
  const cos = new Float32Array(t * half);
  const sin = new Float32Array(t * half);
  for (let i = 0; i < half; i++) {
    const invFreq = Math.fround(1 / Math.fround(theta ** Math.fround((2 * i) / dHead)));
    for (let p = 0; p < t; p++) {
      const a = Math.fround(p * invFreq);
      cos[p * half + i] = Math.cos(a);
      sin[p * half + i] = Math.sin(a);
    }
  }
  for (let s = 0; s < b; s++)
    for (let p = 0; p < t; p++) {
      const c0 = p * half;
      for (let hh = 0; hh < h; hh++) {
        const o = ((s * t + p) * h + hh) * dHead;
        for (let i = 0; i < half; i++) {
          const x1 = x[o + i];
          const x2 = x[o + i + half];
          const c = cos[c0 + i];
          const sn = sin[c0 + i];
          x[o + i] = x1 * c - x2 * sn;
          x[o + i + half] = x2 * c + x1 * sn;
        }
      }
    }
}

/** Grouped-query attention: repeats each of kvH heads H/kvH times, [rows, kvH, D] → [rows, H, D]. */
export function repeatKv(x: Float32Array, rows: number, kvH: number, h: number, dHead: number): Float32Array {
  if (kvH === h) return x;
  const rep = h / kvH;
  const out = new Float32Array(rows * h * dHead);
  for (let r = 0; r < rows; r++)
    for (let hh = 0; hh < h; hh++) {
      const src = (r * kvH + Math.floor(hh / rep)) * dHead;
      out.set(x.subarray(src, src + dHead), (r * h + hh) * dHead);
    }
  return out;
}

/** erf with |error| < 1.2e-7 (Numerical Recipes erfc, Chebyshev), enough for float32 GELU. */
function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - r : r - 1;
}

/** act(x) in place, Hugging Face ACT2FN names. */
export function activate(x: Float32Array, act: Activation): void {
  switch (act) {
    case "relu":
      for (let i = 0; i < x.length; i++) if (!(x[i] > 0)) x[i] = 0;
      return;
    case "silu":
      for (let i = 0; i < x.length; i++) x[i] = x[i] / (1 + Math.exp(-x[i]));
      return;
    case "gelu":
      for (let i = 0; i < x.length; i++) x[i] = 0.5 * x[i] * (1 + erf(x[i] * Math.SQRT1_2));
      return;
    default: {
      // gelu_new / gelu_pytorch_tanh: the tanh approximation
      const k = Math.sqrt(2 / Math.PI);
      for (let i = 0; i < x.length; i++) {
        const v = x[i];
        x[i] = 0.5 * v * (1 + Math.tanh(k * (v + 0.044715 * v * v * v)));
      }
    }
  }
}

/**
 * The gated FFN's hidden values act(gate) * up from a fused [rows, 2f] gate|up
 * matmul output, into a new [rows, f] array, in one pass.
 */
export function gatedAct(gu: Float32Array, rows: number, f: number, act: Activation): Float32Array {
  const out = new Float32Array(rows * f);
  if (act === "relu") {
    // One pass: relu(g) * u, reading the gate and up halves of each row directly.
    for (let r = 0; r < rows; r++) {
      const o = r * f;
      const g0 = 2 * o;
      const u0 = g0 + f;
      // Branch-free: about half the gates are negative, so a branch mispredicts often.
      for (let i = 0; i < f; i++) out[o + i] = Math.max(gu[g0 + i], 0) * gu[u0 + i];
    }
    return out;
  }
  for (let r = 0; r < rows; r++) out.set(gu.subarray(2 * r * f, 2 * r * f + f), r * f);
  activate(out, act);
  for (let r = 0; r < rows; r++) {
    const o = r * f;
    const u0 = 2 * o + f;
    for (let i = 0; i < f; i++) out[o + i] *= gu[u0 + i];
  }
  return out;
}

/** Splits the columns of a [rows, sum(widths)] matrix into separate [rows, w] matrices. */
export function splitColumns(m: Float32Array, rows: number, widths: number[]): Float32Array[] {
  const total = widths.reduce((a, b) => a + b, 0);
  const outs = widths.map((w) => new Float32Array(rows * w));
  for (let r = 0; r < rows; r++) {
    let c = r * total;
    for (let j = 0; j < widths.length; j++) {
      const w = widths[j];
      outs[j].set(m.subarray(c, c + w), r * w);
      c += w;
    }
  }
  return outs;
}

/** a *= b elementwise. */
export function mulInPlace(a: Float32Array, b: Float32Array): void {
  for (let i = 0; i < a.length; i++) a[i] *= b[i];
}
