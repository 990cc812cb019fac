/**
 * The token stream a profile runs on: corpus files concatenated in the order given
 * and tokenized (bytes, or a Hugging Face tokenizer.json), or pre-tokenized ids from
 * an .npy file. Cut into consecutive sequences by the caller.
 */
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { ColinkError, fail, fromSystemError, openNpy } from "@colink/core";

export interface TokenStream {
  ids: Int32Array;
  /** "bytes", "tokenizer.json sha256:<hex>" or "token-ids <file>". */
  tokenizer: string;
}

async function readFile(file: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch (e) {
    throw fromSystemError(e, file);
  }
}

/** Byte tokenizer: token id = byte value, files concatenated. */
/** The token stream: `chunks` (one per corpus file, in order) concatenated, cut at `maxTokens`. */
function concatTokens(chunks: ArrayLike<number>[], maxTokens?: number): Int32Array {
  let n = 0;
  for (const c of chunks) n += c.length;
  const total = maxTokens === undefined ? n : Math.min(n, maxTokens);
  const out = new Int32Array(total);
  let o = 0;
  for (const c of chunks) {
    const k = Math.min(c.length, total - o);
    for (let i = 0; i < k; i++) out[o + i] = c[i];
    o += k;
  }
  return out;
}

export async function byteTokens(corpus: string[], maxTokens?: number): Promise<Int32Array> {
  const parts: Buffer[] = [];
  let n = 0;
  for (const f of corpus) {
    if (maxTokens !== undefined && n >= maxTokens) break;
    const b = await readFile(f);
    parts.push(b);
    n += b.length;
  }
  return concatTokens(parts, maxTokens);
}

/** Hugging Face tokenizer.json (with tokenizer_config.json beside it if present); no special tokens added. */
export async function hfTokens(tokenizerFile: string, corpus: string[], maxTokens?: number): Promise<Int32Array> {
  const { Tokenizer } = await import("@huggingface/tokenizers");
  let json: unknown;
  try {
    json = JSON.parse((await readFile(tokenizerFile)).toString("utf8"));
  } catch (e) {
    if (e instanceof ColinkError) throw e;
    fail("BAD_FORMAT", `${tokenizerFile}: not valid JSON (${(e as Error).message})`, tokenizerFile);
  }
  let config: unknown = {};
  const cfgFile = path.join(path.dirname(tokenizerFile), "tokenizer_config.json");
  try {
    config = JSON.parse(await fs.readFile(cfgFile, "utf8"));
  } catch {
    /* optional */
  }
  let tok: InstanceType<typeof Tokenizer>;
  try {
    tok = new Tokenizer(json as object, config as object);
  } catch (e) {
    fail("BAD_FORMAT", `${tokenizerFile}: not a tokenizer.json the tokenizer library accepts (${(e as Error).message})`, tokenizerFile);
  }
  const chunks: number[][] = [];
  let n = 0;
  for (const f of corpus) {
    if (maxTokens !== undefined && n >= maxTokens) break;
    const ids = tok.encode((await readFile(f)).toString("utf8"), { add_special_tokens: false }).ids;
    chunks.push(ids);
    n += ids.length;
  }
  return concatTokens(chunks, maxTokens);
}

/** Token ids from an .npy file: integer dtype, rank 1 (a stream) or 2 ([sequences, len], read row by row). */
export async function npyTokens(file: string, maxTokens?: number): Promise<Int32Array> {
  const { header, handle } = await openNpy(file);
  try {
    const { dtype, shape, dataOffset } = header;
    if (!["i4", "i8", "u1", "u2", "u4"].includes(dtype))
      fail("BAD_FORMAT", `${file}: token ids must be an integer array (int32, int64, uint8/16/32), got dtype ${dtype}`, file);
    if (shape.length !== 1 && shape.length !== 2)
      fail("BAD_FORMAT", `${file}: token ids must have shape (tokens,) or (sequences, length), got (${shape.join(", ")})`, file);
    const count = shape.reduce((a, b) => a * b, 1);
    const total = maxTokens === undefined ? count : Math.min(count, maxTokens);
    const item = { i4: 4, i8: 8, u1: 1, u2: 2, u4: 4 }[dtype as "i4"];
    const buf = new Uint8Array(total * item);
    if (buf.length > 0) await handle.read(buf, 0, buf.length, dataOffset);
    const dv = new DataView(buf.buffer);
    const out = new Int32Array(total);
    for (let i = 0; i < total; i++) {
      const v =
        dtype === "i8"
          ? Number(dv.getBigInt64(i * 8, true))
          : dtype === "i4"
            ? dv.getInt32(i * 4, true)
            : dtype === "u4"
              ? dv.getUint32(i * 4, true)
              : dtype === "u2"
                ? dv.getUint16(i * 2, true)
                : buf[i];
      if (!(v >= 0 && v <= 0x7fffffff)) fail("BAD_FORMAT", `${file}: token id ${v} at index ${i} is negative or too large`, file);
      out[i] = v;
    }
    return out;
  } finally {
    await handle.close();
  }
}
