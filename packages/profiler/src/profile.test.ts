import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { ColinkError, readTraceMeta, TraceReader, writeNpy } from "@colink/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { profileModel } from "./profile.js";
import { exportMasks, importMasks, traceStats } from "./tracetools.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const model = path.join(root, "data/models/tiny-relu-llama");
const corpus = path.join(root, "data/corpus/fortunes-sample.txt");
let dir: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "colink-prof-"));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function rejects(p: Promise<unknown>): Promise<ColinkError> {
  const e = await p.then(
    () => null,
    (err) => err,
  );
  expect(e).toBeInstanceOf(ColinkError);
  return e as ColinkError;
}

describe("profileModel", () => {
  it("profiles the bundled model, and export → import round-trips the masks", async () => {
    const notes: string[] = [];
    const out = path.join(dir, "t.arrow");
    const r = await profileModel({ model, corpus: [corpus], out, seqLen: 64, maxTokens: 64 * 6 + 5, holdout: 0.34, seed: 3, batch: 4, note: (m) => notes.push(m) });
    expect(r).toMatchObject({ tokens: 384, sequences: 6, droppedTokens: 5, layers: 4, neurons: 768, tokenizer: "bytes", heldOutSequences: 2 });
    expect(notes.join("\n")).toMatch(/no tokenizer\.json and a vocabulary of 256: reading the corpus as bytes/);
    expect(notes.join("\n")).toMatch(/dropped the last 5 tokens/);
    expect(notes.join("\n")).not.toMatch(/marks nearly every neuron active/);
    // the trace records the fp16 bundle place assumes: gate + up + down rows of 192
    expect((await readTraceMeta(out)).extra).toMatchObject({ family: "llama", hiddenSize: 192, bundleBytes: 3 * 192 * 2 });
    // ReLU model: layer 0 fires more than later layers (about 20% vs 7-9%).
    expect(r.activeFraction[0]).toBeGreaterThan(0.1);
    expect(r.activeFraction[3]).toBeLessThan(r.activeFraction[0]);

    // Deterministic: the same inputs give a byte-identical trace (here with another thread count).
    const again = path.join(dir, "t2.arrow");
    await profileModel({ model, corpus: [corpus], out: again, seqLen: 64, maxTokens: 64 * 6 + 5, holdout: 0.34, seed: 3, batch: 4, threads: 1, quiet: true });
    expect(Buffer.compare(await fs.readFile(out), await fs.readFile(again))).toBe(0);

    const reader = await TraceReader.open(out);
    const seen: number[] = [];
    for await (const c of reader.chunks()) seen.push(c.layer, c.seq.length);
    await reader.close();
    // Two batches of 4 and 2 sequences, each one record batch per layer.
    expect(seen).toEqual([0, 256, 1, 256, 2, 256, 3, 256, 0, 128, 1, 128, 2, 128, 3, 128]);
    expect(reader.meta).toMatchObject({ modelId: "tiny-relu-llama", layers: 4, neurons: 768, seqLen: 64, tokens: 384, source: "profile" });

    const s = await traceStats(out);
    expect(s.perLayer).toHaveLength(4);
    s.perLayer.forEach((l, i) => {
      expect(l.activeFraction).toBeCloseTo(r.activeFraction[i], 10);
      expect(l.hot10Share).toBeGreaterThan(0.1);
      expect(l.reuseJaccard).toBeGreaterThan(0);
      expect(l.reuseJaccard).toBeLessThan(1);
    });
    expect(s.heldOutTokens).toBe(128);

    const npy = path.join(dir, "m.npy");
    expect((await exportMasks(out, npy)).shape).toEqual([384, 4, 768]);
    const back = path.join(dir, "back.arrow");
    await importMasks({ masks: npy, out: back, seqLen: 64 });
    const npy2 = path.join(dir, "m2.npy");
    await exportMasks(back, npy2);
    expect(Buffer.compare(await fs.readFile(npy), await fs.readFile(npy2))).toBe(0);
    const s2 = await traceStats(back);
    expect(s2.perLayer.map((l) => l.activeFraction)).toEqual(s.perLayer.map((l) => l.activeFraction));
  });

  it("says when nonzero marks nearly every neuron of a non-ReLU model active", async () => {
    const silu = path.join(dir, "silu");
    await fs.mkdir(silu);
    const config = JSON.parse(await fs.readFile(path.join(model, "config.json"), "utf8"));
    await fs.writeFile(path.join(silu, "config.json"), JSON.stringify({ ...config, hidden_act: "silu" }));
    await fs.copyFile(path.join(model, "model.safetensors"), path.join(silu, "model.safetensors"));
    const notes: string[] = [];
    const r = await profileModel({ model: silu, corpus: [corpus], out: path.join(dir, "silu.arrow"), seqLen: 32, maxTokens: 64, note: (m) => notes.push(m) });
    expect(notes.join("\n")).toMatch(/uses silu, .* marks nearly every neuron active; for a sparse trace use --activation threshold/);
    expect(Math.min(...r.activeFraction)).toBeGreaterThan(0.99);
  });

  it("calibrates target-sparsity per layer and records the taus", async () => {
    const out = path.join(dir, "ts.arrow");
    const r = await profileModel({ model, corpus: [corpus], out, seqLen: 32, maxTokens: 256, activation: "target-sparsity", target: 0.05, batch: 8, quiet: true });
    for (const f of r.activeFraction) expect(f).toBeCloseTo(0.05, 2);
    const tau = (r.activation.params.tau as number[]) ?? [];
    expect(tau).toHaveLength(4);
    expect(tau.every((t) => t > 0)).toBe(true);
    const thr = await profileModel({ model, corpus: [corpus], out: path.join(dir, "th.arrow"), seqLen: 32, maxTokens: 256, activation: "threshold", tau: tau[0], batch: 8, quiet: true });
    expect(thr.activeFraction[0]).toBeCloseTo(r.activeFraction[0], 10);
  });

  it("reads token ids from .npy and refuses bad ones", async () => {
    const ids = new Int32Array(100).map((_, i) => 32 + (i % 90));
    const good = path.join(dir, "ids.npy");
    await writeNpy(good, "<i4", [100], async (a) => a(new Uint8Array(ids.buffer)));
    const r = await profileModel({ model, tokenIds: good, out: path.join(dir, "ids.arrow"), seqLen: 50, quiet: true });
    expect(r).toMatchObject({ tokens: 100, sequences: 2, tokenizer: "token-ids ids.npy" });
    const f32 = path.join(dir, "f.npy");
    await writeNpy(f32, "<f4", [4], async (a) => a(new Uint8Array(16)));
    expect((await rejects(profileModel({ model, tokenIds: f32, out: path.join(dir, "x.arrow"), quiet: true }))).message).toMatch(
      /f\.npy: token ids must be an integer array/,
    );
    const big = path.join(dir, "big.npy");
    await writeNpy(big, "<i4", [2], async (a) => a(new Uint8Array(new Int32Array([1, 300]).buffer)));
    expect((await rejects(profileModel({ model, tokenIds: big, out: path.join(dir, "x.arrow"), seqLen: 2, quiet: true }))).message).toMatch(
      /token id 300 at index 1 is outside the model's vocabulary of 256/,
    );
  });

  it("refuses bad options in one line", async () => {
    const out = path.join(dir, "opt.arrow");
    expect((await rejects(profileModel({ model, corpus: [corpus], out, batch: 0 }))).message).toMatch(/--batch must be an integer >= 1/);
    expect((await rejects(profileModel({ model, corpus: [corpus], out, threads: Number.NaN }))).message).toMatch(/--threads must be/);
    expect((await rejects(profileModel({ model, corpus: [corpus], out, seqLen: 600 }))).message).toMatch(/exceeds the model's max_position_embeddings 512/);
    expect((await rejects(profileModel({ model, corpus: [corpus], out, activation: "threshold" }))).message).toMatch(/needs --tau/);
  });

  it("refuses an empty corpus without leaving an output file", async () => {
    const empty = path.join(dir, "empty.txt");
    await fs.writeFile(empty, "");
    const out = path.join(dir, "none.arrow");
    const e = await rejects(profileModel({ model, corpus: [empty], out, quiet: true }));
    expect(e.message).toMatch(/empty\.txt: 0 tokens, fewer than one sequence/);
    expect((await fs.readdir(dir)).filter((f) => f.includes("none.arrow"))).toEqual([]);
  });
});

describe("importMasks", () => {
  it("refuses masks of the wrong dtype or rank", async () => {
    const f = path.join(dir, "f4.npy");
    await writeNpy(f, "<f4", [2, 1, 1], async (a) => a(new Uint8Array(8)));
    expect((await rejects(importMasks({ masks: f, out: path.join(dir, "i.arrow") }))).message).toMatch(/f4\.npy: masks must be uint8 or bool, got dtype f4/);
    const r2 = path.join(dir, "r2.npy");
    await writeNpy(r2, "|u1", [2, 3], async (a) => a(new Uint8Array(6)));
    expect((await rejects(importMasks({ masks: r2, out: path.join(dir, "i.arrow") }))).message).toMatch(/must have shape \(tokens, layers, neurons\), got \(2, 3\)/);
    expect((await fs.readdir(dir)).filter((x) => x.includes("i.arrow"))).toEqual([]);
  });

  it("round-trips bool masks with a short last sequence", async () => {
    const t = 7;
    const bytes = new Uint8Array(t * 2 * 5).map((_, i) => ((i * 7919) % 3 === 0 ? 1 : 0));
    const f = path.join(dir, "b1.npy");
    await writeNpy(f, "|b1", [t, 2, 5], async (a) => a(bytes));
    const tr = path.join(dir, "b1.arrow");
    expect(await importMasks({ masks: f, out: tr, seqLen: 3 })).toMatchObject({ tokens: 7, sequences: 3 });
    const back = path.join(dir, "b1back.npy");
    await exportMasks(tr, back);
    const data = (await fs.readFile(back)).subarray(-bytes.length);
    expect(Buffer.compare(data, Buffer.from(bytes))).toBe(0);
  });
});
