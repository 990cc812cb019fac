import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { bf16ArrayToF32, bf16ToF32, f16ArrayToF32, f16ToF32, f32ArrayToBf16, f32ArrayToF16, f32ToBf16, f32ToF16 } from "./half.js";

describe("f16", () => {
  it("converts exact values and specials", () => {
    expect(f32ToF16(1)).toBe(0x3c00);
    expect(f32ToF16(-2)).toBe(0xc000);
    expect(f32ToF16(65504)).toBe(0x7bff);
    expect(f32ToF16(65520)).toBe(0x7c00); // rounds up to infinity
    expect(f32ToF16(2 ** -24)).toBe(0x0001);
    expect(f32ToF16(2 ** -25)).toBe(0x0000); // tie to even: zero
    expect(f32ToF16(3 * 2 ** -25)).toBe(0x0002); // tie to even: 2
    expect(f32ToF16(Number.POSITIVE_INFINITY)).toBe(0x7c00);
    expect(f32ToF16(-0)).toBe(0x8000);
    expect(Number.isNaN(f16ToF32(f32ToF16(Number.NaN)))).toBe(true);
    expect(f16ToF32(0x3c00)).toBe(1);
    expect(f16ToF32(0x0001)).toBe(2 ** -24);
  });

  it("rounds ties to even", () => {
    // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: even mantissa (1) wins.
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00);
    // 1 + 3 * 2^-11 lies halfway between 1 + 2^-10 (odd) and 1 + 2^-9 (even).
    expect(f32ToF16(1 + 3 * 2 ** -11)).toBe(0x3c02);
  });

  it("round-trips every f16 bit pattern", () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const f = f16ArrayToF32(all);
    const back = f32ArrayToF16(f);
    for (let h = 0; h < 65536; h++) {
      const nan = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (!nan) expect(back[h]).toBe(h);
    }
  });

  it("matches NumPy on random floats", () => {
    const xs = new Float32Array(4096);
    let s = 12345;
    for (let i = 0; i < xs.length; i++) {
      s = (s * 1103515245 + 12345) >>> 0;
      xs[i] = ((s / 2 ** 32) * 2 - 1) * 2 ** ((i % 40) - 28);
    }
    let ref: number[];
    try {
      const out = execFileSync(
        "python3",
        ["-c", "import sys,numpy as np;a=np.frombuffer(sys.stdin.buffer.read(),'<f4');sys.stdout.write(','.join(map(str,a.astype(np.float16).view(np.uint16))))"],
        { input: Buffer.from(xs.buffer) },
      );
      ref = out.toString().split(",").map(Number);
    } catch {
      return; // no python3/numpy here: the bit-exact cases above still ran
    }
    expect(Array.from(f32ArrayToF16(xs))).toEqual(ref);
  });
});

describe("bf16", () => {
  it("converts and rounds ties to even", () => {
    expect(f32ToBf16(1)).toBe(0x3f80);
    expect(bf16ToF32(0x3f80)).toBe(1);
    expect(f32ToBf16(1 + 2 ** -8)).toBe(0x3f80); // tie, even stays
    expect(f32ToBf16(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie, odd rounds up
    expect(f32ToBf16(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81); // above the tie
    expect(f32ToBf16(Number.NEGATIVE_INFINITY)).toBe(0xff80);
    expect(Number.isNaN(bf16ToF32(f32ToBf16(Number.NaN)))).toBe(true);
  });

  it("array conversions agree with the scalar ones", () => {
    const xs = Float32Array.from([0, -0, 1.5, -3.140625, 1e-40, 3e38, 1 + 2 ** -8, 65504.5]);
    const b = f32ArrayToBf16(xs);
    expect(Array.from(b)).toEqual(Array.from(xs, (x) => f32ToBf16(x)));
    expect(Array.from(bf16ArrayToF32(b))).toEqual(Array.from(b, (h) => bf16ToF32(h)));
  });
});
