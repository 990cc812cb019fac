import { type CacheSpec, type DeviceProfile, NO_CACHE, xorshift32 } from "@colink/core";
import { describe, expect, it } from "vitest";
import { fitCostUs, hottest, screenTokens } from "./codesign.js";
import { countPairs, type LayerTokens } from "./cooccur.js";
import { linkAllPairsChunked, sampleGreedyOrder } from "./greedy.js";
import { ALL_PAIRS_FAMILY_PAIRS, CHOOSE_WORK, chooseTokens, placeLayer } from "./layer.js";
import { PathLinker } from "./link.js";
import { buildColinkGraph, colinkOrder, frequencyOrder, hotBlockOrder, linkByCountDesc } from "./methods.js";

// 200 us per request, 1 us per 1 KiB bundle: a break-even gap of ~199 bundles, as
// with the tiny model's 1152 B bundles on ufs40, where compact hot blocks win.
const longGap: DeviceProfile = {
  name: "long-gap",
  description: "",
  latencyUs: 200,
  bandwidthBytesPerSec: 1024e6,
  maxRequestBytes: 1 << 20,
  queueDepth: 1,
  source: "",
};

/** Neurons fire independently, neuron i with probability 0.5 * 0.985^i: no pair structure, a steep heat gradient. */
function independentHeat(n: number, tokens: number, seed: number): LayerTokens {
  const r = xorshift32(seed);
  const offsets = new Int32Array(tokens + 1);
  const ids: number[] = [];
  for (let t = 0; t < tokens; t++) {
    for (let i = 0; i < n; i++) if (r() < 0.5 * 0.985 ** i) ids.push(i);
    offsets[t + 1] = ids.length;
  }
  return { neurons: n, tokens, offsets, ids: Uint16Array.from(ids) };
}

describe("colink chooses its order from the fit data", () => {
  const n = 400;
  const data = independentHeat(n, 600, 7);
  const freq = frequencyOrder(Array.from({ length: n }, (_, i) => 600 - i)); // ids are already hot-first

  it("the linked order alone loses to frequency order on this trace (the test is not vacuous)", () => {
    const g = buildColinkGraph(data, {});
    expect(fitCostUs(data, colinkOrder(g), NO_CACHE, longGap, 1024)).toBeGreaterThan(fitCostUs(data, freq, NO_CACHE, longGap, 1024));
  });

  it("scores no worse than frequency order on fit tokens, without and with a cache", () => {
    for (const budget of [0, 40]) {
      const r = placeLayer({ layer: 0, method: "colink", data, budget, device: longGap, bundleBytes: 1024, colink: {} });
      const caches: CacheSpec[] =
        budget === 0
          ? [NO_CACHE]
          : [
              { pinned: hottest(r.freq, budget).ids, lru: 0, gapfill: false },
              { pinned: [], lru: budget, gapfill: false },
            ];
      const baseline = Math.min(...caches.map((c) => fitCostUs(data, frequencyOrder(r.freq), c, longGap, 1024)));
      const chosen = fitCostUs(data, r.order, r.cache ?? NO_CACHE, longGap, 1024);
      expect(chosen).toBeLessThanOrEqual(baseline + 1e-6);
      expect(r.fitUs * data.tokens).toBeCloseTo(chosen, 3);
    }
  });

  it("hot-block orders are permutations with the pinned ids last", () => {
    const g = buildColinkGraph(data, {});
    const rank = frequencyOrder(g.freq);
    const pinned = hottest(g.freq, 10);
    for (const block of [0, 5, 50, n]) {
      const o = hotBlockOrder(g, rank, pinned.mask, block);
      expect(new Set(o).size).toBe(n);
      expect(Array.from(o.subarray(n - 10)).sort((a, b) => a - b)).toEqual([...pinned.ids].sort((a, b) => a - b));
      // the block is the next-hottest unpinned ids, hot-first
      expect(Array.from(o.subarray(0, Math.min(block, n - 10)))).toEqual(Array.from(rank.subarray(10, 10 + Math.min(block, n - 10))));
    }
  });
});

describe("chunked all-pairs greedy", () => {
  it("links exactly like the one-sort all-pairs greedy (the paper's), whatever the chunk size", () => {
    const data = independentHeat(120, 300, 3);
    const pc = countPairs(data);
    const ids = Uint32Array.from({ length: 120 }, (_, i) => i);
    const ref = new PathLinker(120);
    linkByCountDesc(ref, pc, ids);
    for (const cap of [1, 7, 500, 1e9]) {
      const l = new PathLinker(120);
      linkAllPairsChunked(l, pc, undefined, cap);
      expect(Array.from(l.nb0)).toEqual(Array.from(ref.nb0));
      expect(Array.from(l.nb1)).toEqual(Array.from(ref.nb1));
    }
  });
  it("leaves excluded neurons unlinked", () => {
    const data = independentHeat(60, 200, 5);
    const exclude = new Uint8Array(60);
    for (let i = 0; i < 60; i += 4) exclude[i] = 1;
    const l = new PathLinker(60);
    linkAllPairsChunked(l, countPairs(data), exclude, 10);
    for (let i = 0; i < 60; i += 4) expect(l.nb0[i]).toBe(-1);
    expect(l.links).toBe(60 - 15 - 1);
  });
});

describe("screened candidate scoring", () => {
  it("on small layers also scores the paper's all-pairs greedy on its counts, and never does worse on fit tokens", () => {
    const data = independentHeat(400, 600, 7);
    const r = placeLayer({ layer: 0, method: "colink", data, budget: 0, device: longGap, bundleBytes: 1024, colink: {}, screen: null });
    expect(r.scores["none+allpairs"]).toBeGreaterThan(0);
    const g = buildColinkGraph(data, {});
    expect(r.fitUs * data.tokens).toBeLessThanOrEqual(fitCostUs(data, sampleGreedyOrder(g), NO_CACHE, longGap, 1024) + 1e-6);
    // above the cap (n = 4001: 8.002M pairs) the family is not built
    const wide = independentHeat(4001, 40, 3);
    const w = placeLayer({ layer: 0, method: "colink", data: wide, budget: 0, device: longGap, bundleBytes: 1024, colink: {} });
    expect((4001 * 4000) / 2).toBeGreaterThan(ALL_PAIRS_FAMILY_PAIRS);
    expect(Object.keys(w.scores).some((k) => k.endsWith("+allpairs"))).toBe(false);
    expect(Object.keys(w.scores)).toContain("none+frequency");
  });

  it("scores candidates on as many fit tokens as a fixed work allows, at least 4096", () => {
    const layer = (tokens: number, active: number): LayerTokens => {
      const offsets = Int32Array.from({ length: tokens + 1 }, (_, t) => t * active);
      return { neurons: 2048, tokens, offsets, ids: new Uint16Array(tokens * active) };
    };
    expect(chooseTokens(layer(100, 1000))).toBe(4096); // the floor (placeLayer caps it at the fit tokens)
    expect(chooseTokens(layer(100, 100))).toBe(Math.floor(CHOOSE_WORK / 100));
    expect(chooseTokens(layer(100, 0))).toBe(4096);
    expect(chooseTokens(layer(0, 0))).toBe(4096);
  });

  it("screen tokens are whole runs of the fit tokens, spread over them", () => {
    const data = independentHeat(50, 100, 11);
    const s = screenTokens(data, 20, 4);
    expect(s.tokens).toBe(20);
    // run r starts at token 25 r and holds 5 consecutive tokens
    for (let r = 0; r < 4; r++)
      for (let x = 0; x < 5; x++) {
        const t = 25 * r + x;
        const row = r * 5 + x;
        expect(Array.from(s.ids.subarray(s.offsets[row], s.offsets[row + 1]))).toEqual(
          Array.from(data.ids.subarray(data.offsets[t], data.offsets[t + 1])),
        );
      }
    expect(screenTokens(data, 100)).toBe(data);
  });

  it("the winner's reported cost is its full replay, and no worse than frequency order under the declared cache kinds", () => {
    const data = independentHeat(300, 800, 13);
    const budget = 30;
    const screened = placeLayer({ layer: 0, method: "colink", data, budget, device: longGap, bundleBytes: 1024, colink: {}, screen: { tokens: 200, finalists: 2 } });
    const chosen = fitCostUs(data, screened.order, screened.cache ?? NO_CACHE, longGap, 1024);
    expect(screened.fitUs * data.tokens).toBeCloseTo(chosen, 3);
    const pin: CacheSpec = { pinned: hottest(screened.freq, budget).ids, lru: 0, gapfill: false };
    const freqPinnedLast = hotBlockOrder(buildColinkGraph(data, {}), frequencyOrder(screened.freq), hottest(screened.freq, budget).mask, 300);
    // the cheapest everyCache (frequency) candidate on the screen is always a finalist, fully replayed
    expect(chosen).toBeLessThanOrEqual(fitCostUs(data, freqPinnedLast, pin, longGap, 1024) + 1e-6);
  });
});
