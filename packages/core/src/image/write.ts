/**
 * The last step of writing an image, shared by the packer and by tests that build
 * images by hand: the index goes after the data (its checksums are known only once
 * the data is written), then the superblock is written at offset 0.
 */
import type { FileHandle } from "node:fs/promises";
import { crc32c } from "../crc32c.js";
import { fromSystemError } from "../errors.js";
import { alignUp, encodeSuperblock } from "./format.js";
import { encodeImageIndex, type ImageIndexInput } from "./proto.js";

export interface ImageTail {
  indexOffset: number;
  indexLength: number;
  fileSize: number;
}

/**
 * Writes the index at the first aligned offset at or after `dataEnd` and the
 * superblock at 0, through `handle` (positional writes). Padding between the data
 * and the index is left as a hole, which reads as zeros.
 */
export async function writeImageTail(handle: FileHandle, info: ImageIndexInput, dataEnd: number, file = "image"): Promise<ImageTail> {
  const index = encodeImageIndex(info);
  const indexOffset = alignUp(Math.max(dataEnd, 1));
  const fileSize = indexOffset + index.length;
  const sb = encodeSuperblock({ indexOffset, indexLength: index.length, fileSize, indexCrc32c: crc32c(index) });
  try {
    await writeAll(handle, index, indexOffset);
    await handle.truncate(fileSize);
    await writeAll(handle, sb, 0);
  } catch (e) {
    throw fromSystemError(e, file, "write");
  }
  return { indexOffset, indexLength: index.length, fileSize };
}

/** Positional write of all of `data` (a single write may be short). */
export async function writeAll(handle: FileHandle, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await handle.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}
