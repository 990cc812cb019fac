/**
 * Stored bundle parts → float32, for `colink read` and for callers that want
 * values rather than stored bytes. f32/f16/bf16 use core/half.ts; q8_0/q4_0 follow
 * the llama.cpp block layout spelled out in proto/colink.proto (little-endian f16
 * scale first). TODO: use core/quant.ts once it exports the dequantiser.
 */
import { bf16ArrayToF32, f16ToF32, fail, type StoredDtype } from "@colink/core";

function q8_0(src: Uint8Array, elements: number, out: Float32Array): Float32Array {
  // block: f16 scale d, 32 x int8 q; value = d * q
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  for (let b = 0, o = 0; o < elements; b += 34) {
    const d = f16ToF32(dv.getUint16(b, true));
    for (let j = 0; j < 32 && o < elements; j++) out[o++] = d * dv.getInt8(b + 2 + j);
  }
  return out;
}

function q4_0(src: Uint8Array, elements: number, out: Float32Array): Float32Array {
  // block: f16 scale d, 16 bytes; value j = d * ((byte[j] & 15) - 8), value j+16 = d * ((byte[j] >> 4) - 8)
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  for (let b = 0, base = 0; base < elements; b += 18, base += 32) {
    const d = f16ToF32(dv.getUint16(b, true));
    for (let j = 0; j < 16; j++) {
      const byte = src[b + 2 + j];
      if (base + j < elements) out[base + j] = d * ((byte & 15) - 8);
      if (base + j + 16 < elements) out[base + j + 16] = d * ((byte >> 4) - 8);
    }
  }
  return out;
}

/** Decodes `elements` values of a stored part into `out` (allocated when omitted). */
export function decodePart(dtype: StoredDtype, src: Uint8Array, elements: number, out = new Float32Array(elements)): Float32Array {
  switch (dtype) {
    case "f32": {
      const bytes = src.subarray(0, elements * 4);
      // Views need 4-byte alignment; copy through when a part sits unaligned.
      if (bytes.byteOffset % 4 === 0) out.set(new Float32Array(bytes.buffer, bytes.byteOffset, elements));
      else new Uint8Array(out.buffer, out.byteOffset, elements * 4).set(bytes);
      return out;
    }
    case "f16":
    case "bf16": {
      const bytes = src.subarray(0, elements * 2);
      const u16 = bytes.byteOffset % 2 === 0 ? new Uint16Array(bytes.buffer, bytes.byteOffset, elements) : new Uint16Array(bytes.slice().buffer);
      if (dtype === "bf16") return bf16ArrayToF32(u16, out);
      for (let i = 0; i < elements; i++) out[i] = f16ToF32(u16[i]);
      return out;
    }
    case "q8_0":
      return q8_0(src, elements, out);
    case "q4_0":
      return q4_0(src, elements, out);
    default:
      return fail("UNSUPPORTED", `stored dtype "${dtype as string}" cannot be decoded`);
  }
}
