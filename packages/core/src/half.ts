/**
 * 16-bit floats as raw bits in Uint16Array: IEEE 754 binary16 ("f16", safetensors
 * F16) and bfloat16 ("bf16", the top half of a float32). f32 → 16-bit rounds to
 * nearest, ties to even (what NumPy's astype(float16) and PyTorch's .to(bfloat16)
 * do), keeps infinities and NaN (NaN stays NaN, quiet). Host byte order is assumed
 * little-endian, like safetensors itself.
 */

// Shared scratch for reinterpreting one float's bits without allocating.
const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** Bits of a float32 (as an unsigned 32-bit integer). */
function bitsOf(x: number): number {
  scratchF32[0] = x;
  return scratchU32[0];
}

/** Float32 bits → f16 bits, round to nearest even. */
function f32BitsToF16(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const e = (x >>> 23) & 0xff;
  const m = x & 0x7fffff;
  if (e === 0xff) return m === 0 ? sign | 0x7c00 : sign | 0x7e00 | (m >>> 13); // inf, quiet NaN
  if (e > 142) return sign | 0x7c00; // >= 2^16: beyond f16's range even before rounding
  if (e >= 113) {
    // Normal f16: exponent rebias 127 → 15, drop 13 mantissa bits with RNE. A carry out
    // of the mantissa correctly bumps the exponent (up to infinity at 0x7c00).
    let h = sign | ((e - 112) << 10) | (m >>> 13);
    const rest = m & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
    return h;
  }
  if (e < 102) return sign; // below half the smallest subnormal (2^-25): rounds to zero
  // Subnormal f16: value = full x 2^(e-150) = h x 2^-24, so h = full >> (126 - e).
  const full = m | 0x800000;
  const shift = 126 - e; // 14..24
  let h = full >>> shift;
  const rest = full & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rest > half || (rest === half && h & 1)) h++;
  return sign | h;
}

/** One float → f16 bits (round to nearest even). */
export function f32ToF16(x: number): number {
  return f32BitsToF16(bitsOf(x));
}

let f16Table: Float32Array | null = null;

/** All 65536 f16 values as float32, built once (256 KiB); conversion is then a lookup. */
function f16ToF32Table(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >>> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0) t[h] = sign * m * 2 ** -24;
    else if (e === 31) t[h] = m === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
    else t[h] = sign * (1 + m / 1024) * 2 ** (e - 15);
  }
  f16Table = t;
  return t;
}

/** f16 bits → float. */
export function f16ToF32(h: number): number {
  return f16ToF32Table()[h & 0xffff];
}

/** One float → bf16 bits (round to nearest even). */
export function f32ToBf16(x: number): number {
  const b = bitsOf(x);
  if ((b & 0x7f800000) === 0x7f800000 && b & 0x7fffff) return (b >>> 16) | 0x40; // quiet NaN
  // Adding 0x7fff plus the lowest kept bit rounds ties to even; cannot pass 2^32 for non-NaN.
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** bf16 bits → float. */
export function bf16ToF32(h: number): number {
  scratchU32[0] = (h & 0xffff) << 16;
  return scratchF32[0];
}

/** f16 array → float32 array (into `out` when given; it must be as long). */
export function f16ArrayToF32(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  const t = f16ToF32Table();
  for (let i = 0; i < src.length; i++) out[i] = t[src[i]];
  return out;
}

/** float32 array → f16 array (round to nearest even). */
export function f32ArrayToF16(src: Float32Array, out: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) out[i] = f32BitsToF16(bits[i]);
  return out;
}

/** bf16 array → float32 array: each value is the high half of a float32. */
export function bf16ArrayToF32(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  const o = new Uint32Array(out.buffer, out.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) o[i] = src[i] << 16;
  return out;
}

/** float32 array → bf16 array (round to nearest even). */
export function f32ArrayToBf16(src: Float32Array, out: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) {
    const b = bits[i];
    out[i] = (b & 0x7f800000) === 0x7f800000 && b & 0x7fffff ? (b >>> 16) | 0x40 : (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
  return out;
}
