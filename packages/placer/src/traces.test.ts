import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { ColinkError, type TraceMeta, TraceWriter, xorshift32 } from "@colink/core";
import { describe, expect, it } from "vitest";
import { bundleBytesFromMeta, bundleBytesFromModel, DEFAULT_BUNDLE_BYTES, openTraceSet, readSplit } from "./traces.js";

describe("bundle size defaults", () => {
  it("derives fp16 bundles from a model's config.json", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "colink-model-"));
    const common = { hidden_size: 4096, num_hidden_layers: 32, num_attention_heads: 32, vocab_size: 32000, max_position_embeddings: 2048 };
    writeFileSync(path.join(dir, "config.json"), JSON.stringify({ architectures: ["LlamaForCausalLM"], intermediate_size: 11008, ...common }));
    expect(await bundleBytesFromModel(dir)).toBe(24576);
    writeFileSync(path.join(dir, "config.json"), JSON.stringify({ architectures: ["OPTForCausalLM"], ffn_dim: 16384, ...common }));
    expect(await bundleBytesFromModel(dir)).toBe((2 * 4096 + 1) * 2);
    writeFileSync(path.join(dir, "config.json"), JSON.stringify({ architectures: ["LlamaForCausalLM"] }));
    await expect(bundleBytesFromModel(dir)).rejects.toThrow(ColinkError);
  });

  it("uses the trace's metadata, else 24 KiB", () => {
    const meta = { extra: {} } as unknown as TraceMeta;
    expect(bundleBytesFromMeta(meta)).toEqual({ bytes: DEFAULT_BUNDLE_BYTES, from: "default (Llama-2-7B fp16)" });
    expect(bundleBytesFromMeta({ ...meta, extra: { bundleBytes: 1152 } })).toEqual({ bytes: 1152, from: "trace" });
  });
});

describe("readSplit", () => {
  it("gathers one split of every layer, chunks and files in order, as exact CSR arrays", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "colink-split-"));
    const rnd = xorshift32(9);
    const layers = 3;
    const neurons = 40;
    // expected[split][layer]: each token's ids, in file then chunk order
    const expected = [0, 1].map(() => Array.from({ length: layers }, () => [] as number[][]));
    const files: string[] = [];
    for (let f = 0; f < 2; f++) {
      const file = path.join(dir, `t${f}.arrow`);
      files.push(file);
      const meta = {
        schemaVersion: 1, modelId: "m", configDigest: "", layers, neurons, activation: { rule: "nonzero" }, corpusDigest: "",
        seqLen: 4, sequences: 6, tokens: 24, holdout: 0.3, seed: 1, source: "synth",
      } as unknown as TraceMeta;
      const w = await TraceWriter.create(file, meta);
      for (let chunk = 0; chunk < 3; chunk++) {
        const seq = Uint32Array.from([0, 0, 0, 0, 1, 1, 1, 1], (s) => 2 * chunk + s);
        const pos = Uint32Array.from([0, 1, 2, 3, 0, 1, 2, 3]);
        const split = Uint8Array.from([0, 0, 0, 0, 1, 1, 1, 1], (x) => (chunk === 1 ? 1 - x : x));
        for (let layer = 0; layer < layers; layer++) {
          const offsets = new Int32Array(9);
          const ids: number[] = [];
          for (let t = 0; t < 8; t++) {
            const token = Array.from(new Set(Array.from({ length: Math.floor(rnd() * 6) }, () => Math.floor(rnd() * neurons)))).sort((a, b) => a - b);
            ids.push(...token);
            offsets[t + 1] = ids.length;
            expected[split[t]][layer].push(token);
          }
          w.write({ layer, seq, pos, split, offsets, ids: Uint16Array.from(ids) });
        }
      }
      await w.close();
    }
    const set = await openTraceSet(files);
    // one file twice (also by another spelling of its path) would count its tokens twice
    const again = `${dir}/./t0.arrow`;
    await expect(openTraceSet([...files, again])).rejects.toThrow(`--traces: ${again} is given twice (also as ${files[0]})`);
    for (const split of [0, 1]) {
      const got = await readSplit(set, split);
      for (let layer = 0; layer < layers; layer++) {
        const d = got[layer];
        const want = expected[split][layer];
        expect(d.tokens).toBe(want.length);
        expect(d.ids.length).toBe(want.flat().length);
        const tokens = Array.from({ length: d.tokens }, (_, t) => Array.from(d.ids.subarray(d.offsets[t], d.offsets[t + 1])));
        expect(tokens).toEqual(want);
      }
    }
  });
});
