/**
 * `packImage`: checkpoint + placement → .colink flash image (docs/format.md).
 *
 * Streaming: dense tensors are copied in 4 MiB pieces; FFN layers are done one at a
 * time (a layer's gate/up/down or fc1/fc2 tensors in memory, plus a transposed copy
 * of the column-sliced one), bundles assembled into two alternating 4 MiB staging
 * buffers so a write is in flight while the next buffer fills. The file is written
 * under a temporary name, fsynced and renamed (AtomicFile). No clock, no randomness:
 * the same inputs give the same bytes.
 */
import { type FileHandle, open, readFile } from "node:fs/promises";
import * as path from "node:path";
import {
  AtomicFile,
  alignUp,
  type BundlePart,
  Checkpoint,
  crc32c,
  DEFAULT_CHUNK_BYTES,
  decodeToF32,
  encodeF32,
  fail,
  ffnParts,
  fromSystemError,
  IMAGE_ALIGNMENT,
  type ImageIndexInput,
  type ImageLayerInfo,
  type ImageTensorInfo,
  isStoredDtype,
  modelSpecFromConfig,
  type ModelSpec,
  partDtype,
  type Placement,
  readPlacement,
  sha256,
  STORED_DTYPES,
  type StoredDtype,
  storedBytes,
  type TensorInfo,
  writeAll,
  writeImageTail,
} from "@colink/core";
import { BundleWriter, neuronRows, type PartSource } from "./bundle.js";

export interface PackOptions {
  /** Hugging Face checkpoint directory (config.json + safetensors). */
  model: string;
  /** placement.json; identity order when absent. */
  placement?: string;
  out: string;
  /** Dtype of the FFN bundles; default: the checkpoint's dtype of the FFN weights. */
  dtype?: StoredDtype;
  /** Dtype of the dense (non-FFN) tensors; default: each tensor's checkpoint dtype. */
  denseDtype?: "f32" | "f16" | "bf16";
  /** Checksum chunk size (multiple of 4096); default 64 KiB. */
  chunkBytes?: number;
  /**
   * The tokenizer.json the model is used with, when the checkpoint directory ships
   * none (or another): its digest is the image's tokenizer reference.
   */
  tokenizer?: string;
  /** Called with bytes written so far and the total. */
  onProgress?: (done: number, total: number) => void;
}

export interface PackResult {
  path: string;
  fileSize: number;
  modelId: string;
  family: string;
  layers: number;
  neurons: number;
  bundleBytes: number;
  bundleDtype: StoredDtype;
  placementMethod: string;
  denseTensors: number;
  denseBytes: number;
  bundleRegionBytes: number;
  indexBytes: number;
}

const PIECE = 4 * 1024 * 1024;

function storedOf(t: TensorInfo, what: string): "f32" | "f16" | "bf16" {
  switch (t.dtype) {
    case "F32":
      return "f32";
    case "F16":
      return "f16";
    case "BF16":
      return "bf16";
    default:
      return fail("UNSUPPORTED", `${what} "${t.name}" has dtype ${t.dtype}; colink images hold F32, F16 or BF16 tensors`, t.file);
  }
}

/**
 * Positional reads of checkpoint tensors into buffers that are allocated once and
 * reused for every layer (all layers have the same shapes), so memory stays flat
 * at one layer's FFN tensors instead of waiting for the GC to drop the last layer's.
 */
class TensorReader {
  private readonly handles = new Map<string, FileHandle>();
  private readonly buffers = new Map<string, Uint8Array>();

  /** A reusable buffer of `bytes` bytes for `slot`. */
  buffer(slot: string, bytes: number): Uint8Array {
    let b = this.buffers.get(slot);
    if (!b || b.byteLength !== bytes) {
      b = new Uint8Array(bytes);
      this.buffers.set(slot, b);
    }
    return b;
  }

  /** Reads bytes [start, start + out.length) of tensor `t` into `out`. */
  async read(t: TensorInfo, start: number, out: Uint8Array): Promise<Uint8Array> {
    let h = this.handles.get(t.file);
    if (!h) {
      try {
        h = await open(t.file, "r");
      } catch (e) {
        throw fromSystemError(e, t.file);
      }
      this.handles.set(t.file, h);
    }
    for (let done = 0; done < out.length; ) {
      const { bytesRead } = await h.read(out, done, Math.min(out.length - done, 1 << 30), t.start + start + done);
      if (bytesRead === 0) fail("BAD_FORMAT", `${t.file}: file ended inside tensor "${t.name}"`, t.file);
      done += bytesRead;
    }
    return out;
  }

  async close(): Promise<void> {
    for (const h of this.handles.values()) await h.close().catch(() => {});
  }
}

/** Accumulates CRC32C per fixed-size chunk over a byte stream fed in arbitrary pieces. */
class ChunkCrcs {
  readonly crcs: Uint32Array;
  private n = 0;
  private fill = 0;
  private cur = 0;
  constructor(
    readonly chunkBytes: number,
    total: number,
  ) {
    this.crcs = new Uint32Array(Math.ceil(total / chunkBytes));
  }
  update(bytes: Uint8Array): void {
    for (let o = 0; o < bytes.length; ) {
      const take = Math.min(this.chunkBytes - this.fill, bytes.length - o);
      this.cur = crc32c(bytes.subarray(o, o + take), this.cur);
      this.fill += take;
      o += take;
      if (this.fill === this.chunkBytes) this.flush();
    }
  }
  private flush(): void {
    this.crcs[this.n++] = this.cur;
    this.cur = 0;
    this.fill = 0;
  }
  finish(): Uint32Array {
    if (this.fill > 0) this.flush();
    return this.crcs;
  }
}

/** A layer's entry in the index before its checksums exist, plus where each part comes from. */
interface LayerPlan extends Omit<ImageLayerInfo, "neurons" | "parts" | "chunkBytes" | "chunkCrc32c"> {
  parts: (BundlePart & { layout: "row" | "column" | "element"; source: TensorInfo; sourceDtype: "f32" | "f16" | "bf16" })[];
}

/** Checks the FFN tensors of a layer and lays out its bundle. */
function planLayer(ckpt: Checkpoint, spec: ModelSpec, layer: number, dtype: StoredDtype): Omit<LayerPlan, "regionOffset" | "regionLength" | "idAt" | "slotOf"> {
  const n = spec.ffn;
  const d = spec.hidden;
  let at = 0;
  const parts = ffnParts(spec, layer).map((p) => {
    const t = ckpt.tensor(p.tensor);
    const want = p.layout === "row" ? [n, d] : p.layout === "column" ? [d, n] : [n];
    if (t.shape.length !== want.length || t.shape.some((v, i) => v !== want[i]))
      fail("MISMATCH", `tensor "${p.tensor}" has shape [${t.shape.join(", ")}], expected [${want.join(", ")}] (ffn ${n}, hidden ${d})`, t.file);
    const stored = partDtype(p, dtype);
    const bytes = storedBytes(stored, p.elements, `tensor "${p.tensor}" (${p.name} part, --dtype ${dtype})`);
    const part = {
      name: p.name,
      tensor: p.tensor,
      dtype: stored,
      elements: p.elements,
      offset: at,
      bytes,
      layout: p.layout,
      source: t,
      sourceDtype: storedOf(t, "FFN tensor"),
    };
    at += bytes;
    return part;
  });
  return { layer, parts, bundleBytes: at };
}

/**
 * The tokenizer reference: the digest of the given tokenizer.json, else of the
 * checkpoint's tokenizer.json (Hugging Face) or, failing that, tokenizer.model
 * (SentencePiece) when shipped, else the config's `tokenizer` note.
 */
async function tokenizerRef(dir: string, config: Record<string, unknown>, file?: string): Promise<string> {
  if (file !== undefined) {
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (e) {
      throw fromSystemError(e, file);
    }
    // a SentencePiece model keeps its name; anything else is read as a Hugging Face tokenizer.json
    const kind = path.basename(file) === "tokenizer.model" ? "tokenizer.model" : "tokenizer.json";
    return `${kind} sha256:${sha256(bytes)}`;
  }
  for (const name of ["tokenizer.json", "tokenizer.model"]) {
    try {
      return `${name} sha256:${sha256(await readFile(path.join(dir, name)))}`;
    } catch {
      // not shipped: try the next
    }
  }
  return typeof config.tokenizer === "string" ? config.tokenizer : "";
}

function placementLayer(p: Placement | undefined, layer: number, n: number): Pick<LayerPlan, "idAt" | "slotOf" | "cache" | "freq"> {
  const pl = p?.layers[layer];
  const idAt = pl ? Uint32Array.from(pl.order) : Uint32Array.from({ length: n }, (_, i) => i);
  const slotOf = new Uint32Array(n);
  for (let s = 0; s < n; s++) slotOf[idAt[s]] = s;
  const out: Pick<LayerPlan, "idAt" | "slotOf" | "cache" | "freq"> = { idAt, slotOf };
  if (pl?.cache) out.cache = { pinned: pl.cache.pinned.slice(), lru: pl.cache.lru, gapfill: pl.cache.gapfill };
  if (pl?.freq) out.freq = Uint32Array.from(pl.freq);
  return out;
}

export async function packImage(opts: PackOptions): Promise<PackResult> {
  const chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  if (!(Number.isInteger(chunkBytes) && chunkBytes > 0 && chunkBytes % IMAGE_ALIGNMENT === 0))
    fail("BAD_ARGUMENT", `checksum chunk of ${chunkBytes} bytes: expected a positive multiple of ${IMAGE_ALIGNMENT} (--chunk-kib a multiple of 4)`);
  if (opts.dtype !== undefined && !isStoredDtype(opts.dtype))
    fail("BAD_ARGUMENT", `--dtype ${JSON.stringify(opts.dtype)}: expected one of ${STORED_DTYPES.join(", ")}`);
  if (opts.denseDtype !== undefined && !["f32", "f16", "bf16"].includes(opts.denseDtype))
    fail("BAD_ARGUMENT", `--dense-dtype ${JSON.stringify(opts.denseDtype)}: expected f32, f16 or bf16`);
  const ckpt = await Checkpoint.open(opts.model);
  try {
    const spec = modelSpecFromConfig(ckpt.config, path.join(opts.model, "config.json"));
    let placement: Placement | undefined;
    let placementSha256 = "";
    if (opts.placement) {
      placement = await readPlacement(opts.placement, { layers: spec.layers, neurons: spec.ffn });
      placementSha256 = sha256(await readFile(opts.placement));
    }
    // read before anything is written, so a missing --tokenizer file fails first
    const tokenizer = await tokenizerRef(opts.model, ckpt.config, opts.tokenizer);
    const firstFfn = ckpt.tensor(ffnParts(spec, 0)[0].tensor);
    const dtype: StoredDtype = opts.dtype ?? storedOf(firstFfn, "FFN tensor");

    // Layout: superblock page, dense tensors (by name), layer regions (by layer), index.
    let at = IMAGE_ALIGNMENT;
    const bundled = new Set<string>();
    const layers: LayerPlan[] = [];
    for (let l = 0; l < spec.layers; l++) {
      const plan = planLayer(ckpt, spec, l, dtype);
      for (const p of plan.parts) bundled.add(p.tensor);
      layers.push({ ...plan, regionOffset: 0, regionLength: spec.ffn * plan.bundleBytes, ...placementLayer(placement, l, spec.ffn) });
    }
    const tensors: (ImageTensorInfo & { source: TensorInfo; sourceDtype: "f32" | "f16" | "bf16" })[] = [];
    for (const name of ckpt.names().filter((x) => !bundled.has(x)).sort()) {
      const t = ckpt.tensor(name);
      const sourceDtype = storedOf(t, "tensor");
      const dt = opts.denseDtype ?? sourceDtype;
      const length = storedBytes(dt, t.shape.reduce((a, b) => a * b, 1));
      tensors.push({ name, dtype: dt, shape: t.shape.slice(), offset: at, length, crc32c: 0, source: t, sourceDtype });
      at = alignUp(at + length);
    }
    for (const l of layers) {
      l.regionOffset = at;
      at = alignUp(at + l.regionLength);
    }
    const dataEnd = at;
    const denseBytes = tensors.reduce((a, t) => a + t.length, 0);
    const regionBytes = layers.reduce((a, l) => a + l.regionLength, 0);
    // Progress counts bytes written.
    const total = denseBytes + regionBytes;
    let done = 0;
    const tick = (n: number): void => {
      done += n;
      opts.onProgress?.(done, total);
    };

    const file = await AtomicFile.create(opts.out);
    const reader = new TensorReader();
    try {
      const h = file.handle;
      for (const t of tensors) {
        let crc = 0;
        const sourceBytes = t.source.end - t.source.start;
        const es = t.sourceDtype === "f32" ? 4 : 2;
        // PIECE is a multiple of 4, so pieces hold whole elements of any source dtype.
        for (let o = 0, w = 0; o < sourceBytes; o += PIECE) {
          const piece = await reader.read(t.source, o, reader.buffer("piece", PIECE).subarray(0, Math.min(PIECE, sourceBytes - o)));
          let out = piece;
          if (t.dtype !== t.sourceDtype) {
            const n = piece.length / es;
            const f = new Float32Array(reader.buffer("pieceF32", PIECE * 2).buffer, 0, n);
            decodeToF32(piece, 0, n, t.sourceDtype, f);
            out = reader.buffer("pieceOut", PIECE * 2).subarray(0, storedBytes(t.dtype, n));
            encodeF32(f, t.dtype, out);
          }
          crc = crc32c(out, crc);
          await writeAll(h, out, t.offset + w);
          w += out.length;
          tick(out.length);
        }
        t.crc32c = crc;
      }
      const layerInfos: ImageLayerInfo[] = [];
      const staging = [new Uint8Array(PIECE), new Uint8Array(PIECE)];
      for (const l of layers) {
        const sources: PartSource[] = [];
        for (const [k, p] of l.parts.entries()) {
          const size = p.source.end - p.source.start;
          const raw = await reader.read(p.source, 0, reader.buffer(`part${k}`, size));
          const eb = p.sourceDtype === "f32" ? 4 : 2;
          const t = p.layout === "column" ? reader.buffer(`part${k}T`, size) : undefined;
          sources.push({ part: p, sourceDtype: p.sourceDtype, rows: neuronRows(raw, p.layout, spec.ffn, p.elements, eb, t) });
        }
        const writer = new BundleWriter(sources, l.bundleBytes);
        const crcs = new ChunkCrcs(chunkBytes, l.regionLength);
        const perBuffer = Math.max(1, Math.floor(PIECE / l.bundleBytes));
        let pending: Promise<void> = Promise.resolve();
        let pos = l.regionOffset;
        let which = 0;
        for (let s0 = 0; s0 < spec.ffn; s0 += perBuffer) {
          const s1 = Math.min(spec.ffn, s0 + perBuffer);
          const len = (s1 - s0) * l.bundleBytes;
          if (staging[which].length < len) staging[which] = new Uint8Array(len);
          const buf = staging[which].subarray(0, len);
          for (let s = s0; s < s1; s++) writer.write(l.idAt[s], buf, (s - s0) * l.bundleBytes);
          crcs.update(buf);
          // One write in flight: wait for the previous one before reusing its buffer next round.
          await pending;
          pending = writeAll(h, buf, pos);
          pos += len;
          which ^= 1;
          tick(len);
        }
        await pending;
        layerInfos.push({
          layer: l.layer,
          neurons: spec.ffn,
          bundleBytes: l.bundleBytes,
          parts: l.parts.map(({ name, tensor, dtype: pd, elements, offset, bytes }) => ({ name, tensor, dtype: pd, elements, offset, bytes })),
          regionOffset: l.regionOffset,
          regionLength: l.regionLength,
          idAt: l.idAt,
          slotOf: l.slotOf,
          ...(l.cache ? { cache: l.cache } : {}),
          ...(l.freq ? { freq: l.freq } : {}),
          chunkBytes,
          chunkCrc32c: crcs.finish(),
        });
      }
      const index: ImageIndexInput = {
        family: spec.family,
        architecture: spec.architecture,
        configJson: ckpt.configText,
        modelId: spec.modelId,
        hiddenSize: spec.hidden,
        tokenizer,
        placementMethod: placement?.method ?? "identity",
        placementSha256,
        bundleDtype: dtype,
        alignment: IMAGE_ALIGNMENT,
        tensors: tensors.map(({ source: _s, sourceDtype: _d, ...t }) => t),
        layers: layerInfos,
      };
      const tail = await writeImageTail(h, index, dataEnd, opts.out);
      await file.commit();
      return {
        path: opts.out,
        fileSize: tail.fileSize,
        modelId: spec.modelId,
        family: spec.family,
        layers: spec.layers,
        neurons: spec.ffn,
        bundleBytes: layers[0].bundleBytes,
        bundleDtype: dtype,
        placementMethod: index.placementMethod,
        denseTensors: tensors.length,
        denseBytes,
        bundleRegionBytes: regionBytes,
        indexBytes: tail.indexLength,
      };
    } catch (e) {
      await file.abort();
      throw e;
    } finally {
      await reader.close();
    }
  } finally {
    await ckpt.close();
  }
}
