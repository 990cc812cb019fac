/**
 * Real colink images with random bundle bytes, for unit tests and benchmarks of the
 * loader: layer regions at 4 KiB aligned offsets with per-chunk CRC32C, the index and
 * superblock written by core's image writer and parsed back by readImageInfo (the
 * loader must not depend on the packer; the end-to-end tests pack real models).
 */
import * as fs from "node:fs/promises";
import {
  type CacheSpec,
  crc32c,
  DEFAULT_CHUNK_BYTES,
  type ImageIndexInput,
  type ImageInfo,
  type ImageLayerInfo,
  readImageInfo,
  writeImageTail,
  xorshift32 as rng,
} from "@colink/core";

export { rng };

export interface TestImage {
  info: ImageInfo;
  /** bytesOf(layer, id): the stored bundle bytes of neuron id. */
  bytesOf(layer: number, id: number): Uint8Array;
}

export async function writeTestImage(
  file: string,
  opts: {
    layers: number;
    neurons: number;
    bundleBytes: number;
    seed?: number;
    cache?: CacheSpec;
    shuffle?: boolean;
    /** Physical order per layer (overrides shuffle), and declared cache per layer. */
    orders?: ArrayLike<number>[];
    caches?: (CacheSpec | undefined)[];
    /** Fill bundles with random bytes (default) or leave zeros (big benchmark images). */
    random?: boolean;
  },
): Promise<TestImage> {
  const { layers, neurons, bundleBytes } = opts;
  const rand = rng(opts.seed ?? 1);
  const align = (x: number) => Math.ceil(x / 4096) * 4096;
  let off = 4096;
  const infos: ImageLayerInfo[] = [];
  const regions: Uint8Array[] = [];
  for (let l = 0; l < layers; l++) {
    const idAt = opts.orders ? Uint32Array.from(opts.orders[l]) : Uint32Array.from({ length: neurons }, (_, i) => i);
    if (opts.shuffle && !opts.orders)
      for (let i = neurons - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [idAt[i], idAt[j]] = [idAt[j], idAt[i]];
      }
    const slotOf = new Uint32Array(neurons);
    for (let s = 0; s < neurons; s++) slotOf[idAt[s]] = s;
    const len = neurons * bundleBytes;
    const region = new Uint8Array(len);
    if (opts.random !== false) for (let i = 0; i < len; i++) region[i] = (rand() * 256) | 0;
    regions.push(region);
    infos.push({
      layer: l,
      neurons,
      bundleBytes,
      parts: [
        { name: "up", tensor: `model.layers.${l}.mlp.up_proj.weight`, dtype: "f32", elements: bundleBytes / 8, offset: 0, bytes: bundleBytes / 2 },
        {
          name: "down",
          tensor: `model.layers.${l}.mlp.down_proj.weight`,
          dtype: "f32",
          elements: bundleBytes / 8,
          offset: bundleBytes / 2,
          bytes: bundleBytes / 2,
        },
      ],
      regionOffset: off,
      regionLength: region.length,
      idAt,
      slotOf,
      cache: opts.caches ? opts.caches[l] : opts.cache,
      chunkBytes: DEFAULT_CHUNK_BYTES,
      chunkCrc32c: Uint32Array.from({ length: Math.ceil(region.length / DEFAULT_CHUNK_BYTES) }, (_, c) =>
        crc32c(region.subarray(c * DEFAULT_CHUNK_BYTES, Math.min(region.length, (c + 1) * DEFAULT_CHUNK_BYTES))),
      ),
    });
    off = align(off + region.length);
  }
  const index: ImageIndexInput = {
    family: "llama",
    architecture: "LlamaForCausalLM",
    configJson: "{}",
    modelId: "test",
    hiddenSize: bundleBytes / 8,
    tokenizer: "",
    placementMethod: "test",
    bundleDtype: "f32",
    layers: infos,
    tensors: [],
  };
  const h = await fs.open(file, "w");
  try {
    for (let i = 0; i < infos.length; i++) await h.write(regions[i], 0, regions[i].length, infos[i].regionOffset);
    await writeImageTail(h, index, off, file);
  } finally {
    await h.close();
  }
  const info: ImageInfo = await readImageInfo(file);
  return {
    info,
    bytesOf(layer, id) {
      const l = infos[layer];
      const s = l.slotOf[id];
      return regions[layer].subarray(s * bundleBytes, (s + 1) * bundleBytes);
    },
  };
}
