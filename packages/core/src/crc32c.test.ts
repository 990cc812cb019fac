import { describe, expect, it } from "vitest";
import { crc32c } from "./crc32c.js";

/** Bit-at-a-time reference: the definition, no tables. */
function crcBitwise(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of data) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

describe("crc32c", () => {
  it("matches the standard check value and RFC 3720 vectors", () => {
    expect(crc32c(new TextEncoder().encode("123456789"))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa); // 32 zero bytes
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  it("agrees with the bitwise definition at every length and offset, and continues", () => {
    const data = Uint8Array.from({ length: 301 }, (_, i) => (i * 131 + 7) & 0xff);
    for (let len = 0; len < 40; len++) {
      for (let off = 0; off < 9; off++) {
        const view = data.subarray(off, off + len);
        expect(crc32c(view)).toBe(crcBitwise(view));
      }
    }
    for (const cut of [0, 1, 7, 8, 150, 301])
      expect(crc32c(data.subarray(cut), crc32c(data.subarray(0, cut)))).toBe(crcBitwise(data));
  });
});
