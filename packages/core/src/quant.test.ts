import { describe, expect, it } from "vitest";
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from "./half.js";
import { decodeToF32, dequantizeQ4_0, encodeF32, quantErrorBound, quantizeQ4_0, quantizeQ8_0 } from "./quant.js";

/**
 * 160 values: a rational ramp (exact in float32 everywhere), a block of -16..15, a zero
 * block, and a block with a +-0.5 tie and one large value. The expected bytes were made
 * by gguf-py 0.19.0 (`gguf.quants.quantize`, llama.cpp's Python port of the reference
 * quantisers) from the same values:
 *   i = np.arange(160); x = ((((i*37) % 101) - 50) / 997).astype(np.float32); x[32:64] = arange(32) - 16; ...
 */
function fixture(): Float32Array {
  const x = new Float32Array(160);
  for (let i = 0; i < 160; i++) x[i] = (((i * 37) % 101) - 50) / 997;
  for (let j = 0; j < 32; j++) x[32 + j] = j - 16;
  x.fill(0, 64, 128);
  x[100] = 0.5;
  x[101] = -0.5;
  x[120] = 3.25;
  return x;
}

const GGUF_Q8_0 =
  "780e81df3d9af856b41270cd2b89e745a2005ebb1977d53390ee4caa0866c3217fdc083081899199a1a9b1b9c0c8d0d8e0e8f0f8000810182028303840474f575f676f77000000000000000000000000000000000000000000000000000000000000000000008d260000000014ec0000000000000000000000000000000000007f00000000000000780e66c3217fdc3a98f654b10f6dcb2986e4429ffd5bb91775d2308eec4aa70563c0";
const GGUF_Q4_0 =
  "6b1ee046acf258bd1379df358be046acf2680040809191a2a2b3b3c4c4d5d5e6e6f7f7f800808888888888888888888888888888888880b6888888888789888808888888888888886b9e42ec8620ca741fb953fd9731eb852fca";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** Deterministic values with a spread of magnitudes per block (like real weight rows). */
function weights(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 2 ** 32 - 0.5;
    out[i] = u * 0.1 * (1 + ((i >> 5) % 5)) * (i % 97 === 0 ? 20 : 1);
  }
  return out;
}

describe("q8_0 and q4_0", () => {
  it("write the same bytes as llama.cpp's reference quantisers", () => {
    const x = fixture();
    const q8 = new Uint8Array(5 * 34);
    quantizeQ8_0(x, q8);
    expect(hex(q8)).toBe(GGUF_Q8_0);
    const q4 = new Uint8Array(5 * 18);
    quantizeQ4_0(x, q4);
    expect(hex(q4)).toBe(GGUF_Q4_0);
  });

  it("put value j in the low nibble and j + 16 in the high nibble of q4_0 byte j", () => {
    const x = Float32Array.from({ length: 32 }, (_, j) => j - 16); // max |x| at x[0] = -16: d = 2
    const q = new Uint8Array(18);
    quantizeQ4_0(x, q);
    expect(q[0] | (q[1] << 8)).toBe(0x4000); // f16 2.0
    expect(q[2]).toBe(0x80); // x[0] = -16 -> 0, x[16] = 0 -> 8
    const back = new Float32Array(32);
    dequantizeQ4_0(q, 0, 32, back);
    expect(back[0]).toBe(-16);
    expect(back[16]).toBe(0);
    expect(back[31]).toBe(14); // 15 / 2 + 8.5 = 16 clamps to 15: (15 - 8) x 2
  });

  it("dequantise within the documented bound, at unaligned offsets", () => {
    const n = 4096;
    const x = weights(n, 7);
    for (const dtype of ["q8_0", "q4_0"] as const) {
      const buf = new Uint8Array(3 + (n / 32) * 34);
      encodeF32(x, dtype, buf, 3);
      const back = new Float32Array(n);
      decodeToF32(buf, 3, n, dtype, back);
      let worstRatio = 0;
      for (let b = 0; b < n; b += 32) {
        let amax = 0;
        for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b + j]));
        const bound = quantErrorBound(dtype, amax);
        for (let j = 0; j < 32; j++) {
          const err = Math.abs(back[b + j] - x[b + j]);
          expect(err).toBeLessThanOrEqual(bound);
          worstRatio = Math.max(worstRatio, err / bound);
        }
      }
      expect(worstRatio).toBeGreaterThan(0.3); // the bound is not vacuous
    }
  });

  it("refuse a length that is not a multiple of 32", () => {
    expect(() => encodeF32(new Float32Array(33), "q8_0", new Uint8Array(100))).toThrow(/33 values cannot be stored as q8_0/);
  });
});

describe("f32, f16, bf16", () => {
  it("round-trip exactly through bytes at any offset", () => {
    const x = weights(100, 3);
    for (const [dtype, size, round] of [
      ["f32", 4, (v: number) => Math.fround(v)],
      ["f16", 2, (v: number) => f16ToF32(f32ToF16(v))],
      ["bf16", 2, (v: number) => bf16ToF32(f32ToBf16(v))],
    ] as const) {
      const buf = new Uint8Array(1 + 100 * size);
      expect(encodeF32(x, dtype, buf, 1)).toBe(100 * size);
      const back = new Float32Array(101);
      decodeToF32(buf, 1, 100, dtype, back, 1);
      for (let i = 0; i < 100; i++) expect(back[1 + i]).toBe(round(x[i]));
    }
  });
});
