/**
 * Opening a colink image: `readImageInfo` reads the superblock and the index and
 * validates both (never the data), `verifyImage` also recomputes every checksum.
 */
import type * as fs from "node:fs/promises";
import { crc32c } from "../crc32c.js";
import { ColinkError, fail, fromSystemError } from "../errors.js";
import { openForRead, readFully } from "../fsutil.js";
import { decodeSuperblock, hex, SUPERBLOCK_BYTES } from "./format.js";
import { decodeImageIndex } from "./proto.js";
import type { ImageInfo, ImageLayerInfo, ImageVerifyResult } from "./types.js";
import { indexToImageInfo } from "./validate.js";

/** Reads and validates the superblock and index of an image using an open handle. */
export async function readImageInfoFrom(h: fs.FileHandle, file: string): Promise<ImageInfo> {
  let size: number;
  try {
    size = (await h.stat()).size;
  } catch (e) {
    throw fromSystemError(e, file);
  }
  const head = new Uint8Array(SUPERBLOCK_BYTES);
  if (size >= SUPERBLOCK_BYTES) await readFully(h, file, head, 0);
  const sb = decodeSuperblock(head, size, file);
  const index = new Uint8Array(sb.indexLength);
  await readFully(h, file, index, sb.indexOffset);
  const got = crc32c(index);
  if (got !== sb.indexCrc32c)
    fail("CHECKSUM", `${file}: index is corrupt: CRC32C ${hex(got)} != ${hex(sb.indexCrc32c)} stored in the superblock`, file);
  return indexToImageInfo(decodeImageIndex(index, file), sb, file);
}

/**
 * Opens an image and returns what its superblock and index say, after checking
 * magic, version, sizes, the index checksum, and every offset and permutation.
 * Throws a ColinkError naming the first problem.
 */
export async function readImageInfo(file: string): Promise<ImageInfo> {
  const h = await openForRead(file);
  try {
    return await readImageInfoFrom(h, file);
  } finally {
    await h.close().catch(() => {});
  }
}

export interface VerifyOptions {
  /** Called with the bytes checked so far and the total to check. */
  onProgress?: (done: number, total: number) => void;
}

/** Reads per call: a multiple of every chunk size we write, large enough for sequential speed. */
const READ_BYTES = 4 * 1024 * 1024;

/**
 * Checks everything readImageInfo checks, then every dense tensor's CRC32C and every
 * chunk CRC32C of every layer region. Throws CHECKSUM naming the first bad tensor or
 * region chunk (with its byte range).
 */
export async function verifyImage(file: string, opts: VerifyOptions = {}): Promise<ImageVerifyResult> {
  const h = await openForRead(file);
  try {
    const info = await readImageInfoFrom(h, file);
    const total =
      info.tensors.reduce((a, t) => a + t.length, 0) + info.layers.reduce((a, l) => a + l.regionLength, 0);
    let done = 0;
    let chunks = 0;
    const buf = new Uint8Array(READ_BYTES);
    for (const t of info.tensors) {
      let crc = 0;
      for (let at = 0; at < t.length; at += READ_BYTES) {
        const view = buf.subarray(0, Math.min(READ_BYTES, t.length - at));
        await readFully(h, file, view, t.offset + at);
        crc = crc32c(view, crc);
        done += view.length;
        opts.onProgress?.(done, total);
      }
      if (crc !== t.crc32c)
        throw new ColinkError(
          "CHECKSUM",
          `${file}: tensor "${t.name}" is corrupt (bytes [${t.offset}, ${t.offset + t.length})): CRC32C ${hex(crc)} != stored ${hex(t.crc32c)}`,
          file,
        );
    }
    for (const l of info.layers) {
      const C = l.chunkBytes;
      // Read whole chunks per call: floor(READ_BYTES / C) of them, at least one.
      const per = Math.max(1, Math.floor(READ_BYTES / C)) * C;
      const big = per <= buf.length ? buf : new Uint8Array(per);
      for (let at = 0; at < l.regionLength; at += per) {
        const view = big.subarray(0, Math.min(per, l.regionLength - at));
        await readFully(h, file, view, l.regionOffset + at);
        for (let o = 0; o < view.length; o += C) {
          const c = (at + o) / C;
          const piece = view.subarray(o, Math.min(o + C, view.length));
          const crc = crc32c(piece);
          if (crc !== l.chunkCrc32c[c]) {
            const start = l.regionOffset + at + o;
            const firstSlot = Math.floor((at + o) / l.bundleBytes);
            const lastSlot = Math.floor((at + o + piece.length - 1) / l.bundleBytes);
            throw new ColinkError(
              "CHECKSUM",
              `${file}: layer ${l.layer} region chunk ${c} is corrupt (bytes [${start}, ${start + piece.length}), slots ${firstSlot}-${lastSlot}): CRC32C ${hex(crc)} != stored ${hex(l.chunkCrc32c[c])}`,
              file,
            );
          }
          chunks++;
        }
        done += view.length;
        opts.onProgress?.(done, total);
      }
    }
    return { path: file, bytesChecked: done, tensors: info.tensors.length, regions: info.layers.length, chunks };
  } finally {
    await h.close().catch(() => {});
  }
}

/** The chunks [first, last) of a layer region that overlap region bytes [start, end). */
export function chunksCovering(layer: ImageLayerInfo, start: number, end: number): [number, number] {
  const C = layer.chunkBytes;
  return [Math.floor(start / C), Math.min(layer.chunkCrc32c.length, Math.ceil(end / C))];
}

/**
 * For loaders that check data as they read it: verifies every chunk lying wholly
 * inside `bytes`, which hold the layer's region bytes from `regionStart` on (widen a
 * read to chunk boundaries with chunksCovering to check all of it). Returns how many
 * chunks were checked; throws CHECKSUM naming the layer, chunk and byte range.
 */
export function checkRegionChunks(layer: ImageLayerInfo, regionStart: number, bytes: Uint8Array, file: string): number {
  const C = layer.chunkBytes;
  const end = regionStart + bytes.length;
  let checked = 0;
  for (let c = Math.ceil(regionStart / C); c * C < end && c < layer.chunkCrc32c.length; c++) {
    const c0 = c * C;
    const c1 = Math.min(c0 + C, layer.regionLength);
    if (c1 > end) break;
    const crc = crc32c(bytes.subarray(c0 - regionStart, c1 - regionStart));
    if (crc !== layer.chunkCrc32c[c])
      throw new ColinkError(
        "CHECKSUM",
        `${file}: layer ${layer.layer} region chunk ${c} is corrupt (bytes [${layer.regionOffset + c0}, ${layer.regionOffset + c1})): CRC32C ${hex(crc)} != stored ${hex(layer.chunkCrc32c[c])}`,
        file,
      );
    checked++;
  }
  return checked;
}
