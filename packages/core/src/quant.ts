/**
 * Element encodings of stored values: f32, f16, bf16, and llama.cpp's q8_0 and q4_0
 * block quantisation (ggml-common.h `block_q8_0` / `block_q4_0`, reference
 * quantisers `quantize_row_q8_0_ref` / `quantize_row_q4_0_ref` in ggml-quants.c),
 * reimplemented here and computed in float32 like the C code (Math.fround at each
 * step), so the bytes match llama.cpp's reference quantiser.
 *
 * q8_0 block, 34 bytes for 32 values:  d: f16 (2 bytes, LE) | qs: 32 x int8
 *   quantise:   amax = max|x|, d = amax / 127, q[j] = roundf(x[j] / d) (half away from 0)
 *   dequantise: x[j] = q[j] * d
 * q4_0 block, 18 bytes for 32 values:  d: f16 (2 bytes, LE) | qs: 16 bytes
 *   byte j (0..15) holds value j in its low nibble and value j + 16 in its high nibble
 *   quantise:   m = the x with the largest |x| (first one on ties), d = m / -8,
 *               q[j] = min(15, floor(x[j] / d + 8.5))
 *   dequantise: x[j] = (q[j] - 8) * d
 * Error bounds (per block, amax = max|x| of the block; docs/format.md#dtypes):
 *   q8_0: |x - x'| <= amax * (0.5 / 127 + 2^-11) + 127 * 2^-25
 *   q4_0: |x - x'| <= amax / 8 * (1 + 2^-8) + 8 * 2^-25 (a full step only at the
 *         end opposite m, where 8 is clamped to 7; elsewhere half a step, amax / 16)
 * The 2^-11 and 2^-25 terms come from storing d as f16 (relative and subnormal rounding).
 */
import { fail } from "./errors.js";
import { bf16ArrayToF32, f16ArrayToF32, f16ToF32, f32ArrayToBf16, f32ArrayToF16, f32ToF16 } from "./half.js";
import { QUANT_BLOCK, storedBytes } from "./image/format.js";
import type { StoredDtype } from "./image/types.js";

export const Q8_0_BLOCK_BYTES = 34;
export const Q4_0_BLOCK_BYTES = 18;

const fr = Math.fround;

function checkBlocks(n: number, dtype: string): void {
  if (n % QUANT_BLOCK !== 0) fail("UNSUPPORTED", `${n} values cannot be stored as ${dtype} (blocks of 32; need a multiple of 32)`);
}

/** Quantises `src` (length a multiple of 32) into `out` at byte `at`, as q8_0. */
export function quantizeQ8_0(src: Float32Array, out: Uint8Array, at = 0): void {
  checkBlocks(src.length, "q8_0");
  for (let b = 0, o = at; b < src.length; b += QUANT_BLOCK, o += Q8_0_BLOCK_BYTES) {
    let amax = 0;
    for (let j = 0; j < QUANT_BLOCK; j++) {
      const v = Math.abs(src[b + j]);
      if (v > amax) amax = v;
    }
    const d = fr(amax / 127);
    const id = d !== 0 ? fr(1 / d) : 0;
    const h = f32ToF16(d);
    out[o] = h & 0xff;
    out[o + 1] = h >>> 8;
    for (let j = 0; j < QUANT_BLOCK; j++) {
      const x = fr(src[b + j] * id);
      const q = x < 0 ? -Math.round(-x) : Math.round(x); // roundf: halves away from zero
      out[o + 2 + j] = q & 0xff;
    }
  }
}

/** Dequantises `n` values of q8_0 at byte `at` of `src` into `out` (from index `outAt`). */
export function dequantizeQ8_0(src: Uint8Array, at: number, n: number, out: Float32Array, outAt = 0): void {
  checkBlocks(n, "q8_0");
  for (let b = 0, o = at; b < n; b += QUANT_BLOCK, o += Q8_0_BLOCK_BYTES) {
    const d = f16ToF32(src[o] | (src[o + 1] << 8));
    for (let j = 0; j < QUANT_BLOCK; j++) out[outAt + b + j] = ((src[o + 2 + j] << 24) >> 24) * d;
  }
}

/** Quantises `src` (length a multiple of 32) into `out` at byte `at`, as q4_0. */
export function quantizeQ4_0(src: Float32Array, out: Uint8Array, at = 0): void {
  checkBlocks(src.length, "q4_0");
  for (let b = 0, o = at; b < src.length; b += QUANT_BLOCK, o += Q4_0_BLOCK_BYTES) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < QUANT_BLOCK; j++) {
      const v = src[b + j];
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = fr(max / -8);
    const id = d !== 0 ? fr(1 / d) : 0;
    const h = f32ToF16(d);
    out[o] = h & 0xff;
    out[o + 1] = h >>> 8;
    for (let j = 0; j < 16; j++) {
      // (int8_t)(x + 8.5f) truncates; x * id lies in [-8, 8], so the sum is >= 0.5 and truncation is floor.
      const lo = Math.min(15, Math.trunc(fr(fr(src[b + j] * id) + 8.5)));
      const hi = Math.min(15, Math.trunc(fr(fr(src[b + 16 + j] * id) + 8.5)));
      out[o + 2 + j] = lo | (hi << 4);
    }
  }
}

/** Dequantises `n` values of q4_0 at byte `at` of `src` into `out` (from index `outAt`). */
export function dequantizeQ4_0(src: Uint8Array, at: number, n: number, out: Float32Array, outAt = 0): void {
  checkBlocks(n, "q4_0");
  for (let b = 0, o = at; b < n; b += QUANT_BLOCK, o += Q4_0_BLOCK_BYTES) {
    const d = f16ToF32(src[o] | (src[o + 1] << 8));
    for (let j = 0; j < 16; j++) {
      const q = src[o + 2 + j];
      out[outAt + b + j] = ((q & 0x0f) - 8) * d;
      out[outAt + b + 16 + j] = ((q >>> 4) - 8) * d;
    }
  }
}

/** Scratch for 16-bit conversions, grown on demand and reused (hot path: one row per call). */
let scratch16 = new Uint16Array(0);

function u16Scratch(n: number): Uint16Array {
  if (scratch16.length < n) scratch16 = new Uint16Array(n);
  return scratch16.subarray(0, n);
}

/**
 * Encodes float32 values as `dtype` into `out` at byte `at` (any alignment);
 * returns the bytes written. f16/bf16 round to nearest even.
 */
export function encodeF32(src: Float32Array, dtype: StoredDtype, out: Uint8Array, at = 0): number {
  const bytes = storedBytes(dtype, src.length);
  switch (dtype) {
    case "f32":
      out.set(new Uint8Array(src.buffer, src.byteOffset, bytes), at);
      break;
    case "f16":
    case "bf16": {
      const h = u16Scratch(src.length);
      if (dtype === "f16") f32ArrayToF16(src, h);
      else f32ArrayToBf16(src, h);
      out.set(new Uint8Array(h.buffer, h.byteOffset, bytes), at);
      break;
    }
    case "q8_0":
      quantizeQ8_0(src, out, at);
      break;
    case "q4_0":
      quantizeQ4_0(src, out, at);
      break;
  }
  return bytes;
}

/**
 * Decodes `n` values of `dtype` stored at byte `at` of `src` (any alignment) into
 * float32 `out` from index `outAt`. Exact for f32/f16/bf16; the formulas above for q8_0/q4_0.
 */
export function decodeToF32(src: Uint8Array, at: number, n: number, dtype: StoredDtype, out: Float32Array, outAt = 0): void {
  const bytes = storedBytes(dtype, n);
  if (at + bytes > src.length) fail("BAD_ARGUMENT", `decode: ${bytes} bytes of ${dtype} at ${at} run past the ${src.length}-byte buffer`);
  switch (dtype) {
    case "f32": {
      const view = new Uint8Array(out.buffer, out.byteOffset + outAt * 4, bytes);
      view.set(src.subarray(at, at + bytes));
      break;
    }
    case "f16":
    case "bf16": {
      const h = u16Scratch(n);
      new Uint8Array(h.buffer, h.byteOffset, bytes).set(src.subarray(at, at + bytes));
      const o = out.subarray(outAt, outAt + n);
      if (dtype === "f16") f16ArrayToF32(h, o);
      else bf16ArrayToF32(h, o);
      break;
    }
    case "q8_0":
      dequantizeQ8_0(src, at, n, out, outAt);
      break;
    case "q4_0":
      dequantizeQ4_0(src, at, n, out, outAt);
      break;
  }
}

/** The documented worst-case absolute error of storing a block whose max |x| is `amax` as `dtype`. */
export function quantErrorBound(dtype: StoredDtype, amax: number): number {
  if (dtype === "q8_0") return amax * (0.5 / 127 + 2 ** -11) + 127 * 2 ** -25;
  if (dtype === "q4_0") return (amax / 8) * (1 + 2 ** -8) + 8 * 2 ** -25;
  return 0;
}
