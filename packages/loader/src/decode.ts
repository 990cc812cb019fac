/**
 * Stored bundle parts → float32, for `colink read` and for callers that want values
 * rather than stored bytes: exact for f32/f16/bf16, the documented dequantisation
 * for q8_0/q4_0 (core/quant.ts, byte-compatible with llama.cpp).
 */
import { decodeToF32, type StoredDtype } from "@colink/core";

/** Decodes `elements` values of a stored part into `out` (allocated when omitted). */
export function decodePart(dtype: StoredDtype, src: Uint8Array, elements: number, out = new Float32Array(elements)): Float32Array {
  decodeToF32(src, 0, elements, dtype, out, 0);
  return out;
}
