/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78; init and final xor 0xFFFFFFFF),
 * the checksum of iSCSI, ext4, Btrfs and SSE4.2 / ARMv8 `crc32c` instructions, so a
 * device reader gets it in hardware. Check value: crc32c("123456789") = 0xE3069283.
 *
 * Software version: slicing-by-8 (eight 256-entry tables, 8 bytes per step read as
 * two 32-bit words), the fastest table method in plain JS that keeps the tables in
 * L1 (8 KiB).
 */

const T = buildTables();

function buildTables(): Uint32Array {
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n];
    for (let s = 1; s < 8; s++) {
      c = t[c & 0xff] ^ (c >>> 8);
      t[s * 256 + n] = c >>> 0;
    }
  }
  return t;
}

/**
 * Continues a CRC32C over `data`: `crc32c(b, crc32c(a))` equals `crc32c(a ++ b)`.
 * Start with the default `crc = 0`.
 */
export function crc32c(data: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  let i = 0;
  const n = data.length;
  // Bytes up to a 4-byte boundary, then 8 bytes per step as two 32-bit words
  // (little-endian host, as everywhere colink runs), then the tail.
  const head = Math.min(n, (4 - (data.byteOffset & 3)) & 3);
  while (i < head) c = T[(c ^ data[i++]) & 0xff] ^ (c >>> 8);
  const steps = (n - i) >>> 3;
  if (steps > 0) {
    const w = new Int32Array(data.buffer, data.byteOffset + i, steps * 2);
    for (let k = 0; k < w.length; k += 2) {
      const lo = c ^ w[k];
      const hi = w[k + 1];
      c =
        T[1792 + (lo & 0xff)] ^
        T[1536 + ((lo >>> 8) & 0xff)] ^
        T[1280 + ((lo >>> 16) & 0xff)] ^
        T[1024 + (lo >>> 24)] ^
        T[768 + (hi & 0xff)] ^
        T[512 + ((hi >>> 8) & 0xff)] ^
        T[256 + ((hi >>> 16) & 0xff)] ^
        T[hi >>> 24];
    }
    i += steps * 8;
  }
  while (i < n) c = T[(c ^ data[i++]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
