import { budgetForFraction, cacheSize, NO_CACHE } from "@colink/core";
import { describe, expect, it } from "vitest";
import { cacheCandidates, fitCostUs, LoneCounter, loneActivations, pinCostScores, RUN_GAP, recencyMisses, recencyMissesAt } from "./codesign.js";
import { activationCounts } from "./cooccur.js";
import { placeLayer } from "./layer.js";
import { METHODS } from "./methods.js";
import { csr, dev } from "./testkit.js";

const identity = Array.from({ length: 16 }, (_, i) => i);

describe("cost model on fit tokens, by hand", () => {
  // t0 [0,3]: one merged read of slots 0..3 (gap 1,2): 10 + 4 = 14 us.
  // t1 [1,2]: a read of 2 slots (12 us) unless 1 and 2 are cached.
  const data = csr(16, [[0, 3], [1, 2]]);
  it("no cache", () => {
    expect(fitCostUs(data, identity, NO_CACHE, dev, 1024)).toBeCloseTo(14 + 12, 9);
  });
  it("lru without gapfill does not keep gap bundles", () => {
    expect(fitCostUs(data, identity, { pinned: [], lru: 4, gapfill: false }, dev, 1024)).toBeCloseTo(26, 9);
  });
  it("lru with gapfill keeps the gap bundles the merged read brought in", () => {
    expect(fitCostUs(data, identity, { pinned: [], lru: 4, gapfill: true }, dev, 1024)).toBeCloseTo(14, 9);
  });
  it("gapfill never evicts the token's own bundles: with room for 2 only, gaps are not admitted", () => {
    expect(fitCostUs(data, identity, { pinned: [], lru: 2, gapfill: true }, dev, 1024)).toBeCloseTo(26, 9);
  });
  it("pinned bundles are hits; a read still spans them when it merges through", () => {
    expect(fitCostUs(data, identity, { pinned: [1, 2], lru: 0, gapfill: false }, dev, 1024)).toBeCloseTo(14, 9);
    // pinned 3: t0 reads slot 0 alone (11 us), t1 reads 1..2 (12 us)
    expect(fitCostUs(data, identity, { pinned: [3], lru: 0, gapfill: false }, dev, 1024)).toBeCloseTo(23, 9);
  });
});

describe("declared cache", () => {
  it("never exceeds floor(F x N)", () => {
    const tokens: number[][] = [];
    for (let t = 0; t < 120; t++) tokens.push(Array.from({ length: 6 }, (_, i) => (t * 7 + i * 13) % 97).sort((a, b) => a - b));
    const data = csr(97, tokens.map((t) => Array.from(new Set(t))));
    for (const F of [0, 0.01, 0.05, 0.1, 0.33]) {
      const budget = budgetForFraction(F, 97);
      for (const method of METHODS) {
        const r = placeLayer({ layer: 0, method, data, budget, device: dev, bundleBytes: 1024, colink: {} });
        if (budget === 0) expect(r.cache).toBeUndefined();
        else {
          expect(r.cache).toBeDefined();
          expect(cacheSize(r.cache!)).toBeLessThanOrEqual(Math.floor(F * 97));
        }
      }
    }
  });
});

describe("pinning what recency misses", () => {
  // neuron 0 fires in bursts of 4 consecutive tokens, neuron 1 every other token:
  // both 8 times in 16 tokens, but a recency cache remembering 1 token misses
  // 0 only at the start of each burst (2x) and 1 every time (8x).
  const tokens: number[][] = [];
  for (let t = 0; t < 16; t++) {
    const ids: number[] = [];
    if (t % 8 < 4) ids.push(0);
    if (t % 2 === 0) ids.push(1);
    tokens.push(ids);
  }
  const data = csr(4, tokens);
  it("counts the activations a recency cache of the given horizon would miss", () => {
    expect(Array.from(recencyMisses(data, 1))).toEqual([2, 8, 0, 0]);
    expect(Array.from(recencyMisses(data, 2))).toEqual([2, 1, 0, 0]);
    // several horizons in one pass, repeated ones included, give each horizon's counts
    const at = recencyMissesAt(data, [2, 1, 2]).map((x) => Array.from(x));
    expect(at).toEqual([[2, 1, 0, 0], [2, 8, 0, 0], [2, 1, 0, 0]]);
  });
  it("the pinmiss candidates pin the scattered neuron, the hot ones by frequency", () => {
    const freq = Array.from({ length: 4 }, () => 0);
    for (const t of tokens) for (const id of t) freq[id]++;
    freq[0] += 1; // the burst neuron is (slightly) the hottest
    const cands = cacheCandidates(freq, 2, () => Uint32Array.from([0, 1, 2, 3]), data);
    const pin = (name: string) => cands.find((c) => c.name === name)?.cache.pinned;
    expect(pin("pin")).toEqual([0, 1]);
    expect(pin("pin50%+lru+gapfill")).toEqual([0]);
    expect(pin("pinmiss50%+lru")).toEqual([1]);
    expect(pin("pinmiss50%+lru+gapfill")).toEqual([1]);
    for (const c of cands) expect(cacheSize(c.cache)).toBe(2);
  });
  it("pincost ranks by latency x run starts + transfer x activations", () => {
    const freq = Array.from({ length: 4 }, () => 0);
    for (const t of tokens) for (const id of t) freq[id]++;
    freq[0] += 1;
    // by hand, with RUN_GAP = 2: neuron 0 starts 2 runs (tokens 0 and 8; 4 idle tokens between);
    // neuron 1 fires every other token, a 1-token gap that does not break its run, so 1 start
    expect(Array.from(pinCostScores(recencyMisses(data, RUN_GAP), freq, { latencyUs: 1, transferUs: 0, maxGap: 0 }))).toEqual([2, 1, 0, 0]);
    expect(Array.from(pinCostScores(recencyMisses(data, RUN_GAP), freq, { latencyUs: 60, transferUs: 6, maxGap: 9 }))).toEqual([60 * 2 + 6 * 9, 60 * 1 + 6 * 8, 0, 0]);
    // with no latency it is frequency pinning; without the device's costs there is no pincost candidate
    const plain = cacheCandidates(freq, 1, () => Uint32Array.from([0, 1, 2, 3]), data, { latencyUs: 0, transferUs: 1, maxGap: 0 });
    expect(plain.find((c) => c.name === "pincost-lone50")?.cache).toEqual({ pinned: [0], lru: 0, gapfill: false });
    expect(cacheCandidates(freq, 1, () => Uint32Array.from([0, 1, 2, 3]), data).some((c) => c.name.startsWith("pincost"))).toBe(false);
  });
  it("lone activations count tokens with no other active id within the merge gap in the order", () => {
    // slots: id 3 -> 0, 0 -> 1, 7 -> 2, 2 -> 3, 5 -> 4, 1 -> 5, 4 -> 6, 6 -> 7
    const order = [3, 0, 7, 2, 5, 1, 4, 6];
    const d = csr(8, [[0, 5], [3, 7], [2, 5], [1]]);
    const io = (maxGap: number) => ({ latencyUs: 10, transferUs: 1, maxGap });
    // maxGap 1: [0, 5] sit at slots 1 and 4 (2 between: both lone), [3, 7] at 0 and 2, [2, 5] at 3 and 4, [1] alone
    expect(Array.from(loneActivations(d, order, io(1)))).toEqual([1, 1, 0, 0, 0, 1, 0, 0]);
    // with 7 pinned (never read, so no company): 3 is alone on [3, 7]; 7 still has 3 beside it
    expect(Array.from(loneActivations(d, order, io(1), Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 1])))).toEqual([1, 1, 0, 1, 0, 1, 0, 0]);
    // maxGap 2: 0 and 5 merge too
    expect(Array.from(loneActivations(d, order, io(2)))).toEqual([0, 1, 0, 0, 0, 0, 0, 0]);
    // the same by brute force on a larger layer, for every gap, with and without pinned ids
    const n = 200;
    const perm = Array.from({ length: n }, (_, i) => (i * 73) % n);
    const slot = new Int32Array(n);
    perm.forEach((id, s) => {
      slot[id] = s;
    });
    const toks = Array.from({ length: 40 }, (_, t) => Array.from({ length: n }, (_, i) => i).filter((i) => (i * 31 + t * 17) % 11 === 0));
    const big = csr(n, toks);
    const pinned = Uint8Array.from({ length: n }, (_, i) => (i % 7 === 0 ? 1 : 0));
    for (const gap of [0, 3, 12, 250]) {
      for (const mask of [undefined, pinned]) {
        const want = new Array(n).fill(0);
        for (const t of toks) for (const i of t) if (!t.some((j) => j !== i && !mask?.[j] && Math.abs(slot[i] - slot[j]) - 1 <= gap)) want[i]++;
        expect(Array.from(loneActivations(big, perm, io(gap), mask))).toEqual(want);
      }
    }
    // one counter serves many pinned sets: each count as if counted alone; with every id
    // pinned, every activation is lone
    const counter = new LoneCounter(big, perm, io(3));
    const everyone = new Uint8Array(n).fill(1);
    for (const mask of [undefined, pinned, everyone, undefined]) {
      expect(Array.from(counter.count(mask))).toEqual(Array.from(loneActivations(big, perm, io(3), mask)));
    }
    expect(Array.from(counter.count(everyone))).toEqual(Array.from(activationCounts(big)));
    // wider than 65536 neurons (32-bit slots), ids at word edges, the order reversed
    const wide = 70000;
    const rev = Array.from({ length: wide }, (_, s) => wide - 1 - s);
    const wt = [[0, 31, 32, 63, 64, 69999], [5, 40000, 40002], [69990, 69999]];
    const w16 = csr(wide, wt); // csr keeps ids as uint16: widen them
    const got = loneActivations({ ...w16, ids: Uint32Array.from(wt.flat()) }, rev, io(1));
    const lonely = new Array(wide).fill(0);
    for (const t of wt) for (const i of t) if (!t.some((j) => j !== i && Math.abs(i - j) - 1 <= 1)) lonely[i]++;
    expect(Array.from(got)).toEqual(lonely);
    // the request estimate blends run starts with lone activations
    const freq = [1, 1, 1, 1, 0, 2, 0, 1];
    const starts = recencyMisses(d, RUN_GAP);
    const lone = loneActivations(d, order, io(1));
    const blended = pinCostScores(starts, freq, io(1), { counts: lone, share: 0.5 });
    expect(Array.from(blended)).toEqual(freq.map((f, i) => 10 * (0.5 * starts[i] + 0.5 * lone[i]) + f));
    const names = cacheCandidates(freq, 1, () => Uint32Array.from(order), d, io(1)).map((c) => c.name);
    expect(names.filter((x) => x.startsWith("pincost"))).toEqual(["pincost-lone50", "pincost-lone50r", "pincost-lone75", "pincost-lone75r"]);
  });
});
