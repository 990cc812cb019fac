/**
 * Checks a decoded index against the file it came from and turns it into an
 * ImageInfo. Every rule of docs/format.md that a reader can check without reading
 * the data is checked here, each with its own message naming the field, so a
 * corrupt or hand-edited image never yields wrong offsets silently.
 */
import { validateCacheSpec } from "../cache.js";
import { ColinkError, fail } from "../errors.js";
import { IMAGE_ALIGNMENT, IMAGE_FORMAT_VERSION, storedBytes, type Superblock } from "./format.js";
import { dtypeFromEnum, type RawIndex } from "./proto.js";
import type { BundlePart, ImageInfo, ImageLayerInfo, ImageTensorInfo, ModelFamily, StoredDtype } from "./types.js";

export function indexToImageInfo(raw: RawIndex, sb: Superblock, file: string): ImageInfo {
  const bad = (msg: string): never => fail("BAD_FORMAT", `${file}: ${msg}`, file);
  const bytesFor = (dt: StoredDtype, count: number, where: string): number => {
    try {
      return storedBytes(dt, count, where);
    } catch (e) {
      if (e instanceof ColinkError) throw new ColinkError("BAD_FORMAT", e.message, file);
      throw e;
    }
  };
  const dtype = (name: string, where: string): StoredDtype =>
    dtypeFromEnum(name) ?? bad(`${where}: unknown dtype ${JSON.stringify(name)} (expected F32, F16, BF16, Q8_0 or Q4_0)`);
  const dataEnd = sb.indexOffset;
  // Every byte range must be aligned, lie between the superblock page and the index, and not overlap another.
  const ranges: { start: number; end: number; what: string }[] = [];
  const range = (offset: number, length: number, what: string): void => {
    if (!Number.isSafeInteger(offset) || offset % IMAGE_ALIGNMENT !== 0)
      bad(`${what}: offset ${offset} is not a multiple of ${IMAGE_ALIGNMENT}`);
    if (offset < IMAGE_ALIGNMENT || offset + length > dataEnd)
      bad(`${what}: bytes [${offset}, ${offset + length}) lie outside the data area [${IMAGE_ALIGNMENT}, ${dataEnd})`);
    ranges.push({ start: offset, end: offset + length, what });
  };

  if (raw.formatVersion !== sb.formatVersion)
    fail("BAD_VERSION", `${file}: index format_version ${raw.formatVersion} differs from the superblock's ${sb.formatVersion}`, file);
  if (raw.family !== "llama" && raw.family !== "opt") bad(`index family ${JSON.stringify(raw.family)}: expected "llama" or "opt"`);
  if (!(raw.hiddenSize > 0)) bad(`index hidden_size must be > 0, got ${raw.hiddenSize}`);
  if (raw.alignment !== IMAGE_ALIGNMENT) bad(`index alignment ${raw.alignment}: expected ${IMAGE_ALIGNMENT}`);
  const bundleDtype = dtype(raw.bundleDtype, "index bundle_dtype");

  const tensors: ImageTensorInfo[] = raw.tensors.map((t, i) => {
    const where = `tensor ${i} (${JSON.stringify(t.name)})`;
    const dt = dtype(t.dtype, where);
    const count = t.shape.reduce((a, b) => a * b, 1);
    const want = bytesFor(dt, count, where);
    if (t.length !== want) bad(`${where}: length ${t.length} != ${want} bytes for shape [${t.shape.join(", ")}] of ${dt}`);
    range(t.offset, t.length, where);
    return { name: t.name, dtype: dt, shape: t.shape.slice(), offset: t.offset, length: t.length, crc32c: t.crc32c >>> 0 };
  });

  if (raw.layers.length === 0) bad("index has no FFN layers");
  const layers: ImageLayerInfo[] = raw.layers.map((l, i) => {
    const where = `layer ${i}`;
    if (l.layer !== i) bad(`layers[${i}].layer is ${l.layer}: layers must be listed in order`);
    const n = l.neurons;
    if (!(n > 0)) bad(`${where}: neurons must be > 0`);
    if (l.parts.length === 0) bad(`${where}: bundle has no parts`);
    let at = 0;
    const parts: BundlePart[] = l.parts.map((p, j) => {
      const pw = `${where} part ${j} (${p.name})`;
      const dt = dtype(p.dtype, pw);
      if (p.offset !== at) bad(`${pw}: offset ${p.offset}, expected ${at} (parts are contiguous, in order)`);
      if (p.elements !== raw.hiddenSize && p.elements !== 1)
        bad(`${pw}: ${p.elements} values, expected hidden_size ${raw.hiddenSize} (a row or column) or 1 (a bias)`);
      const want = bytesFor(dt, p.elements, pw);
      if (p.bytes !== want) bad(`${pw}: ${p.bytes} bytes, expected ${want} for ${p.elements} values of ${dt}`);
      at += p.bytes;
      return { name: p.name, tensor: p.tensor, dtype: dt, elements: p.elements, offset: p.offset, bytes: p.bytes };
    });
    if (l.bundleBytes !== at) bad(`${where}: bundle_bytes ${l.bundleBytes} != sum of part bytes ${at}`);
    if (l.regionLength !== n * l.bundleBytes)
      bad(`${where}: region_length ${l.regionLength} != neurons ${n} x bundle_bytes ${l.bundleBytes}`);
    range(l.regionOffset, l.regionLength, `${where} region`);
    if (l.order.length !== n || l.slotOf.length !== n)
      bad(`${where}: order has ${l.order.length} and slot_of ${l.slotOf.length} entries, expected ${n} each`);
    const idAt = Uint32Array.from(l.order);
    const slotOf = Uint32Array.from(l.slotOf);
    const seen = new Uint8Array(n);
    for (let s = 0; s < n; s++) {
      const id = idAt[s];
      if (id >= n) bad(`${where}: order is not a permutation: id ${id} at slot ${s} is out of range [0, ${n})`);
      if (seen[id]) bad(`${where}: order is not a permutation: id ${id} appears twice`);
      seen[id] = 1;
    }
    for (let s = 0; s < n; s++)
      if (slotOf[idAt[s]] !== s) bad(`${where}: slot_of[${idAt[s]}] is ${slotOf[idAt[s]]}, but order puts id ${idAt[s]} at slot ${s}`);
    let cache: ImageLayerInfo["cache"];
    if (l.cache) {
      cache = { pinned: l.cache.pinned.slice(), lru: l.cache.lru, gapfill: l.cache.gapfill };
      try {
        validateCacheSpec(cache, n, `${file}: ${where} cache`);
      } catch (e) {
        if (e instanceof ColinkError) throw new ColinkError("BAD_FORMAT", e.message, file);
        throw e;
      }
    }
    if (l.freq.length !== 0 && l.freq.length !== n) bad(`${where}: freq has ${l.freq.length} counts, expected 0 or ${n}`);
    if (!(l.chunkBytes > 0) || l.chunkBytes % IMAGE_ALIGNMENT !== 0)
      bad(`${where}: chunk_bytes ${l.chunkBytes} must be a positive multiple of ${IMAGE_ALIGNMENT}`);
    const chunks = Math.ceil(l.regionLength / l.chunkBytes);
    if (l.chunkCrc32c.length !== chunks)
      bad(`${where}: ${l.chunkCrc32c.length} chunk checksums, expected ${chunks} (region ${l.regionLength} bytes / chunk ${l.chunkBytes})`);
    const info: ImageLayerInfo = {
      layer: i,
      neurons: n,
      bundleBytes: l.bundleBytes,
      parts,
      regionOffset: l.regionOffset,
      regionLength: l.regionLength,
      idAt,
      slotOf,
      chunkBytes: l.chunkBytes,
      chunkCrc32c: Uint32Array.from(l.chunkCrc32c),
    };
    if (cache) info.cache = cache;
    if (l.freq.length === n) info.freq = Uint32Array.from(l.freq);
    return info;
  });

  ranges.sort((a, b) => a.start - b.start);
  for (let i = 1; i < ranges.length; i++)
    if (ranges[i].start < ranges[i - 1].end) bad(`${ranges[i].what} overlaps ${ranges[i - 1].what}`);

  return {
    path: file,
    fileSize: sb.fileSize,
    formatVersion: IMAGE_FORMAT_VERSION,
    family: raw.family as ModelFamily,
    architecture: raw.architecture,
    configJson: raw.configJson,
    modelId: raw.modelId,
    hiddenSize: raw.hiddenSize,
    tokenizer: raw.tokenizer,
    placementMethod: raw.placementMethod,
    placementSha256: raw.placementSha256,
    bundleDtype,
    layers,
    tensors,
    alignment: raw.alignment,
    indexOffset: sb.indexOffset,
    indexLength: sb.indexLength,
  };
}
