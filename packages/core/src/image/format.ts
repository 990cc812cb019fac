/**
 * The fixed parts of a colink flash image: the superblock and the dtype sizes.
 * docs/format.md is the spec; this is its code.
 *
 * File layout (every offset from the start of the file):
 *
 *   [0, 64)          superblock (below), then zeros up to 4096
 *   [4096, ...)      dense tensors and FFN layer regions, each starting on a
 *                    4096-byte boundary, zero padding between them
 *   [index_offset, index_offset + index_length)
 *                    the protobuf `Index` (proto/colink.proto); the file ends here
 *
 * Superblock, 64 bytes, all integers little-endian:
 *
 *   off size field
 *    0   8   magic              89 43 4C 4B 0D 0A 1A 0A  ("\x89CLK\r\n\x1a\n")
 *    8   4   format_version     u32, 1
 *   12   4   superblock_bytes   u32, 64
 *   16   4   flags              u32, 0 (no flags defined in version 1; a reader rejects set bits)
 *   20   4   alignment          u32, 4096
 *   24   8   index_offset       u64
 *   32   8   index_length       u64
 *   40   8   file_size          u64, total file length (detects truncation)
 *   48   4   index_crc32c       u32, CRC32C of the index bytes
 *   52   8   reserved           zeros
 *   60   4   superblock_crc32c  u32, CRC32C of bytes [0, 60)
 */
import { crc32c } from "../crc32c.js";
import { fail } from "../errors.js";
import type { StoredDtype } from "./types.js";

/** PNG-style magic: the high byte catches 7-bit transfers, CR LF / SUB / LF catch text-mode mangling. */
export const IMAGE_MAGIC = Uint8Array.of(0x89, 0x43, 0x4c, 0x4b, 0x0d, 0x0a, 0x1a, 0x0a);
export const IMAGE_FORMAT_VERSION = 1;
export const SUPERBLOCK_BYTES = 64;
export const IMAGE_ALIGNMENT = 4096;
/** Checksum chunk of a layer region (see docs/format.md#checksums for the choice). */
export const DEFAULT_CHUNK_BYTES = 64 * 1024;
/** Values per block of the quantised dtypes. */
export const QUANT_BLOCK = 32;

export const STORED_DTYPES: readonly StoredDtype[] = ["f32", "f16", "bf16", "q8_0", "q4_0"];

/** Bytes per block of 32 values for quantised dtypes, per value for the others. */
const BLOCK_BYTES: Record<StoredDtype, number> = { f32: 4, f16: 2, bf16: 2, q8_0: 34, q4_0: 18 };

export function isQuantized(dtype: StoredDtype): boolean {
  return dtype === "q8_0" || dtype === "q4_0";
}

export function isStoredDtype(x: unknown): x is StoredDtype {
  return typeof x === "string" && (STORED_DTYPES as readonly string[]).includes(x);
}

/**
 * Stored size of `elements` values. Quantised dtypes need a multiple of 32 values
 * (every projection width d of a real model is); `what` names the values in the error.
 */
export function storedBytes(dtype: StoredDtype, elements: number, what = "values"): number {
  if (isQuantized(dtype)) {
    if (elements % QUANT_BLOCK !== 0)
      fail("UNSUPPORTED", `${what}: ${elements} values cannot be stored as ${dtype} (blocks of ${QUANT_BLOCK}; need a multiple of 32)`);
    return (elements / QUANT_BLOCK) * BLOCK_BYTES[dtype];
  }
  return elements * BLOCK_BYTES[dtype];
}

export function alignUp(x: number, a = IMAGE_ALIGNMENT): number {
  return Math.ceil(x / a) * a;
}

export interface Superblock {
  formatVersion: number;
  flags: number;
  alignment: number;
  indexOffset: number;
  indexLength: number;
  fileSize: number;
  indexCrc32c: number;
}

export function encodeSuperblock(sb: Omit<Superblock, "formatVersion" | "flags" | "alignment">): Uint8Array {
  const out = new Uint8Array(SUPERBLOCK_BYTES);
  const dv = new DataView(out.buffer);
  out.set(IMAGE_MAGIC, 0);
  dv.setUint32(8, IMAGE_FORMAT_VERSION, true);
  dv.setUint32(12, SUPERBLOCK_BYTES, true);
  dv.setUint32(16, 0, true);
  dv.setUint32(20, IMAGE_ALIGNMENT, true);
  dv.setBigUint64(24, BigInt(sb.indexOffset), true);
  dv.setBigUint64(32, BigInt(sb.indexLength), true);
  dv.setBigUint64(40, BigInt(sb.fileSize), true);
  dv.setUint32(48, sb.indexCrc32c >>> 0, true);
  dv.setUint32(60, crc32c(out.subarray(0, 60)), true);
  return out;
}

function u64(dv: DataView, at: number, field: string, file: string): number {
  const v = dv.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail("BAD_FORMAT", `${file}: superblock ${field} ${v} is too large`, file);
  return Number(v);
}

/**
 * Parses and checks the superblock in `head` (the first 64 bytes or more) of a file
 * of `actualSize` bytes. Each failure names the field and what was expected.
 */
export function decodeSuperblock(head: Uint8Array, actualSize: number, file: string): Superblock {
  if (actualSize < SUPERBLOCK_BYTES || head.length < SUPERBLOCK_BYTES)
    fail("BAD_FORMAT", `${file}: not a colink image: ${actualSize} bytes, shorter than the ${SUPERBLOCK_BYTES}-byte superblock`, file);
  for (let i = 0; i < IMAGE_MAGIC.length; i++)
    if (head[i] !== IMAGE_MAGIC[i])
      fail("BAD_FORMAT", `${file}: not a colink image: expected magic 89 43 4C 4B 0D 0A 1A 0A ("\\x89CLK\\r\\n\\x1a\\n") at offset 0`, file);
  const dv = new DataView(head.buffer, head.byteOffset, SUPERBLOCK_BYTES);
  const version = dv.getUint32(8, true);
  if (version !== IMAGE_FORMAT_VERSION)
    fail("BAD_VERSION", `${file}: unsupported colink image format version ${version} (this reader supports ${IMAGE_FORMAT_VERSION})`, file);
  const stored = dv.getUint32(60, true);
  const computed = crc32c(head.subarray(0, 60));
  if (stored !== computed)
    fail("CHECKSUM", `${file}: superblock is corrupt: CRC32C ${hex(computed)} != stored ${hex(stored)}`, file);
  const sbBytes = dv.getUint32(12, true);
  if (sbBytes !== SUPERBLOCK_BYTES) fail("BAD_FORMAT", `${file}: superblock_bytes is ${sbBytes}, expected ${SUPERBLOCK_BYTES}`, file);
  const flags = dv.getUint32(16, true);
  if (flags !== 0) fail("UNSUPPORTED", `${file}: superblock flags 0x${flags.toString(16)} are not known to this reader (expected 0)`, file);
  const alignment = dv.getUint32(20, true);
  if (alignment !== IMAGE_ALIGNMENT) fail("BAD_FORMAT", `${file}: superblock alignment is ${alignment}, expected ${IMAGE_ALIGNMENT}`, file);
  const sb: Superblock = {
    formatVersion: version,
    flags,
    alignment,
    indexOffset: u64(dv, 24, "index_offset", file),
    indexLength: u64(dv, 32, "index_length", file),
    fileSize: u64(dv, 40, "file_size", file),
    indexCrc32c: dv.getUint32(48, true),
  };
  if (sb.fileSize !== actualSize)
    fail(
      "BAD_FORMAT",
      `${file}: file is ${actualSize} bytes but its superblock says ${sb.fileSize} (${actualSize < sb.fileSize ? "truncated" : "trailing bytes"})`,
      file,
    );
  if (sb.indexOffset < IMAGE_ALIGNMENT || sb.indexLength === 0 || sb.indexOffset + sb.indexLength !== sb.fileSize)
    fail(
      "BAD_FORMAT",
      `${file}: index at [${sb.indexOffset}, ${sb.indexOffset + sb.indexLength}) must be non-empty, after the first ${IMAGE_ALIGNMENT} bytes and end the file (${sb.fileSize} bytes)`,
      file,
    );
  return sb;
}

export function hex(x: number): string {
  return `0x${(x >>> 0).toString(16).padStart(8, "0")}`;
}
