/**
 * Assembling neuron bundles from one layer's FFN tensors: the pure, in-memory part
 * of packing. A layer's source tensors are held once (columns transposed to rows so
 * every part of a neuron is a contiguous slice), then bundles are written slot by
 * slot into a caller's buffer, converting dtype per part.
 */
import { type BundlePart, decodeToF32, encodeF32, fail, type PartLayout, type StoredDtype } from "@colink/core";

/** One part's source: raw little-endian values of its tensor, one row per neuron. */
export interface PartSource {
  part: BundlePart;
  /** Dtype of the values in `rows` (the checkpoint's). */
  sourceDtype: "f32" | "f16" | "bf16";
  /** N rows of `part.elements` values each (row i = neuron i). */
  rows: Uint8Array;
}

const ELEMENT_BYTES = { f32: 4, f16: 2, bf16: 2 } as const;

/**
 * Turns a checkpoint tensor into per-neuron rows. `row`: a [N, d] matrix is already
 * that; `element`: an [N] vector is N rows of 1; `column`: a [d, N] matrix is
 * transposed (blocked, so both sides stay in cache) into [N, d].
 */
export function neuronRows(
  raw: Uint8Array,
  layout: PartLayout,
  neurons: number,
  elements: number,
  elementBytes: number,
  out: Uint8Array = new Uint8Array(raw.byteLength),
): Uint8Array {
  if (raw.byteLength !== neurons * elements * elementBytes)
    fail("MISMATCH", `tensor has ${raw.byteLength} bytes, expected ${neurons} x ${elements} x ${elementBytes}`);
  if (layout !== "column") return raw;
  if (out.byteLength !== raw.byteLength || out.byteOffset % 4 !== 0) fail("BAD_ARGUMENT", "neuronRows: output buffer must match the tensor size");
  const count = neurons * elements;
  const [src, dst] =
    elementBytes === 2
      ? [new Uint16Array(raw.buffer, raw.byteOffset, count), new Uint16Array(out.buffer, out.byteOffset, count)]
      : [new Uint32Array(raw.buffer, raw.byteOffset, count), new Uint32Array(out.buffer, out.byteOffset, count)];
  const d = elements;
  const n = neurons;
  const B = 64;
  for (let r0 = 0; r0 < d; r0 += B) {
    const r1 = Math.min(d, r0 + B);
    for (let c0 = 0; c0 < n; c0 += B) {
      const c1 = Math.min(n, c0 + B);
      for (let r = r0; r < r1; r++) {
        const row = r * n;
        for (let c = c0; c < c1; c++) dst[c * d + r] = src[row + c];
      }
    }
  }
  return out;
}

/** Writes bundles slot by slot; holds the float32 scratch for conversions. */
export class BundleWriter {
  readonly sources: PartSource[];
  readonly bundleBytes: number;
  private readonly scratch: Float32Array;

  constructor(sources: PartSource[], bundleBytes: number) {
    this.sources = sources;
    this.bundleBytes = bundleBytes;
    this.scratch = new Float32Array(Math.max(...sources.map((s) => s.part.elements)));
  }

  /** Writes the bundle of neuron `id` at byte `at` of `out`. */
  write(id: number, out: Uint8Array, at: number): void {
    for (const s of this.sources) {
      const { part } = s;
      const eb = ELEMENT_BYTES[s.sourceDtype];
      const rowBytes = part.elements * eb;
      const start = id * rowBytes;
      if (part.dtype === (s.sourceDtype as StoredDtype)) {
        // Same encoding: the stored bytes are the checkpoint's bytes, bit for bit.
        out.set(s.rows.subarray(start, start + rowBytes), at + part.offset);
      } else {
        const f = this.scratch.subarray(0, part.elements);
        decodeToF32(s.rows, start, part.elements, s.sourceDtype, f);
        encodeF32(f, part.dtype, out, at + part.offset);
      }
    }
  }
}
