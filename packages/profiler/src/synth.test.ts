import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { ColinkError, synthLayerStructure, TraceReader } from "@colink/core";
import { describe, expect, it } from "vitest";
import { resolveShape, synthesizeTrace } from "./synth.js";

const dir = mkdtempSync(path.join(tmpdir(), "colink-synth-"));

async function readAll(file: string) {
  const r = await TraceReader.open(file);
  const layers: number[][][] = Array.from({ length: r.meta.layers }, () => []);
  const splits: number[] = [];
  for await (const c of r.chunks()) {
    for (let t = 0; t < c.seq.length; t++) {
      layers[c.layer].push(Array.from(c.ids.subarray(c.offsets[t], c.offsets[t + 1])));
      if (c.layer === 0) splits.push(c.split[t]);
    }
  }
  await r.close();
  return { meta: r.meta, layers, splits };
}

describe("synthesizeTrace", () => {
  it("writes a valid trace: shape, ascending ids, split, density near the target", async () => {
    const out = path.join(dir, "a.arrow");
    const res = await synthesizeTrace({ shape: "1024x3", tokens: 600, seed: 7, out, seqLen: 100 });
    expect(res).toEqual({ layers: 3, neurons: 1024, tokens: 600, sequences: 6 });
    const { meta, layers, splits } = await readAll(out);
    expect(meta.source).toBe("synth");
    expect(meta.extra?.bundleBytes).toBeGreaterThan(0);
    for (const toks of layers) {
      expect(toks.length).toBe(600);
      let total = 0;
      for (const ids of toks) {
        for (let i = 1; i < ids.length; i++) expect(ids[i]).toBeGreaterThan(ids[i - 1]);
        total += ids.length;
      }
      const density = total / (600 * 1024);
      expect(density).toBeGreaterThan(0.03);
      expect(density).toBeLessThan(0.12);
    }
    expect(splits.filter((s) => s === 1).length).toBe(100); // 20% of 6 sequences, rounded: 1 sequence
  });

  it("is deterministic and depends on the seed", async () => {
    const a = path.join(dir, "d1.arrow");
    const b = path.join(dir, "d2.arrow");
    const c = path.join(dir, "d3.arrow");
    await synthesizeTrace({ shape: "256x2", tokens: 300, seed: 3, out: a });
    await synthesizeTrace({ shape: "256x2", tokens: 300, seed: 3, out: b });
    await synthesizeTrace({ shape: "256x2", tokens: 300, seed: 4, out: c });
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
    expect(readFileSync(a).equals(readFileSync(c))).toBe(false);
  });

  it("has power-law hotness and token-to-token reuse", async () => {
    const out = path.join(dir, "h.arrow");
    await synthesizeTrace({ shape: "2048x1", tokens: 1000, seed: 1, out });
    const { layers } = await readAll(out);
    const freq = new Float64Array(2048);
    let overlap = 0;
    let active = 0;
    let prev = new Set<number>();
    for (const ids of layers[0]) {
      for (const id of ids) {
        freq[id]++;
        if (prev.has(id)) overlap++;
      }
      active += ids.length;
      prev = new Set(ids);
    }
    const sorted = Array.from(freq).sort((x, y) => y - x);
    const total = sorted.reduce((s, x) => s + x, 0);
    const top20 = sorted.slice(0, Math.round(0.2 * 2048)).reduce((s, x) => s + x, 0);
    expect(top20 / total).toBeGreaterThan(0.45); // uniform would give 0.2
    expect(overlap / active).toBeGreaterThan(0.2); // independent tokens would give ~density
  });

  it("applies model overrides: different bytes, recorded in meta, more reuse with --reuse", async () => {
    const base = path.join(dir, "o1.arrow");
    const over = path.join(dir, "o2.arrow");
    await synthesizeTrace({ shape: "2048x1", tokens: 600, seed: 5, out: base });
    await synthesizeTrace({ shape: "2048x1", tokens: 600, seed: 5, out: over, model: { reuse: 0.98, background: 0.1, alpha: undefined } });
    expect(readFileSync(base).equals(readFileSync(over))).toBe(false);
    const a = await readAll(base);
    const b = await readAll(over);
    expect(a.meta.activation.params).toMatchObject({ reuse: 0.7, background: 0.4, alpha: 1 });
    // an undefined override keeps the shape's default
    expect(b.meta.activation.params).toMatchObject({ reuse: 0.98, background: 0.1, alpha: 1, clusterSize: 32 });
    const jaccard = (toks: number[][]) => {
      let sum = 0;
      for (let t = 1; t < toks.length; t++) {
        const prev = new Set(toks[t - 1]);
        const inter = toks[t].filter((id) => prev.has(id)).length;
        sum += inter / (prev.size + toks[t].length - inter);
      }
      return sum / (toks.length - 1);
    };
    expect(jaccard(b.layers[0])).toBeGreaterThan(jaccard(a.layers[0]) + 0.1);
  });

  it("rejects nonsense model parameters with one line naming the flag", async () => {
    const out = path.join(dir, "bad.arrow");
    const cases: [Record<string, number>, RegExp][] = [
      [{ reuse: 1.5 }, /^--reuse must be a fraction in \[0, 1\], got 1.5$/],
      [{ background: Number.NaN }, /^--background must be a fraction/],
      [{ densityLo: 0.2, densityHi: 0.1 }, /^--density-lo \(0.2\) must be <= --density-hi \(0.1\)$/],
      [{ clusterSize: 2.5 }, /^--cluster-size must be an integer in \[1, 256\]/],
      [{ clusterSize: 0 }, /^--cluster-size must be an integer/],
      [{ pIn: 0 }, /^--p-in must be a probability in \(0, 1\]/],
      [{ alpha: -1 }, /^--alpha must be an exponent/],
    ];
    for (const [model, msg] of cases) {
      const err = await synthesizeTrace({ shape: "256x1", tokens: 10, seed: 0, out, model }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ColinkError);
      expect((err as ColinkError).message).toMatch(msg);
      expect((err as ColinkError).message).not.toContain("\n");
    }
    expect(existsSync(out)).toBe(false);
  });

  it("draws its clusters from core's synthLayerStructure, so benchmarks can rebuild them", async () => {
    const out = path.join(dir, "c.arrow");
    // every member of an active cluster fires, no background: tokens are unions of whole clusters
    await synthesizeTrace({ shape: "512x2", tokens: 200, seed: 11, out, model: { pIn: 1, background: 0, clusterSize: 16 } });
    const { layers } = await readAll(out);
    for (let l = 0; l < 2; l++) {
      const { members } = synthLayerStructure(512, 11, l);
      const clusterOf = new Int32Array(512);
      members.forEach((id, i) => {
        clusterOf[id] = Math.floor(i / 16);
      });
      for (const ids of layers[l]) {
        const perCluster = new Map<number, number>();
        for (const id of ids) perCluster.set(clusterOf[id], (perCluster.get(clusterOf[id]) ?? 0) + 1);
        expect(perCluster.size).toBeGreaterThan(0);
        for (const count of perCluster.values()) expect(count).toBe(16);
      }
    }
  });

  it("rejects unknown shapes with one clear error", () => {
    expect(() => resolveShape("gpt5")).toThrow(ColinkError);
    expect(() => resolveShape("gpt5")).toThrow(/expected llama2-7b/);
    expect(resolveShape("llama2-7b").neurons).toBe(11008);
  });
});
