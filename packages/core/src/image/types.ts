/**
 * What a reader learns from a colink flash image's superblock and protobuf index,
 * as plain typed data. The packer writes images (packages/packer), the loader reads
 * them (packages/loader); both meet here. The byte-level spec is docs/format.md and
 * proto/colink.proto; this file is the in-memory view after parsing and validation.
 */
import type { CacheSpec } from "../cache.js";

/** Element encodings of stored tensors and bundle parts. */
export type StoredDtype = "f32" | "f16" | "bf16" | "q8_0" | "q4_0";

export type ModelFamily = "llama" | "opt";

/** One projection slice inside a neuron bundle (e.g. row i of gate_proj). */
export interface BundlePart {
  /** gate | up | down (Llama family), fc1 | fc1_bias | fc2 (OPT family) */
  name: string;
  /** The source tensor name in the checkpoint. */
  tensor: string;
  dtype: StoredDtype;
  /** Values in this part (d for a projection row/column, 1 for a bias). */
  elements: number;
  /** Byte offset of this part inside the bundle, and its stored size. */
  offset: number;
  bytes: number;
}

export interface ImageLayerInfo {
  layer: number;
  neurons: number;
  /** Bytes per neuron bundle; bundles are contiguous: slot s at regionOffset + s * bundleBytes. */
  bundleBytes: number;
  parts: BundlePart[];
  /** Absolute file offset (4 KiB aligned) and length of the layer's bundle region. */
  regionOffset: number;
  regionLength: number;
  /** Placement: idAt[slot] = neuron id; slotOf[id] = slot. */
  idAt: Uint32Array;
  slotOf: Uint32Array;
  /** The DRAM cache the placement declares for this layer, if any. */
  cache?: CacheSpec;
  /** Activation counts per neuron id on the placer's fit tokens, if known (for the `pin` policy). */
  freq?: Uint32Array;
  /** CRC32C per chunk of the region: chunk c covers [c * chunkBytes, min((c + 1) * chunkBytes, regionLength)). */
  chunkBytes: number;
  chunkCrc32c: Uint32Array;
}

export interface ImageTensorInfo {
  name: string;
  dtype: StoredDtype;
  shape: number[];
  /** Absolute file offset (4 KiB aligned) and stored length. */
  offset: number;
  length: number;
  crc32c: number;
}

export interface ImageInfo {
  path: string;
  fileSize: number;
  formatVersion: number;
  family: ModelFamily;
  /** Hugging Face architecture name, e.g. LlamaForCausalLM. */
  architecture: string;
  /** The checkpoint's config.json, verbatim. */
  configJson: string;
  modelId: string;
  hiddenSize: number;
  /** Tokenizer / vocabulary reference, e.g. "bytes" or "tokenizer.json sha256:...". */
  tokenizer: string;
  /** Placement method the image was packed with (identity when none was given). */
  placementMethod: string;
  /** Dtype the FFN bundles were stored in. */
  bundleDtype: StoredDtype;
  layers: ImageLayerInfo[];
  tensors: ImageTensorInfo[];
  /** Alignment of every tensor and region offset (4096). Set by readImageInfo. */
  alignment?: number;
  /** SHA-256 (hex) of the placement.json bytes the image was packed with, "" for identity. */
  placementSha256?: string;
  /** Where the protobuf index lies in the file (after the data). Set by readImageInfo. */
  indexOffset?: number;
  indexLength?: number;
}

/** What `verifyImage` checked. */
export interface ImageVerifyResult {
  path: string;
  /** Bytes whose checksum was recomputed (tensors + regions). */
  bytesChecked: number;
  tensors: number;
  regions: number;
  chunks: number;
}
