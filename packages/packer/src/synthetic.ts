/**
 * Synthetic Hugging Face checkpoints (config.json + model.safetensors) with real
 * Llama or OPT tensor names and shapes and deterministic pseudo-random weights, for
 * the packer's tests and benchmark. Written tensor by tensor, so a 7B-shaped layer
 * never needs more than one tensor in memory.
 */
import { mkdir, open, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { f32ArrayToBf16, f32ArrayToF16 } from "@colink/core";

export interface SyntheticModel {
  family: "llama" | "opt";
  hidden: number;
  ffn: number;
  layers: number;
  vocab?: number;
  /** Checkpoint dtype of every tensor. */
  dtype: "F32" | "F16" | "BF16";
  seed?: number;
}

interface Spec {
  name: string;
  shape: number[];
}

function tensorSpecs(m: SyntheticModel): Spec[] {
  const d = m.hidden;
  const v = m.vocab ?? 256;
  const out: Spec[] = [];
  if (m.family === "llama") {
    out.push({ name: "model.embed_tokens.weight", shape: [v, d] });
    for (let l = 0; l < m.layers; l++) {
      const p = `model.layers.${l}.`;
      out.push({ name: `${p}input_layernorm.weight`, shape: [d] });
      for (const x of ["q", "k", "v", "o"]) out.push({ name: `${p}self_attn.${x}_proj.weight`, shape: [d, d] });
      out.push({ name: `${p}post_attention_layernorm.weight`, shape: [d] });
      out.push({ name: `${p}mlp.gate_proj.weight`, shape: [m.ffn, d] });
      out.push({ name: `${p}mlp.up_proj.weight`, shape: [m.ffn, d] });
      out.push({ name: `${p}mlp.down_proj.weight`, shape: [d, m.ffn] });
    }
    out.push({ name: "model.norm.weight", shape: [d] }, { name: "lm_head.weight", shape: [v, d] });
  } else {
    out.push({ name: "model.decoder.embed_tokens.weight", shape: [v, d] }, { name: "model.decoder.embed_positions.weight", shape: [66, d] });
    for (let l = 0; l < m.layers; l++) {
      const p = `model.decoder.layers.${l}.`;
      out.push({ name: `${p}fc1.weight`, shape: [m.ffn, d] }, { name: `${p}fc1.bias`, shape: [m.ffn] });
      out.push({ name: `${p}fc2.weight`, shape: [d, m.ffn] }, { name: `${p}fc2.bias`, shape: [d] });
      out.push({ name: `${p}final_layer_norm.weight`, shape: [d] });
    }
  }
  return out;
}

function config(m: SyntheticModel): Record<string, unknown> {
  const common = { hidden_size: m.hidden, num_hidden_layers: m.layers, num_attention_heads: 4, vocab_size: m.vocab ?? 256, max_position_embeddings: 64 };
  return m.family === "llama"
    ? { architectures: ["LlamaForCausalLM"], model_type: "llama", intermediate_size: m.ffn, hidden_act: "relu", ...common }
    : { architectures: ["OPTForCausalLM"], model_type: "opt", ffn_dim: m.ffn, activation_function: "relu", enable_bias: true, ...common };
}

/** Deterministic values in about [-0.1, 0.1], a few larger, per tensor index and seed. */
export function syntheticValues(count: number, seed: number, index: number): Float32Array {
  const out = new Float32Array(count);
  let s = (Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const u = (s >>> 0) / 4294967296 - 0.5;
    out[i] = (s & 0x3ff) === 0 ? u * 4 : u * 0.2;
  }
  return out;
}

/** Writes `dir/config.json` and `dir/model.safetensors`; returns the tensor names in file order. */
export async function writeSyntheticCheckpoint(dir: string, m: SyntheticModel): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, "config.json"), `${JSON.stringify(config(m), null, 2)}\n`);
  const specs = tensorSpecs(m);
  const es = m.dtype === "F32" ? 4 : 2;
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const t of specs) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * es;
    header[t.name] = { dtype: m.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const head = Buffer.from(json);
  const h = await open(path.join(dir, "model.safetensors"), "w");
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(head.length));
    await h.write(len, 0, 8, 0);
    await h.write(head, 0, head.length, 8);
    let pos = 8 + head.length;
    for (let i = 0; i < specs.length; i++) {
      const f = syntheticValues(specs[i].shape.reduce((a, b) => a * b, 1), m.seed ?? 1, i);
      const data =
        m.dtype === "F32"
          ? new Uint8Array(f.buffer)
          : new Uint8Array((m.dtype === "F16" ? f32ArrayToF16(f) : f32ArrayToBf16(f)).buffer);
      for (let o = 0; o < data.length; ) {
        const { bytesWritten } = await h.write(data, o, data.length - o, pos);
        o += bytesWritten;
        pos += bytesWritten;
      }
    }
  } finally {
    await h.close();
  }
  return specs.map((s) => s.name);
}
