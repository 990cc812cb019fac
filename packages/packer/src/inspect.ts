/** `inspectImage`: what an image holds, as plain data (for `colink inspect` and the pipeline report). */
import { IMAGE_MAGIC, readImageInfo, table, type StoredDtype } from "@colink/core";

export interface InspectLayer {
  layer: number;
  neurons: number;
  bundleBytes: number;
  /** e.g. "gate:f16 up:f16 down:f16" */
  parts: string;
  regionOffset: number;
  regionLength: number;
  chunks: number;
  /** Declared cache: pinned count, lru, gapfill; null when none. */
  cache: { pinned: number; lru: number; gapfill: boolean } | null;
  hasFreq: boolean;
  /** Whether the placement is the identity for this layer. */
  identity: boolean;
}

export interface InspectResult {
  path: string;
  fileSize: number;
  superblock: { magic: string; formatVersion: number; alignment: number; indexOffset: number; indexLength: number };
  modelId: string;
  family: string;
  architecture: string;
  hiddenSize: number;
  tokenizer: string;
  placementMethod: string;
  placementSha256: string;
  bundleDtype: StoredDtype;
  dense: { tensors: number; bytes: number };
  bundles: { layers: number; bytes: number };
  layers: InspectLayer[];
}

export async function inspectImage(file: string): Promise<InspectResult> {
  const info = await readImageInfo(file);
  const layers = info.layers.map((l) => {
    let identity = true;
    for (let s = 0; s < l.neurons && identity; s++) identity = l.idAt[s] === s;
    return {
      layer: l.layer,
      neurons: l.neurons,
      bundleBytes: l.bundleBytes,
      parts: l.parts.map((p) => `${p.name}:${p.dtype}`).join(" "),
      regionOffset: l.regionOffset,
      regionLength: l.regionLength,
      chunks: l.chunkCrc32c.length,
      cache: l.cache ? { pinned: l.cache.pinned.length, lru: l.cache.lru, gapfill: l.cache.gapfill } : null,
      hasFreq: l.freq !== undefined,
      identity,
    };
  });
  return {
    path: file,
    fileSize: info.fileSize,
    superblock: {
      magic: Buffer.from(IMAGE_MAGIC).toString("hex"),
      formatVersion: info.formatVersion,
      alignment: info.alignment ?? 4096,
      indexOffset: info.indexOffset ?? 0,
      indexLength: info.indexLength ?? 0,
    },
    modelId: info.modelId,
    family: info.family,
    architecture: info.architecture,
    hiddenSize: info.hiddenSize,
    tokenizer: info.tokenizer,
    placementMethod: info.placementMethod,
    placementSha256: info.placementSha256 ?? "",
    bundleDtype: info.bundleDtype,
    dense: { tensors: info.tensors.length, bytes: info.tensors.reduce((a, t) => a + t.length, 0) },
    bundles: { layers: info.layers.length, bytes: info.layers.reduce((a, l) => a + l.regionLength, 0) },
    layers,
  };
}

const mib = (b: number): string => (b / 2 ** 20).toFixed(2);

export function formatInspect(r: InspectResult): string {
  const head = [
    `${r.path}: colink image v${r.superblock.formatVersion}, ${r.fileSize} bytes (${mib(r.fileSize)} MiB)`,
    `model       ${r.modelId} (${r.architecture}, family ${r.family}, hidden ${r.hiddenSize})`,
    `tokenizer   ${r.tokenizer || "(none)"}`,
    `placement   ${r.placementMethod}${r.placementSha256 ? ` (sha256 ${r.placementSha256.slice(0, 16)}...)` : ""}`,
    `bundles     ${r.bundleDtype}, ${r.bundles.layers} layers, ${mib(r.bundles.bytes)} MiB`,
    `dense       ${r.dense.tensors} tensors, ${mib(r.dense.bytes)} MiB`,
    `index       ${r.superblock.indexLength} bytes at offset ${r.superblock.indexOffset}`,
    "",
  ];
  const rows = r.layers.map((l) => [
    l.layer,
    l.neurons,
    l.bundleBytes,
    l.parts,
    l.regionOffset,
    mib(l.regionLength),
    l.chunks,
    l.cache ? `${l.cache.pinned} pinned + ${l.cache.lru} lru${l.cache.gapfill ? " +gapfill" : ""}` : "-",
    l.identity ? "identity" : "reordered",
  ]);
  return head.join("\n") + table(["layer", "neurons", "bundle B", "parts", "offset", "MiB", "chunks", "cache", "order"], rows);
}
