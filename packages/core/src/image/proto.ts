/**
 * The protobuf index of a colink image, through protobufjs reflection on
 * proto/colink.proto (shipped beside src/ and dist/, found via import.meta.url, so
 * the .proto file stays the single spec: no generated code to drift from it).
 */
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";
import { fail } from "../errors.js";
import { IMAGE_ALIGNMENT, IMAGE_FORMAT_VERSION } from "./format.js";
import type { ImageInfo, StoredDtype } from "./types.js";

/** Path of colink.proto: packages/core/proto, two levels up from src/image and dist/image. */
export const PROTO_PATH = fileURLToPath(new URL("../../proto/colink.proto", import.meta.url));

let indexType: protobuf.Type | undefined;

function IndexType(): protobuf.Type {
  if (!indexType) indexType = protobuf.loadSync(PROTO_PATH).lookupType("colink.image.v1.Index");
  return indexType;
}

const DTYPE_TO_ENUM: Record<StoredDtype, string> = { f32: "F32", f16: "F16", bf16: "BF16", q8_0: "Q8_0", q4_0: "Q4_0" };
const ENUM_TO_DTYPE: Record<string, StoredDtype> = { F32: "f32", F16: "f16", BF16: "bf16", Q8_0: "q8_0", Q4_0: "q4_0" };

/** What the packer knows before the file exists: everything but where the index lands. */
export type ImageIndexInput = Omit<ImageInfo, "path" | "fileSize" | "formatVersion" | "indexOffset" | "indexLength">;

/** Serialises the index (deterministic: protobufjs writes fields in field-number order). */
export function encodeImageIndex(info: ImageIndexInput): Uint8Array {
  const T = IndexType();
  const msg = T.fromObject({
    formatVersion: IMAGE_FORMAT_VERSION,
    modelId: info.modelId,
    family: info.family,
    architecture: info.architecture,
    configJson: info.configJson,
    tokenizer: info.tokenizer,
    hiddenSize: info.hiddenSize,
    placementMethod: info.placementMethod,
    placementSha256: info.placementSha256 ?? "",
    bundleDtype: DTYPE_TO_ENUM[info.bundleDtype],
    alignment: info.alignment ?? IMAGE_ALIGNMENT,
    tensors: info.tensors.map((t) => ({
      name: t.name,
      dtype: DTYPE_TO_ENUM[t.dtype],
      shape: t.shape,
      offset: t.offset,
      length: t.length,
      crc32c: t.crc32c,
    })),
    layers: info.layers.map((l) => ({
      layer: l.layer,
      neurons: l.neurons,
      bundleBytes: l.bundleBytes,
      parts: l.parts.map((p) => ({ ...p, dtype: DTYPE_TO_ENUM[p.dtype] })),
      regionOffset: l.regionOffset,
      regionLength: l.regionLength,
      order: Array.from(l.idAt),
      slotOf: Array.from(l.slotOf),
      cache: l.cache ? { pinned: l.cache.pinned, lru: l.cache.lru, gapfill: l.cache.gapfill } : undefined,
      freq: l.freq ? Array.from(l.freq) : [],
      chunkBytes: l.chunkBytes,
      chunkCrc32c: Array.from(l.chunkCrc32c),
    })),
  });
  return T.encode(msg).finish();
}

/** The decoded index as plain objects (before validation); uint64 as numbers, enums as names. */
export interface RawIndex {
  formatVersion: number;
  modelId: string;
  family: string;
  architecture: string;
  configJson: string;
  tokenizer: string;
  hiddenSize: number;
  placementMethod: string;
  placementSha256: string;
  bundleDtype: string;
  alignment: number;
  tensors: { name: string; dtype: string; shape: number[]; offset: number; length: number; crc32c: number }[];
  layers: {
    layer: number;
    neurons: number;
    bundleBytes: number;
    parts: { name: string; tensor: string; dtype: string; elements: number; offset: number; bytes: number }[];
    regionOffset: number;
    regionLength: number;
    order: number[];
    slotOf: number[];
    cache?: { pinned: number[]; lru: number; gapfill: boolean };
    freq: number[];
    chunkBytes: number;
    chunkCrc32c: number[];
  }[];
}

export function decodeImageIndex(bytes: Uint8Array, file: string): RawIndex {
  const T = IndexType();
  let obj: RawIndex;
  try {
    // longs: Number is exact below 2^53, which covers any file offset a device can hold.
    obj = T.toObject(T.decode(bytes), { longs: Number, enums: String, defaults: true, arrays: true }) as RawIndex;
  } catch (e) {
    fail("BAD_FORMAT", `${file}: index is not a valid colink.image.v1.Index protobuf (${(e as Error).message})`, file);
  }
  return obj;
}

/** Dtype name of an index enum value, or undefined when unknown. */
export function dtypeFromEnum(name: string): StoredDtype | undefined {
  return ENUM_TO_DTYPE[name];
}
