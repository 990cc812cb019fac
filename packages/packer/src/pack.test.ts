import * as fs from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import {
  Checkpoint,
  decodeToF32,
  encodeF32,
  type ImageInfo,
  quantErrorBound,
  readImageInfo,
  type StoredDtype,
  verifyImage,
  writePlacement,
} from "@colink/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inspectImage } from "./inspect.js";
import { packImage } from "./pack.js";
import { writeSyntheticCheckpoint } from "./synthetic.js";

let dir: string;
const N = 48;
const D = 64;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(tmpdir(), "colink-pack-"));
  await writeSyntheticCheckpoint(path.join(dir, "llama-f32"), { family: "llama", hidden: D, ffn: N, layers: 2, dtype: "F32", seed: 3 });
  await writeSyntheticCheckpoint(path.join(dir, "llama-bf16"), { family: "llama", hidden: D, ffn: N, layers: 2, dtype: "BF16", seed: 4 });
  await writeSyntheticCheckpoint(path.join(dir, "opt-f16"), { family: "opt", hidden: D, ffn: N, layers: 2, dtype: "F16", seed: 5 });
  await writeSyntheticCheckpoint(path.join(dir, "odd"), { family: "llama", hidden: 40, ffn: 8, layers: 1, dtype: "F32" });
  // A placement that reverses layer 0 and interleaves layer 1, with a cache and counts.
  await writePlacement(path.join(dir, "placement.json"), {
    format: "colink.placement/1",
    method: "test",
    layers: [
      { layer: 0, order: Array.from({ length: N }, (_, i) => N - 1 - i), cache: { pinned: [7, 2], lru: 3, gapfill: true } },
      { layer: 1, order: Array.from({ length: N }, (_, i) => (i * 7) % N), freq: Array.from({ length: N }, (_, i) => i % 5) },
    ],
  });
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** Source rows of neuron `id` for every part of a layer, as float32, from the checkpoint. */
async function sourceRows(ckpt: Checkpoint, info: ImageInfo, layer: number, id: number): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const p of info.layers[layer].parts) {
    const t = ckpt.tensor(p.tensor);
    const all = await ckpt.readF32(p.tensor);
    if (p.name === "down" || p.name === "fc2") {
      const n = t.shape[1];
      out.push(Float32Array.from({ length: p.elements }, (_, r) => all[r * n + id]));
    } else out.push(all.slice(id * p.elements, (id + 1) * p.elements));
  }
  return out;
}

async function checkBundles(model: string, image: string, dtype: StoredDtype | undefined): Promise<ImageInfo> {
  const info = await readImageInfo(image);
  const bytes = new Uint8Array(await fs.readFile(image));
  const ckpt = await Checkpoint.open(model);
  try {
    for (const l of info.layers) {
      for (let s = 0; s < l.neurons; s++) {
        const id = l.idAt[s];
        const src = await sourceRows(ckpt, info, l.layer, id);
        l.parts.forEach((p, j) => {
          const at = l.regionOffset + s * l.bundleBytes + p.offset;
          const got = new Float32Array(p.elements);
          decodeToF32(bytes, at, p.elements, p.dtype, got);
          if (p.dtype === "q8_0" || p.dtype === "q4_0") {
            // Exactly the bytes our quantiser writes for the source row, and within the documented bound.
            const want = new Uint8Array(p.bytes);
            encodeF32(src[j], p.dtype, want);
            expect(Buffer.from(bytes.subarray(at, at + p.bytes)).equals(Buffer.from(want))).toBe(true);
            for (let b = 0; b < p.elements; b += 32) {
              let amax = 0;
              for (let k = b; k < b + 32; k++) amax = Math.max(amax, Math.abs(src[j][k]));
              for (let k = b; k < b + 32; k++) expect(Math.abs(got[k] - src[j][k])).toBeLessThanOrEqual(quantErrorBound(p.dtype, amax));
            }
          } else {
            // Float dtypes: the source value rounded to the stored dtype (exact when it is the source dtype).
            const want = new Float32Array(p.elements);
            const enc = new Uint8Array(p.bytes);
            encodeF32(src[j], p.dtype, enc);
            decodeToF32(enc, 0, p.elements, p.dtype, want);
            expect(Array.from(got)).toEqual(Array.from(want));
            if (dtype === undefined) expect(Array.from(got)).toEqual(Array.from(src[j]));
          }
        });
      }
    }
  } finally {
    await ckpt.close();
  }
  return info;
}

describe("packImage", () => {
  for (const dtype of [undefined, "f32", "f16", "bf16", "q8_0", "q4_0"] as const) {
    it(`stores every bundle of a llama model as ${dtype ?? "the source dtype"}, in placement order`, async () => {
      const model = path.join(dir, "llama-f32");
      const out = path.join(dir, `llama-${dtype ?? "src"}.colink`);
      const r = await packImage({ model, placement: path.join(dir, "placement.json"), out, dtype, chunkBytes: 8192 });
      expect(r.bundleDtype).toBe(dtype ?? "f32");
      const info = await checkBundles(model, out, dtype);
      expect(Array.from(info.layers[0].idAt.slice(0, 3))).toEqual([47, 46, 45]);
      expect(info.layers[0].cache).toEqual({ pinned: [7, 2], lru: 3, gapfill: true });
      expect(Array.from(info.layers[1].freq ?? []).slice(0, 6)).toEqual([0, 1, 2, 3, 4, 0]);
      expect(info.placementMethod).toBe("test");
      await verifyImage(out);
    });
  }

  it("keeps bf16 and f16 sources bit-exact, and OPT biases as f32 in quantised bundles", async () => {
    await checkBundles(path.join(dir, "llama-bf16"), (await packImage({ model: path.join(dir, "llama-bf16"), out: path.join(dir, "b.colink") })).path, undefined);
    const opt = path.join(dir, "opt-f16");
    await checkBundles(opt, (await packImage({ model: opt, out: path.join(dir, "o.colink") })).path, undefined);
    const q = await packImage({ model: opt, out: path.join(dir, "oq.colink"), dtype: "q4_0" });
    const info = await checkBundles(opt, q.path, "q4_0");
    expect(info.layers[0].parts.map((p) => `${p.name}:${p.dtype}:${p.bytes}`)).toEqual(["fc1:q4_0:36", "fc1_bias:f32:4", "fc2:q4_0:36"]);
    expect(info.family).toBe("opt");
    // Dense tensors are stored as in the checkpoint; fc2.bias is per-model-dim, so it is dense.
    expect(info.tensors.map((t) => t.name)).toContain("model.decoder.layers.0.fc2.bias");
    expect(info.tensors.every((t) => t.dtype === "f16" && t.offset % 4096 === 0)).toBe(true);
  });

  it("converts dense tensors with denseDtype, values rounded to it", async () => {
    const model = path.join(dir, "llama-bf16");
    const r = await packImage({ model, out: path.join(dir, "dense.colink"), denseDtype: "f32", dtype: "q8_0" });
    const info = await readImageInfo(r.path);
    await verifyImage(r.path);
    const bytes = new Uint8Array(await fs.readFile(r.path));
    const ckpt = await Checkpoint.open(model);
    try {
      for (const t of info.tensors) {
        expect(t.dtype).toBe("f32");
        const src = await ckpt.readF32(t.name); // bf16 -> f32 is exact, so the stored f32 must equal it
        expect(t.length).toBe(src.length * 4);
        const got = new Float32Array(src.length);
        decodeToF32(bytes, t.offset, src.length, "f32", got);
        expect(Array.from(got)).toEqual(Array.from(src));
      }
    } finally {
      await ckpt.close();
    }
    const f16 = await readImageInfo((await packImage({ model, out: path.join(dir, "dense16.colink"), denseDtype: "f16" })).path);
    expect(f16.tensors.every((t) => t.dtype === "f16")).toBe(true);
    expect(f16.bundleDtype).toBe("bf16");
  });

  it("writes byte-identical images for the same inputs", async () => {
    const model = path.join(dir, "llama-f32");
    const a = await packImage({ model, placement: path.join(dir, "placement.json"), out: path.join(dir, "det-a.colink"), dtype: "q8_0" });
    const b = await packImage({ model, placement: path.join(dir, "placement.json"), out: path.join(dir, "det-b.colink"), dtype: "q8_0" });
    expect((await fs.readFile(a.path)).equals(await fs.readFile(b.path))).toBe(true);
    const s = await inspectImage(a.path);
    expect(s.layers[0].identity).toBe(false);
    expect(s.layers[0].cache).toEqual({ pinned: 2, lru: 3, gapfill: true });
  });

  it("fails clearly and leaves no file behind on bad input", async () => {
    const out = path.join(dir, "bad.colink");
    await expect(packImage({ model: path.join(dir, "odd"), out, dtype: "q8_0" })).rejects.toThrow(/40 values cannot be stored as q8_0/);
    await expect(packImage({ model: path.join(dir, "odd"), out, placement: path.join(dir, "placement.json") })).rejects.toMatchObject({
      code: "MISMATCH",
    });
    await expect(packImage({ model: path.join(dir, "nope"), out })).rejects.toMatchObject({ code: "NOT_FOUND" });
    const left = (await fs.readdir(dir)).filter((f) => f.startsWith(".bad.colink") || f === "bad.colink");
    expect(left).toEqual([]);
  });

  it("detects corruption of a packed image in verify", async () => {
    const good = (await packImage({ model: path.join(dir, "llama-f32"), out: path.join(dir, "c.colink"), chunkBytes: 4096 })).path;
    const info = await readImageInfo(good);
    const buf = await fs.readFile(good);
    const l1 = info.layers[1];
    buf[l1.regionOffset + 3 * 4096 + 5] ^= 0x40;
    const bad = path.join(dir, "c-bad.colink");
    await fs.writeFile(bad, buf);
    await expect(verifyImage(bad)).rejects.toThrow(/layer 1 region chunk 3 is corrupt/);
  });
});
