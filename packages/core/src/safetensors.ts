/**
 * The safetensors file format: header parsing and validation, positional reads,
 * float conversion, and an encoder for tests and tools. Checkpoint directories
 * (config.json + one or more .safetensors files) are in checkpoint.ts.
 *
 * File layout (https://huggingface.co/docs/safetensors): an unsigned 64-bit
 * little-endian header length N, then N bytes of UTF-8 JSON
 * `{"<name>": {"dtype": "F16", "shape": [r, c], "data_offsets": [begin, end]}, ...,
 * "__metadata__": {...}}`, then the data section; offsets are relative to byte 8 + N.
 * Tensors are C-order, little-endian. Nothing here reads more than the header
 * until a tensor (or a row range of one) is asked for.
 */
import type * as fs from "node:fs/promises";
import { fail } from "./errors.js";
import { bf16ArrayToF32, f16ArrayToF32 } from "./half.js";
import { openForRead, readFully } from "./fsutil.js";

export type SafetensorsDtype =
  | "F64"
  | "F32"
  | "F16"
  | "BF16"
  | "I64"
  | "I32"
  | "I16"
  | "I8"
  | "U64"
  | "U32"
  | "U16"
  | "U8"
  | "BOOL"
  | "F8_E4M3"
  | "F8_E5M2";

/** Bytes per element of each dtype the format defines. */
export const DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = Object.freeze({
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
});

/** Dtypes colink converts to float32 for computation. */
export const FLOAT_DTYPES: readonly SafetensorsDtype[] = ["F32", "F16", "BF16"];

/** Largest header accepted; the reference implementation uses the same 100 MB cap. */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** The safetensors file holding it. */
  file: string;
  /** Absolute byte offsets in `file`: data is [start, end). */
  start: number;
  end: number;
}

export interface SafetensorsHeader {
  /** Bytes before the data section: 8 + header length. */
  dataStart: number;
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
}

/**
 * Validates a parsed header against the file size: known dtype, integer shape,
 * data_offsets inside the data section, byte size = product(shape) x dtype size,
 * no two tensors overlapping. `file` names the file in errors.
 */
export function parseSafetensorsHeader(
  json: Uint8Array,
  headerLength: number,
  fileSize: number,
  file: string,
): SafetensorsHeader {
  // the error's file prefix names it (ColinkError), so the message starts after it
  const bad = (what: string): never => fail("BAD_FORMAT", `not a valid safetensors file: ${what}`, file);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(json));
  } catch (e) {
    return bad(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return bad("header is not a JSON object");
  const dataStart = 8 + headerLength;
  const dataBytes = fileSize - dataStart;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) bad(`"__metadata__" must be an object`);
      metadata = raw as Record<string, string>;
      continue;
    }
    if (typeof raw !== "object" || raw === null) return bad(`tensor "${name}" entry is not an object`);
    const { dtype, shape, data_offsets: off } = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== "string" || !(dtype in DTYPE_BYTES))
      bad(`tensor "${name}" has unknown dtype ${JSON.stringify(dtype)} (expected one of ${Object.keys(DTYPE_BYTES).join(", ")})`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      bad(`tensor "${name}" has a bad shape ${JSON.stringify(shape)} (expected a list of integers >= 0)`);
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[0] > off[1])
      bad(`tensor "${name}" has bad data_offsets ${JSON.stringify(off)} (expected [begin, end] with 0 <= begin <= end)`);
    const [begin, end] = off as number[];
    const need = (shape as number[]).reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype as SafetensorsDtype];
    if (end - begin !== need)
      bad(`tensor "${name}" spans ${end - begin} bytes, but shape [${(shape as number[]).join(", ")}] of ${dtype} needs ${need}`);
    if (end > dataBytes)
      bad(`tensor "${name}" ends at data offset ${end}, past the end of the data section (${dataBytes} bytes; file truncated?)`);
    tensors.set(name, {
      name,
      dtype: dtype as SafetensorsDtype,
      shape: (shape as number[]).slice(),
      file,
      start: dataStart + begin,
      end: dataStart + end,
    });
  }
  const sorted = [...tensors.values()].filter((t) => t.end > t.start).sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++)
    if (sorted[i].start < sorted[i - 1].end) bad(`tensors "${sorted[i - 1].name}" and "${sorted[i].name}" overlap`);
  return { dataStart, tensors, metadata };
}

/** Reads exactly `length` bytes at `position`, in pieces (a single read is capped near 2 GiB). */
async function readExact(handle: fs.FileHandle, file: string, position: number, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  await readFully(handle, file, out, position);
  return out;
}

/** One open .safetensors file: its validated header and a handle for positional reads. */
export class SafetensorsFile {
  readonly file: string;
  readonly header: SafetensorsHeader;
  readonly handle: fs.FileHandle;

  private constructor(file: string, handle: fs.FileHandle, header: SafetensorsHeader) {
    this.file = file;
    this.handle = handle;
    this.header = header;
  }

  static async open(file: string): Promise<SafetensorsFile> {
    const handle = await openForRead(file);
    try {
      const { size } = await handle.stat();
      if (size < 8) fail("BAD_FORMAT", `not a valid safetensors file: ${size} bytes, shorter than the 8-byte header length`, file);
      const lenBuf = await readExact(handle, file, 0, 8);
      const n = Number(new DataView(lenBuf.buffer).getBigUint64(0, true)); // header length, u64 little-endian
      if (n < 2 || n > MAX_HEADER_BYTES)
        fail("BAD_FORMAT", `not a valid safetensors file: header length ${n} is not in [2, ${MAX_HEADER_BYTES}]`, file);
      if (8 + n > size)
        fail("BAD_FORMAT", `not a valid safetensors file: header of ${n} bytes runs past the end of the ${size}-byte file (truncated?)`, file);
      const json = await readExact(handle, file, 8, n);
      return new SafetensorsFile(file, handle, parseSafetensorsHeader(json, n, size, file));
    } catch (e) {
      await handle.close().catch(() => {});
      throw e;
    }
  }

  /** Reads `length` bytes at absolute file offset `position` (into a fresh, aligned buffer). */
  read(position: number, length: number): Promise<Uint8Array> {
    return readExact(this.handle, this.file, position, length);
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => {});
  }
}

/** Number of elements of a shape (1 for a scalar). */
export function elementsOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Converts raw little-endian bytes of a float tensor to float32 (bytes must start 4-byte aligned). */
export function tensorBytesToF32(t: TensorInfo, bytes: Uint8Array): Float32Array {
  const n = bytes.byteLength / DTYPE_BYTES[t.dtype];
  switch (t.dtype) {
    case "F32":
      return new Float32Array(bytes.buffer, bytes.byteOffset, n);
    case "F16":
      return f16ArrayToF32(new Uint16Array(bytes.buffer, bytes.byteOffset, n));
    case "BF16":
      return bf16ArrayToF32(new Uint16Array(bytes.buffer, bytes.byteOffset, n));
    default:
      return fail(
        "UNSUPPORTED",
        `tensor "${t.name}" has dtype ${t.dtype}; colink computes with F32, F16 or BF16 tensors`,
        t.file,
      );
  }
}

/** A tensor to write with encodeSafetensors. */
export interface TensorData {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Raw little-endian bytes, product(shape) x dtype size long. */
  data: Uint8Array;
}

/**
 * Encodes tensors as one safetensors file (tensors in the given order, header padded
 * with spaces to a multiple of 8 as the reference writer does). For tests and tools.
 */
export function encodeSafetensors(tensors: Record<string, TensorData>, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const need = elementsOf(t.shape) * DTYPE_BYTES[t.dtype];
    if (t.data.byteLength !== need)
      fail("BAD_ARGUMENT", `tensor "${name}": ${t.data.byteLength} bytes given, shape [${t.shape.join(", ")}] of ${t.dtype} needs ${need}`);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + need] };
    offset += need;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let pos = 8 + head.length;
  for (const t of Object.values(tensors)) {
    out.set(t.data, pos);
    pos += t.data.byteLength;
  }
  return out;
}

/** Bytes of a Float32Array, for encodeSafetensors. */
export function f32Bytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
