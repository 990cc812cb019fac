import * as fs from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crc32c } from "../crc32c.js";
import { withAtomicFile } from "../fsutil.js";
import { alignUp, IMAGE_ALIGNMENT } from "./format.js";
import type { ImageIndexInput } from "./proto.js";
import { checkRegionChunks, chunksCovering, readImageInfo, verifyImage } from "./read.js";
import type { ImageLayerInfo } from "./types.js";
import { writeAll, writeImageTail } from "./write.js";

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(tmpdir(), "colink-image-"));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** Deterministic bytes. */
function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = s & 0xff;
  }
  return out;
}

interface Built {
  file: string;
  regions: Uint8Array[];
  input: ImageIndexInput;
}

/**
 * A small hand-made image: one dense f32 tensor [3, 5] and two llama layers of 40
 * neurons with d = 8 f16 parts (48-byte bundles), chunk 4096 so a region has 1 chunk.
 * `tweak` edits the index before it is written (with valid checksums) to test validation.
 */
async function build(name: string, tweak?: (input: ImageIndexInput) => void, order?: number[], regionsFrom = 0): Promise<Built> {
  const file = path.join(dir, name);
  const n = 40;
  const d = 8;
  const bundleBytes = 3 * d * 2;
  const tensor = bytes(3 * 5 * 4, 7);
  const regions: Uint8Array[] = [];
  let at = IMAGE_ALIGNMENT;
  const tensorOffset = at;
  at = Math.max(alignUp(at + tensor.length), regionsFrom);
  const layers: ImageLayerInfo[] = [];
  for (let l = 0; l < 2; l++) {
    const region = bytes(n * bundleBytes, 100 + l);
    regions.push(region);
    const idAt = Uint32Array.from(order ?? Array.from({ length: n }, (_, i) => (l === 0 ? i : n - 1 - i)));
    const slotOf = new Uint32Array(n);
    idAt.forEach((id, s) => {
      slotOf[id] = s;
    });
    const chunkBytes = 4096;
    const chunkCrc32c = new Uint32Array(Math.ceil(region.length / chunkBytes));
    for (let c = 0; c < chunkCrc32c.length; c++) chunkCrc32c[c] = crc32c(region.subarray(c * chunkBytes, (c + 1) * chunkBytes));
    layers.push({
      layer: l,
      neurons: n,
      bundleBytes,
      parts: ["gate", "up", "down"].map((p, j) => ({
        name: p,
        tensor: `model.layers.${l}.mlp.${p}_proj.weight`,
        dtype: "f16" as const,
        elements: d,
        offset: j * d * 2,
        bytes: d * 2,
      })),
      regionOffset: at,
      regionLength: region.length,
      idAt,
      slotOf,
      cache: l === 0 ? { pinned: [3, 1], lru: 4, gapfill: true } : undefined,
      freq: l === 1 ? Uint32Array.from({ length: n }, (_, i) => i * 2) : undefined,
      chunkBytes,
      chunkCrc32c,
    });
    at = alignUp(at + region.length);
  }
  const input: ImageIndexInput = {
    family: "llama",
    architecture: "LlamaForCausalLM",
    configJson: '{"hidden_size": 8}',
    modelId: "hand-made",
    hiddenSize: d,
    tokenizer: "bytes",
    placementMethod: "test",
    placementSha256: "",
    bundleDtype: "f16",
    tensors: [{ name: "model.norm.weight", dtype: "f32", shape: [3, 5], offset: tensorOffset, length: tensor.length, crc32c: crc32c(tensor) }],
    layers,
  };
  tweak?.(input);
  await withAtomicFile(file, async (f) => {
    await writeAll(f.handle, tensor, tensorOffset);
    for (let l = 0; l < 2; l++) await writeAll(f.handle, regions[l], layers[l].regionOffset);
    await writeImageTail(f.handle, input, at, file);
  });
  return { file, regions, input };
}

async function mutate(src: string, name: string, edit: (b: Buffer) => Buffer): Promise<string> {
  const out = path.join(dir, name);
  await fs.writeFile(out, edit(await fs.readFile(src)));
  return out;
}

describe("readImageInfo", () => {
  it("round-trips every index field", async () => {
    const { file, input } = await build("ok.colink");
    const info = await readImageInfo(file);
    expect(info.formatVersion).toBe(1);
    expect(info.family).toBe("llama");
    expect(info.configJson).toBe(input.configJson);
    expect(info.tensors).toEqual(input.tensors);
    expect(info.layers.length).toBe(2);
    expect(info.layers[1].idAt[0]).toBe(39);
    expect(info.layers[1].slotOf[39]).toBe(0);
    expect(info.layers[0].cache).toEqual({ pinned: [3, 1], lru: 4, gapfill: true });
    expect(info.layers[1].cache).toBeUndefined();
    expect(info.layers[0].freq).toBeUndefined();
    expect(Array.from(info.layers[1].freq ?? [])).toEqual(Array.from(input.layers[1].freq ?? []));
    expect(info.layers[0].parts).toEqual(input.layers[0].parts);
    expect(info.layers[0].regionOffset % 4096).toBe(0);
    expect(info.fileSize).toBe((await fs.stat(file)).size);
    const v = await verifyImage(file);
    expect(v.chunks).toBe(2);
    expect(v.bytesChecked).toBe(60 + 2 * 40 * 48);
  });

  it("rejects a wrong magic, a changed version, a truncated file, a corrupt index", async () => {
    const { file } = await build("base.colink");
    const size = (await fs.stat(file)).size;
    const magic = await mutate(file, "magic.colink", (b) => {
      b[1] = 0x58;
      return b;
    });
    await expect(readImageInfo(magic)).rejects.toThrow(/not a colink image: expected magic/);
    const version = await mutate(file, "version.colink", (b) => {
      b.writeUInt32LE(2, 8);
      return b;
    });
    await expect(readImageInfo(version)).rejects.toMatchObject({ code: "BAD_VERSION" });
    await expect(verifyImage(version)).rejects.toThrow(/unsupported colink image format version 2/);
    const trunc = await mutate(file, "trunc.colink", (b) => b.subarray(0, size - 10));
    await expect(readImageInfo(trunc)).rejects.toThrow(/truncated/);
    await expect(verifyImage(trunc)).rejects.toThrow(/truncated/);
    const tiny = await mutate(file, "tiny.colink", (b) => b.subarray(0, 20));
    await expect(readImageInfo(tiny)).rejects.toThrow(/shorter than the 64-byte superblock/);
    const idx = await mutate(file, "index.colink", (b) => {
      b[size - 5] ^= 0x10;
      return b;
    });
    await expect(readImageInfo(idx)).rejects.toThrow(/index is corrupt: CRC32C/);
    await expect(verifyImage(idx)).rejects.toMatchObject({ code: "CHECKSUM" });
    const sb = await mutate(file, "sb.colink", (b) => {
      b[30] ^= 1; // index_offset
      return b;
    });
    await expect(readImageInfo(sb)).rejects.toThrow(/superblock is corrupt/);
  });

  it("names the first bad tensor or region chunk in verify, while the index still reads", async () => {
    const { file, input } = await build("data.colink");
    const region = await mutate(file, "region.colink", (b) => {
      b[input.layers[1].regionOffset + 100] ^= 0x01;
      return b;
    });
    await readImageInfo(region);
    await expect(verifyImage(region)).rejects.toThrow(/layer 1 region chunk 0 is corrupt \(bytes \[\d+, \d+\), slots 0-39\)/);
    const tensor = await mutate(file, "tensor.colink", (b) => {
      b[input.tensors[0].offset] ^= 0x80;
      return b;
    });
    await expect(verifyImage(tensor)).rejects.toThrow(/tensor "model.norm.weight" is corrupt/);
  });

  it("validates the index: permutation, inverse, offsets, sizes, cache", async () => {
    await expect(readImageInfo((await build("perm.colink", undefined, [0, 0, ...Array.from({ length: 38 }, (_, i) => i + 2)])).file)).rejects.toThrow(
      /layer 0: order is not a permutation: id 0 appears twice/,
    );
    const cases: [string, (i: ImageIndexInput) => void, RegExp][] = [
      ["inverse", (i) => void (i.layers[0].slotOf[5] = 6), /slot_of\[5\] is 6/],
      ["align", (i) => void (i.layers[1].regionOffset += 8), /layer 1 region: offset \d+ is not a multiple of 4096/],
      ["outside", (i) => void (i.layers[1].regionOffset += 1 << 20), /lie outside the data area/],
      ["overlap", (i) => void (i.layers[1].regionOffset = i.layers[0].regionOffset), /overlaps/],
      ["bundle", (i) => void (i.layers[0].bundleBytes = 50), /bundle_bytes 50 != sum of part bytes 48/],
      ["partsize", (i) => void (i.layers[0].parts[1].bytes = 10), /part 1 \(up\): 10 bytes, expected 16/],
      ["tlen", (i) => void (i.tensors[0].shape = [3, 6]), /length 60 != 72 bytes for shape \[3, 6\]/],
      ["chunks", (i) => void (i.layers[0].chunkCrc32c = new Uint32Array(3)), /3 chunk checksums, expected 1/],
      ["cache", (i) => void (i.layers[0].cache = { pinned: [99], lru: 0, gapfill: false }), /pinned id 99 is out of range/],
      ["quant", (i) => void Object.assign(i.layers[0].parts[0], { dtype: "q8_0", elements: 8 }), /8 values cannot be stored as q8_0/],
      ["width", (i) => void Object.assign(i.layers[0].parts[2], { elements: 4, bytes: 8 }), /part 2 \(down\): 4 values, expected hidden_size 8/],
    ];
    for (const [name, tweak, re] of cases) await expect(readImageInfo((await build(`${name}.colink`, tweak)).file), name).rejects.toThrow(re);
  });

  it("checks the chunks a loader read, naming a corrupt one", async () => {
    // 40 bundles of 48 bytes with 512-byte chunks: 4 chunks (the last one short, 384 bytes).
    const { input, regions } = await build("chunks.colink", (i) => {
      const l = i.layers[0];
      l.chunkBytes = 512;
      l.chunkCrc32c = Uint32Array.from({ length: 4 }, (_, c) => crc32c(bytes(40 * 48, 100).subarray(c * 512, (c + 1) * 512)));
    });
    const l = input.layers[0];
    expect(chunksCovering(l, 600, 1100)).toEqual([1, 3]);
    expect(checkRegionChunks(l, 0, regions[0], "x")).toBe(4);
    expect(checkRegionChunks(l, 500, regions[0].subarray(500, 1600), "x")).toBe(2); // chunks 1 and 2 lie inside
    expect(checkRegionChunks(l, 1536, regions[0].subarray(1536), "x")).toBe(1); // the short last chunk
    const bad = regions[0].slice();
    bad[1030] ^= 1;
    expect(() => checkRegionChunks(l, 0, bad, "x")).toThrow(/layer 0 region chunk 2 is corrupt/);
  });

  it("handles offsets beyond 4 GiB (sparse file)", async () => {
    const from = 2 ** 32 + 8 * 4096;
    const { file, input } = await build("big.colink", undefined, undefined, from);
    const info = await readImageInfo(file);
    expect(info.layers[0].regionOffset).toBe(from);
    expect(info.indexOffset).toBeGreaterThan(2 ** 32);
    expect(info.layers[1].regionOffset).toBe(input.layers[1].regionOffset);
    expect((await verifyImage(file)).chunks).toBe(2);
    await fs.rm(file);
  });

  it("reports a missing file as NOT_FOUND", async () => {
    await expect(readImageInfo(path.join(dir, "nope.colink"))).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});
