/**
 * Forward passes of the model variants no bundled checkpoint covers (OPT pre- and
 * post-norm with the 350m projection, Mistral grouped-query attention with SiLU,
 * GELU with F16 weights), checked against the independent NumPy implementation in
 * scripts/numpy_forward.py on tiny random checkpoints made by
 * scripts/make_tiny_models.py into a temporary directory.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { Checkpoint, modelSpecFromConfig } from "@colink/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Forward } from "./forward.js";
import { Kernels } from "./onnx.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const scripts = path.join(root, "scripts");

function hasNumpy(): boolean {
  try {
    execFileSync("python3", ["-c", "import numpy"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const numpy = hasNumpy();
let dir: string;
let kernels: Kernels;
const tokens = [1, 5, 9, 33, 2, 60, 7, 7, 40, 11, 0, 63];

beforeAll(async () => {
  if (!numpy) return;
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "colink-fam-"));
  execFileSync("python3", [path.join(scripts, "make_tiny_models.py"), dir, "--seed", "5"]);
  kernels = await Kernels.create(2);
});
afterAll(async () => {
  if (!numpy) return;
  await kernels.release();
  await fs.rm(dir, { recursive: true, force: true });
});

describe.skipIf(!numpy)("forward pass vs NumPy reference", () => {
  for (const name of ["opt-pre", "opt-350m", "mistral-gqa", "llama-gelu-f16"]) {
    it(name, async () => {
      const modelDir = path.join(dir, name);
      const ref = JSON.parse(
        execFileSync("python3", [path.join(scripts, "numpy_forward.py"), modelDir, "--tokens", tokens.join(",")], { maxBuffer: 64 << 20 }).toString(),
      ) as { logits: number[][]; ffn: number[][][] };
      const ck = await Checkpoint.open(modelDir);
      try {
        const spec = modelSpecFromConfig(ck.config, path.join(modelDir, "config.json"));
        const ffn: Float32Array[] = [];
        const { logits } = await new Forward(spec, ck, kernels).run(tokens, 1, tokens.length, {
          logits: true,
          onFfn: (l, v) => void (ffn[l] = v.slice()),
        });
        const t = tokens.length;
        let maxLogit = 0;
        for (let r = 0; r < t; r++)
          for (let i = 0; i < spec.vocab; i++) maxLogit = Math.max(maxLogit, Math.abs(logits![r * spec.vocab + i] - ref.logits[r][i]));
        expect(maxLogit).toBeLessThan(1e-4);
        for (let l = 0; l < spec.layers; l++) {
          let maxV = 0;
          for (let r = 0; r < t; r++)
            for (let i = 0; i < spec.ffn; i++) {
              const a = ffn[l][r * spec.ffn + i];
              const b = ref.ffn[l][r][i];
              maxV = Math.max(maxV, Math.abs(a - b));
              // ReLU models: the active sets must agree exactly.
              if (spec.act === "relu") expect(a !== 0).toBe(b !== 0);
            }
          expect(maxV).toBeLessThan(1e-4);
        }
      } finally {
        await ck.close();
      }
    });
  }
});
