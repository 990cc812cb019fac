/**
 * NumPy .npy files (format versions 1.0-3.0), little-endian, C order. Spec:
 * https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
 *
 * Layout: magic "\x93NUMPY", major, minor, header length (uint16 LE for v1, uint32 LE
 * for v2/v3), a Python-literal dict {'descr': '<f4', 'fortran_order': False,
 * 'shape': (k, p, d), }, padded with spaces to a multiple of 64 bytes, then the data.
 */
import type * as fs from "node:fs/promises";
import { fail, } from "./errors.js";
import { AtomicFile, openForRead } from "./fsutil.js";

export type NpyDtype = "u1" | "b1" | "f4" | "f2" | "u2" | "u4" | "i4" | "i8";

const ITEM: Record<NpyDtype, number> = { u1: 1, b1: 1, f4: 4, f2: 2, u2: 2, u4: 4, i4: 4, i8: 8 };

export interface NpyHeader {
  dtype: NpyDtype;
  shape: number[];
  /** Byte offset of the data in the file. */
  dataOffset: number;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Parses the header at the start of `buf` (the first few KiB of the file suffice). */
export function parseNpyHeader(buf: Uint8Array, file: string, fileSize: number): NpyHeader {
  const bad = (what: string): never => fail("BAD_FORMAT", `${file}: not a valid .npy file: ${what}`, file);
  if (buf.length < 10 || MAGIC.some((b, i) => buf[i] !== b)) bad('expected magic "\\x93NUMPY"');
  const major = buf[6];
  if (major < 1 || major > 3) bad(`unsupported format version ${major}.${buf[7]}`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  const hlen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const start = 8 + lenBytes;
  if (start + hlen > buf.length) bad("header is truncated");
  const text = new TextDecoder("latin1").decode(buf.subarray(start, start + hlen));
  const descr = /'descr':\s*'([^']*)'/.exec(text)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined)
    return bad("header dict lacks descr, fortran_order or shape");
  if (fortran === "True") bad("Fortran-ordered arrays are not supported (expected C order)");
  const m = /^([<>|=])([a-z])(\d+)$/.exec(descr);
  if (!m) return bad(`unsupported dtype descr '${descr}'`);
  const [, order, kind, size] = m;
  if (order === ">" && size !== "1") bad(`big-endian dtype '${descr}' is not supported`);
  const dtype = `${kind}${size}` as NpyDtype;
  if (!(dtype in ITEM)) bad(`unsupported dtype '${descr}'`);
  const shape = shapeText
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      const v = Number(s.replace(/L$/, ""));
      if (!Number.isInteger(v) || v < 0) bad(`bad shape (${shapeText})`);
      return v;
    });
  const dataOffset = start + hlen;
  const expected = shape.reduce((a, b) => a * b, 1) * ITEM[dtype];
  if (fileSize - dataOffset !== expected)
    bad(`data is ${fileSize - dataOffset} bytes, shape (${shape.join(", ")}) of ${descr} needs ${expected}`);
  return { dtype, shape, dataOffset };
}

/** Opens an .npy file and returns its header plus an open handle for streaming reads. */
export async function openNpy(file: string): Promise<{ header: NpyHeader; handle: fs.FileHandle }> {
  const handle = await openForRead(file);
  try {
    const { size } = await handle.stat();
    const head = new Uint8Array(Math.min(size, 65536 + 16));
    await handle.read(head, 0, head.length, 0);
    return { header: parseNpyHeader(head, file, size), handle };
  } catch (e) {
    await handle.close();
    throw e;
  }
}

function headerBytes(descr: string, shape: number[]): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + dict.length + 1;
  dict += `${" ".repeat((64 - (total % 64)) % 64)}\n`;
  const out = new Uint8Array(10 + dict.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, dict.length, true);
  out.set(new TextEncoder().encode(dict), 10);
  return out;
}

/**
 * Writes an .npy file atomically from chunks produced by `fill` (called with a
 * writer that appends bytes in C order). `descr` is e.g. '<f4' or '|u1'.
 */
export async function writeNpy(
  target: string,
  descr: string,
  shape: number[],
  fill: (append: (bytes: Uint8Array) => Promise<void>) => Promise<void>,
): Promise<void> {
  const f = await AtomicFile.create(target);
  try {
    let pos = 0;
    const append = async (bytes: Uint8Array): Promise<void> => {
      await f.handle.write(bytes, 0, bytes.length, pos);
      pos += bytes.length;
    };
    await append(headerBytes(descr, shape));
    await fill(append);
    await f.commit();
  } catch (e) {
    await f.abort();
    throw e;
  }
}

/** Writes a whole Float32Array as an .npy of the given shape. */
export async function writeNpyF32(target: string, shape: number[], data: Float32Array): Promise<void> {
  await writeNpy(target, "<f4", shape, async (append) => {
    await append(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  });
}
