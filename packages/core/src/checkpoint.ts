/**
 * Hugging Face checkpoint directories, read lazily: `config.json` plus either
 * `model.safetensors` or `model.safetensors.index.json` with its shards. Headers are
 * read and validated on open (safetensors.ts); tensor data only when asked for.
 */
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { ColinkError, fail, fromSystemError } from "./errors.js";
import { bf16ArrayToF32, f16ArrayToF32 } from "./half.js";
import { DTYPE_BYTES, elementsOf, SafetensorsFile, type TensorInfo, tensorBytesToF32 } from "./safetensors.js";

/**
 * A Hugging Face checkpoint directory: `config.json` plus either `model.safetensors`
 * or `model.safetensors.index.json` with its shards. Headers are read on open;
 * tensor data only when asked for.
 */
export class Checkpoint {
  readonly dir: string;
  /** config.json, verbatim and parsed. */
  readonly configText: string;
  readonly config: Record<string, unknown>;
  /** The file named in "missing tensor" errors (model.safetensors or the index). */
  readonly weightsName: string;
  private readonly files: SafetensorsFile[];
  private readonly index = new Map<string, TensorInfo>();
  private readonly aliases = new Map<string, TensorInfo>();
  private readonly byFile = new Map<string, SafetensorsFile>();

  private constructor(dir: string, configText: string, config: Record<string, unknown>, weightsName: string, files: SafetensorsFile[]) {
    this.dir = dir;
    this.configText = configText;
    this.config = config;
    this.weightsName = weightsName;
    this.files = files;
    for (const f of files) {
      this.byFile.set(f.file, f);
      for (const [name, t] of f.header.tensors) this.index.set(name, t);
    }
    // Checkpoints saved from the base model (e.g. facebook/opt-*: "decoder.layers.0...")
    // lack the "model." prefix that the *ForCausalLM names have; answer to both.
    const names = [...this.index.keys()];
    if (names.length > 0 && !names.some((n) => n.startsWith("model.")))
      for (const n of names) if (!n.startsWith("lm_head.")) this.aliases.set(`model.${n}`, this.index.get(n)!);
  }

  static async open(dir: string): Promise<Checkpoint> {
    const configPath = path.join(dir, "config.json");
    let configText: string;
    try {
      const st = await fs.stat(dir);
      if (!st.isDirectory()) fail("BAD_ARGUMENT", `${dir}: expected a model directory (config.json + model.safetensors)`, dir);
      configText = await fs.readFile(configPath, "utf8");
    } catch (e) {
      if (e instanceof ColinkError) throw e;
      throw fromSystemError(e, (e as NodeJS.ErrnoException).path ?? configPath);
    }
    let config: Record<string, unknown>;
    try {
      config = JSON.parse(configText);
    } catch (e) {
      throw new ColinkError("BAD_FORMAT", `${configPath}: not valid JSON (${(e as Error).message})`, configPath);
    }
    if (typeof config !== "object" || config === null || Array.isArray(config))
      fail("BAD_FORMAT", `${configPath}: expected a JSON object`, configPath);

    const indexPath = path.join(dir, "model.safetensors.index.json");
    const single = path.join(dir, "model.safetensors");
    let shardNames: string[];
    let weightsName: string;
    let weightMap: Record<string, string> | null = null;
    if (await exists(indexPath)) {
      weightsName = "model.safetensors.index.json";
      let idx: { weight_map?: unknown };
      try {
        idx = JSON.parse(await fs.readFile(indexPath, "utf8"));
      } catch (e) {
        throw new ColinkError("BAD_FORMAT", `${indexPath}: not valid JSON (${(e as Error).message})`, indexPath);
      }
      const wm = idx?.weight_map;
      if (typeof wm !== "object" || wm === null || Array.isArray(wm) || !Object.values(wm).every((v) => typeof v === "string"))
        fail("BAD_FORMAT", `${indexPath}: expected "weight_map": {tensor name: shard file name}`, indexPath);
      weightMap = wm as Record<string, string>;
      shardNames = [...new Set(Object.values(weightMap))].sort();
      for (const s of shardNames)
        if (s.includes("/") || s.includes("\\") || s.startsWith("."))
          fail("BAD_FORMAT", `${indexPath}: shard name "${s}" must be a plain file name in the model directory`, indexPath);
    } else if (await exists(single)) {
      weightsName = "model.safetensors";
      shardNames = ["model.safetensors"];
    } else {
      return fail("NOT_FOUND", `${dir}: no model.safetensors or model.safetensors.index.json in the model directory`, dir);
    }

    const files: SafetensorsFile[] = [];
    try {
      for (const s of shardNames) files.push(await SafetensorsFile.open(path.join(dir, s)));
      if (weightMap) {
        // Every tensor the index names must sit in the shard it names.
        const byFile = new Map(files.map((f) => [path.basename(f.file), f]));
        for (const [name, shard] of Object.entries(weightMap))
          if (!byFile.get(shard)?.header.tensors.has(name))
            fail("BAD_FORMAT", `tensor "${name}" is listed in shard ${shard}, which does not hold it`, indexPath);
      }
    } catch (e) {
      for (const f of files) await f.close();
      throw e;
    }
    return new Checkpoint(dir, configText, config, weightsName, files);
  }

  /** Tensor names as stored, in file order. */
  names(): string[] {
    return [...this.index.keys()];
  }

  has(name: string): boolean {
    return this.index.has(name) || this.aliases.has(name);
  }

  /** Where a tensor lives; throws NOT_FOUND naming the weights file and the tensor. */
  tensor(name: string): TensorInfo {
    const t = this.index.get(name) ?? this.aliases.get(name);
    if (!t) fail("NOT_FOUND", `tensor "${name}" is missing`, path.join(this.dir, this.weightsName));
    return t;
  }

  /** Raw bytes of a tensor, or of its byte range [start, end) relative to the tensor's start. */
  async readBytes(name: string, start = 0, end?: number): Promise<Uint8Array> {
    const t = this.tensor(name);
    const size = t.end - t.start;
    const e = end ?? size;
    if (!(Number.isSafeInteger(start) && Number.isSafeInteger(e) && start >= 0 && start <= e && e <= size))
      fail("BAD_ARGUMENT", `tensor "${name}": byte range [${start}, ${e}) is outside its ${size} bytes`);
    return this.byFile.get(t.file)!.read(t.start + start, e - start);
  }

  /** A whole float tensor (F32/F16/BF16) as float32. */
  async readF32(name: string): Promise<Float32Array> {
    const t = this.tensor(name);
    return tensorBytesToF32(t, await this.readBytes(name));
  }

  /** A whole float tensor converted into `out` at element `offset` (no intermediate float32 copy). */
  async readF32Into(name: string, out: Float32Array, offset = 0): Promise<void> {
    const t = this.tensor(name);
    const n = elementsOf(t.shape);
    if (!(Number.isInteger(offset) && offset >= 0 && offset + n <= out.length))
      fail("BAD_ARGUMENT", `tensor "${name}": ${n} values do not fit at offset ${offset} of a ${out.length}-value buffer`);
    const bytes = await this.readBytes(name);
    const dst = out.subarray(offset, offset + n);
    if (t.dtype === "F16") f16ArrayToF32(new Uint16Array(bytes.buffer, bytes.byteOffset, n), dst);
    else if (t.dtype === "BF16") bf16ArrayToF32(new Uint16Array(bytes.buffer, bytes.byteOffset, n), dst);
    else dst.set(tensorBytesToF32(t, bytes));
  }

  /** Rows [r0, r1) of a tensor along its first dimension, as float32 (C order). */
  async readRowsF32(name: string, r0: number, r1: number): Promise<Float32Array> {
    const t = this.tensor(name);
    const rows = t.shape.length === 0 ? 1 : t.shape[0];
    if (!(Number.isInteger(r0) && Number.isInteger(r1) && 0 <= r0 && r0 <= r1 && r1 <= rows))
      fail("BAD_ARGUMENT", `tensor "${name}": rows [${r0}, ${r1}) are outside its ${rows} rows`);
    const rowBytes = elementsOf(t.shape.slice(1)) * DTYPE_BYTES[t.dtype];
    return tensorBytesToF32(t, await this.readBytes(name, r0 * rowBytes, r1 * rowBytes));
  }

  async close(): Promise<void> {
    for (const f of this.files) await f.close();
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}
