import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { DEVICE_PROFILES, PLACEMENT_FORMAT, type Placement, TraceWriter, holdoutSplit } from "@colink/core";
import { afterAll, describe, expect, it } from "vitest";
import { computeReportData } from "./report-data.js";
import { renderReport } from "./report-html.js";

const LAYERS = 3;
const NEURONS = 256;
const CLUSTER = 16;
const dir = mkdtempSync(path.join(tmpdir(), "colink-report-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A scattering permutation: cluster k's members are ids k, k+16, k+32, ... */
const memberOf = (cluster: number, j: number): number => cluster + j * CLUSTER;

/** A real trace: each token fires 2 of 16 planted clusters (scattered ids) per layer. */
async function makeTrace(file: string): Promise<void> {
  const seqLen = 20;
  const sequences = 30;
  const split = holdoutSplit(sequences, 0.3, 7);
  let s = 12345;
  const rnd = () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return s / 0x100000000;
  };
  const w = await TraceWriter.create(file, {
    schemaVersion: 1,
    modelId: "test",
    configDigest: "",
    layers: LAYERS,
    neurons: NEURONS,
    activation: { rule: "synthetic" },
    corpusDigest: "",
    seqLen,
    sequences,
    tokens: seqLen * sequences,
    holdout: 0.3,
    seed: 7,
    source: "synth",
  });
  const n = seqLen * sequences;
  const picks = Array.from({ length: n }, () => [Math.floor(rnd() * CLUSTER), Math.floor(rnd() * CLUSTER)]);
  for (let layer = 0; layer < LAYERS; layer++) {
    const seq = new Uint32Array(n);
    const pos = new Uint32Array(n);
    const sp = new Uint8Array(n);
    const offsets = new Int32Array(n + 1);
    const ids: number[] = [];
    for (let t = 0; t < n; t++) {
      seq[t] = Math.floor(t / seqLen);
      pos[t] = t % seqLen;
      sp[t] = split[seq[t]];
      const set = new Set<number>();
      for (const c of picks[t]) for (let j = 0; j < NEURONS / CLUSTER; j++) if (rnd() < 0.8) set.add(memberOf(c, j));
      ids.push(...[...set].sort((a, b) => a - b));
      offsets[t + 1] = ids.length;
    }
    w.write({ layer, seq, pos, split: sp, offsets, ids: Uint16Array.from(ids) });
  }
  await w.close();
}

function placement(method: string, order: number[]): Placement {
  return { format: PLACEMENT_FORMAT, method, layers: Array.from({ length: LAYERS }, (_, layer) => ({ layer, order })) };
}

describe("report data and html", () => {
  it("computes plots from a real trace and placements, and renders them deterministically", async () => {
    const trace = path.join(dir, "t.arrow");
    await makeTrace(trace);
    const identity = Array.from({ length: NEURONS }, (_, i) => i);
    // clusters stored contiguously: exactly what a good placement should find
    const clustered = Array.from({ length: NEURONS }, (_, s) => memberOf(Math.floor(s / CLUSTER), s % CLUSTER));
    const inputs = {
      trace,
      placements: { identity: placement("identity", identity), colink: placement("colink", clustered) },
      chosen: "colink",
      device: DEVICE_PROFILES.ufs40,
      bundleBytes: 24576, // 24 KiB: the largest gap worth reading through is ~10 bundles on ufs40
      cacheFraction: 0.1,
      dtype: "f16",
      model: "test",
      heatmapSize: 32,
    };
    const d = await computeReportData(inputs);
    expect(d.layers).toBe(LAYERS);
    expect(d.budget).toBe(25);
    expect(d.tokens.heldout).toBe(9 * 20);
    expect(d.tokens.fit + d.tokens.heldout).toBe(600);
    // sparsity: 2 clusters x 16 x 0.8 ≈ 25 of 256 ≈ 10% (less when both picks coincide)
    for (const s of d.sparsity) expect(s).toBeGreaterThan(0.07);
    for (const s of d.sparsity) expect(s).toBeLessThan(0.13);
    expect(d.freqHist.reduce((a, b) => a + b, 0)).toBe(LAYERS * NEURONS);
    const [id, co] = d.methods;
    expect(id.method).toBe("identity");
    for (const m of d.methods) expect(m.runHist.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    // the clustered order reads in long runs; identity in single bundles or merged gaps
    expect(co.model.reads_per_token).toBeLessThan(id.model.reads_per_token / 2);
    expect(co.meanRunBundles).toBeGreaterThan(id.meanRunBundles);
    // after placement the co-activation mass sits on the diagonal band
    const diagMass = (cells: number[]) => {
      let on = 0;
      let all = 0;
      for (let a = 0; a < 32; a++)
        for (let b = 0; b < 32; b++) {
          all += cells[a * 32 + b];
          if (Math.abs(a - b) <= 1) on += cells[a * 32 + b];
        }
      return on / all;
    };
    expect(diagMass(d.heatmap.after)).toBeGreaterThan(diagMass(d.heatmap.before));

    const html = renderReport(d);
    for (const chart of ["sparsity", "frequency", "heatmap-before", "heatmap-after", "runs", "reads-layer", "io-layer", "hit-rate"])
      expect(html).toContain(`data-chart="${chart}"`);
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    expect(html).toContain("data:image/png;base64,");
    const again = renderReport(await computeReportData(inputs));
    expect(again).toBe(html);
  });
});
