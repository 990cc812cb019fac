import * as fs from "node:fs/promises";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { Checkpoint, modelSpecFromConfig } from "@colink/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Forward } from "./forward.js";
import { Kernels } from "./onnx.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const modelDir = path.join(root, "data/models/tiny-relu-llama");

interface Reference {
  tokens: number[];
  last_logits: number[];
  argmax_next: number[];
  ffn_active_count_per_layer_per_token: number[][];
  ffn_active_ids_token0: number[][];
  ffn_active_ids_last: number[][];
}

let kernels: Kernels;
beforeAll(async () => {
  kernels = await Kernels.create(2);
});
afterAll(async () => {
  await kernels.release();
});

function activeIds(values: Float32Array, row: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (values[row * n + i] !== 0) out.push(i);
  return out;
}

describe("tiny-relu-llama forward pass", () => {
  it("matches the reference logits within 1e-3 and the active sets exactly", async () => {
    const ref: Reference = JSON.parse(await fs.readFile(path.join(modelDir, "reference.json"), "utf8"));
    const ck = await Checkpoint.open(modelDir);
    try {
      const spec = modelSpecFromConfig(ck.config, path.join(modelDir, "config.json"));
      const fwd = new Forward(spec, ck, kernels);
      const t = ref.tokens.length;
      const counts: number[][] = [];
      const first: number[][] = [];
      const last: number[][] = [];
      const { logits } = await fwd.run(ref.tokens, 1, t, {
        logits: true,
        onFfn: (layer, values) => {
          first[layer] = activeIds(values, 0, spec.ffn);
          last[layer] = activeIds(values, t - 1, spec.ffn);
          counts[layer] = Array.from({ length: t }, (_, r) => activeIds(values, r, spec.ffn).length);
        },
      });
      const lastLogits = Array.from(logits!.subarray((t - 1) * spec.vocab, t * spec.vocab));
      const maxDiff = Math.max(...lastLogits.map((v, i) => Math.abs(v - ref.last_logits[i])));
      expect(maxDiff).toBeLessThan(1e-3);
      const argmax = Array.from({ length: t }, (_, r) => {
        const row = logits!.subarray(r * spec.vocab, (r + 1) * spec.vocab);
        let best = 0;
        for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
        return best;
      });
      expect(argmax).toEqual(ref.argmax_next);
      expect(first).toEqual(ref.ffn_active_ids_token0);
      expect(last).toEqual(ref.ffn_active_ids_last);
      expect(counts).toEqual(ref.ffn_active_count_per_layer_per_token);
    } finally {
      await ck.close();
    }
  });

  it("gives the same activations for a sequence alone and inside a batch", async () => {
    const ck = await Checkpoint.open(modelDir);
    try {
      const spec = modelSpecFromConfig(ck.config, path.join(modelDir, "config.json"));
      const fwd = new Forward(spec, ck, kernels);
      const a = Array.from(new TextEncoder().encode("Hello, world. Batches must not leak."));
      const b = Array.from(new TextEncoder().encode("A different sequence of equal size!!"));
      expect(a.length).toBe(b.length);
      const t = a.length;
      const alone: number[][] = [];
      await fwd.run(b, 1, t, { onFfn: (l, v) => void (alone[l] = activeIds(v, t - 1, spec.ffn)) });
      const batched: number[][] = [];
      await fwd.run([...a, ...b], 2, t, { onFfn: (l, v) => void (batched[l] = activeIds(v, 2 * t - 1, spec.ffn)) });
      expect(batched).toEqual(alone);
    } finally {
      await ck.close();
    }
  });
});
