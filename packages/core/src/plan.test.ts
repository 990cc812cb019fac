import { describe, expect, it } from "vitest";
import { budgetForFraction, fitCacheToBudget, LayerCache } from "./cache.js";
import type { DeviceProfile } from "./device.js";
import { ColinkError } from "./errors.js";
import { layoutFromOrder, LayerPlanner, maxGapSlots } from "./plan.js";
import { xorshift32 } from "./rng.js";

// 1 KiB bundles; latency 10 us; 1 byte/us = 1e6 B/s: reading a gap of g bundles costs
// g * 1024 us, so no gap is worth reading (maxGap 0) ... unless we make bandwidth high.
// Use 1024e6 B/s: a bundle costs 1 us, latency 10 us → gaps of up to 9 bundles merge.
const dev: DeviceProfile = {
  name: "test",
  description: "",
  latencyUs: 10,
  bandwidthBytesPerSec: 1024e6,
  maxRequestBytes: 16 * 1024,
  queueDepth: 1,
  source: "",
};

describe("maxGapSlots", () => {
  it("is the largest gap strictly cheaper to read than a request", () => {
    expect(maxGapSlots(dev, 1024)).toBe(9); // 9 us < 10 us, 10 us is not
    expect(maxGapSlots(dev, 2048)).toBe(4); // 8 us < 10, 10 us is not
    expect(maxGapSlots({ ...dev, latencyUs: 0 }, 1024)).toBe(0);
  });
});

describe("LayerPlanner without cache", () => {
  it("merges runs whose gap is cheaper than a request, by hand", () => {
    const n = 64;
    const planner = new LayerPlanner(layoutFromOrder(Array.from({ length: n }, (_, i) => i), 1024), dev);
    // slots 0,1,2 | gap 5 | 8 | gap 20 | 29,30 → reads [0..8], [29..30]
    const r = planner.step([30, 2, 0, 1, 8, 29, 8]);
    expect(r.unique).toBe(6);
    expect(r.reads).toBe(2);
    expect(Array.from(r.readStart.subarray(0, 2))).toEqual([0, 29]);
    expect(Array.from(r.readSlots.subarray(0, 2))).toEqual([9, 2]);
    expect(r.gapSlots).toBe(5);
    expect(r.bytes).toBe(11 * 1024);
    expect(r.ioUs).toBeCloseTo(10 + 9 + 10 + 2, 9);
  });

  it("uses the placement order: ids → slots", () => {
    // physical order puts ids 5 and 40 side by side
    const order = Array.from({ length: 64 }, (_, i) => i);
    order[1] = 40;
    order[40] = 1;
    order[0] = 5;
    order[5] = 0;
    const planner = new LayerPlanner(layoutFromOrder(order, 1024), { ...dev, latencyUs: 0.5 });
    const r = planner.step([5, 40]);
    expect(r.reads).toBe(1);
    expect(r.readStart[0]).toBe(0);
    expect(r.readSlots[0]).toBe(2);
  });

  it("splits requests at the device's maximum request size", () => {
    const planner = new LayerPlanner(layoutFromOrder(Array.from({ length: 64 }, (_, i) => i), 1024), dev);
    const r = planner.step(Array.from({ length: 40 }, (_, i) => i));
    expect(Array.from(r.readSlots.subarray(0, r.reads))).toEqual([16, 16, 8]);
  });

  it("splits a chain longer than the maximum request where it costs least, by hand", () => {
    const planner = new LayerPlanner(layoutFromOrder(Array.from({ length: 64 }, (_, i) => i), 1024), dev);
    // slots 0-9 | gap 5 | 15, 16 | gap 1 | 18-30: one chain of 31 slots, requests of at most 16.
    // Cutting where a request must end (after 15: [0..15], [16..30]) reads 31 slots;
    // cutting at the wide gap reads 26: [0..9], [15..30], also 2 requests.
    const ids = [...Array.from({ length: 10 }, (_, i) => i), 15, 16, ...Array.from({ length: 13 }, (_, i) => 18 + i)];
    const r = planner.step(ids);
    expect(Array.from(r.readStart.subarray(0, r.reads))).toEqual([0, 15]);
    expect(Array.from(r.readSlots.subarray(0, r.reads))).toEqual([10, 16]);
    expect(r.gapSlots).toBe(1);
    expect(r.ioUs).toBeCloseTo(2 * 10 + 26, 9);
  });

  it("reads every token's misses at the least cost of any split into requests, over random tokens", () => {
    const rng = xorshift32(7);
    for (const [n, maxRequestBytes, latencyUs] of [
      [200, 16 * 1024, 10],
      [300, 5 * 1024, 10],
      [300, 64 * 1024, 3.5],
      [100, 1024, 10],
    ] as const) {
      const device = { ...dev, maxRequestBytes, latencyUs };
      const order = Array.from({ length: n }, (_, i) => i);
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(rng() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      const planner = new LayerPlanner(layoutFromOrder(order, 1024), device);
      const cap = planner.maxRequestSlots;
      for (let token = 0; token < 300; token++) {
        const density = 0.02 + 0.5 * rng();
        const ids = order.filter(() => rng() < density);
        const slots = ids.map((id) => planner.layout.slotOf[id]).sort((p, q) => p - q);
        const r = planner.step(ids);
        // every read starts and ends at a miss, fits the maximum request, and the reads cover every miss once
        let covered = 0;
        for (let k = 0; k < r.reads; k++) {
          const lo = r.readStart[k];
          const hi = lo + r.readSlots[k] - 1;
          expect(r.readSlots[k]).toBeLessThanOrEqual(cap);
          expect(slots.includes(lo) && slots.includes(hi)).toBe(true);
          if (k > 0) expect(lo).toBeGreaterThan(r.readStart[k - 1] + r.readSlots[k - 1] - 1);
          covered += slots.filter((s) => s >= lo && s <= hi).length;
        }
        expect(covered).toBe(slots.length);
        expect(r.ioUs).toBeCloseTo(cheapestSplitUs(slots, cap, latencyUs, 1), 6);
      }
    }
  });

  it("rejects out-of-range and non-integer ids with a clear error", () => {
    const planner = new LayerPlanner(layoutFromOrder([0, 1, 2, 3], 1024), dev);
    expect(() => planner.step([4])).toThrow(ColinkError);
    expect(() => planner.step([-1])).toThrow(/out of range/);
    expect(() => planner.step([1.5])).toThrow(/out of range/);
  });

  it("leaves nothing of a rejected token behind (typed ids, checked while they are marked)", () => {
    const cache = new LayerCache(8, { pinned: [], lru: 2, gapfill: false });
    const planner = new LayerPlanner(layoutFromOrder([0, 1, 2, 3, 4, 5, 6, 7], 1024), dev, cache);
    // 0 and 1 are marked before 9 fails the check
    expect(() => planner.step(Uint32Array.of(0, 1, 9))).toThrow(/neuron id 9 is out of range: layer has 8 neurons/);
    expect(cache.size).toBe(0);
    const r = planner.step(Uint32Array.of(6));
    expect(Array.from(r.missIds.subarray(0, r.misses))).toEqual([6]);
    expect([r.reads, r.readStart[0], r.readSlots[0]]).toEqual([1, 6, 1]);
  });

  it("plans nothing for an empty token", () => {
    const planner = new LayerPlanner(layoutFromOrder([0, 1, 2, 3], 1024), dev);
    const r = planner.step([]);
    expect(r.reads).toBe(0);
    expect(r.ioUs).toBe(0);
  });
});

describe("LayerPlanner with a cache", () => {
  const order = Array.from({ length: 32 }, (_, i) => i);
  const noMerge = { ...dev, latencyUs: 0.5 }; // maxGap 0: only adjacent slots merge

  it("serves pinned ids from DRAM and never evicts them", () => {
    const cache = new LayerCache(32, { pinned: [3, 4], lru: 0, gapfill: false });
    const p = new LayerPlanner(layoutFromOrder(order, 1024), noMerge, cache);
    const r = p.step([3, 4, 5]);
    expect(r.hits).toBe(2);
    expect(r.misses).toBe(1);
    expect(r.reads).toBe(1);
    expect(cache.size).toBe(2);
    for (let t = 0; t < 10; t++) p.step([t + 10]);
    expect(cache.has(3) && cache.has(4)).toBe(true);
  });

  it("keeps the most recent ids under LRU, by hand", () => {
    const cache = new LayerCache(32, { pinned: [], lru: 3, gapfill: false });
    const p = new LayerPlanner(layoutFromOrder(order, 1024), noMerge, cache);
    p.step([1, 2]); // lru: 2,1
    p.step([3]); // 3,2,1
    expect(p.step([1]).hits).toBe(1); // 1,3,2
    p.step([9]); // 9,1,3 (2 evicted)
    expect(cache.recencyOrder()).toEqual([9, 1, 3]);
    expect(p.step([2]).hits).toBe(0);
    expect(cache.size).toBeLessThanOrEqual(3);
  });

  it("gap-fills: bundles read in a merged gap enter the cache just behind the active ones", () => {
    const cache = new LayerCache(32, { pinned: [], lru: 4, gapfill: true });
    const p = new LayerPlanner(layoutFromOrder(order, 1024), dev, cache); // maxGap 9
    const r = p.step([10, 12]); // one read 10..12, gap slot 11
    expect(r.reads).toBe(1);
    expect(r.gapSlots).toBe(1);
    expect(cache.recencyOrder()).toEqual([12, 10, 11]);
    expect(p.step([11]).hits).toBe(1);
  });

  it("never lets gap bundles evict the token's own bundles", () => {
    const cache = new LayerCache(32, { pinned: [], lru: 2, gapfill: true });
    const p = new LayerPlanner(layoutFromOrder(order, 1024), dev, cache);
    p.step([0, 8]); // gap 1..7 (7 bundles) but only 0 room after 2 active
    expect(new Set(cache.recencyOrder())).toEqual(new Set([0, 8]));
  });

  it("never exceeds its capacity over a random stream", () => {
    const cache = new LayerCache(32, { pinned: [0, 1, 2], lru: 5, gapfill: true });
    const p = new LayerPlanner(layoutFromOrder(order, 1024), dev, cache);
    let seed = 7;
    for (let t = 0; t < 500; t++) {
      const ids: number[] = [];
      for (let k = 0; k < 6; k++) {
        seed = (seed * 1103515245 + 12345) >>> 0;
        ids.push(seed % 32);
      }
      p.step(ids);
      expect(cache.size).toBeLessThanOrEqual(8);
      let resident = 0;
      for (let id = 0; id < 32; id++) if (cache.has(id)) resident++;
      expect(resident).toBe(cache.size);
    }
  });
});

describe("gap bundles", () => {
  // every slot a read covers that holds neither a requested id nor a cached one, by brute force
  function bruteGapSlots(r: ReturnType<LayerPlanner["step"]>, idAt: Uint32Array, requested: Set<number>, cached: (id: number) => boolean): number {
    let gap = 0;
    for (let i = 0; i < r.reads; i++)
      for (let s = r.readStart[i]; s < r.readStart[i] + r.readSlots[i]; s++) if (!requested.has(idAt[s]) && !cached(idAt[s])) gap++;
    return gap;
  }

  it("are counted alike with no cache, pinned only, and recency (walked), over random streams", () => {
    const n = 300;
    let seed = 11;
    const next = (m: number): number => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % m;
    };
    const order = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = next(i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    const layout = layoutFromOrder(order, 1024);
    const pinned = Array.from({ length: 40 }, (_, i) => order[(i * 7) % n]);
    const specs = [null, { pinned, lru: 0, gapfill: false }, { pinned: pinned.slice(0, 20), lru: 30, gapfill: false }];
    for (const spec of specs) {
      const cache = spec ? new LayerCache(n, spec) : null;
      const p = new LayerPlanner(layout, dev, cache);
      for (let t = 0; t < 200; t++) {
        const ids = Uint16Array.from({ length: 1 + next(60) }, () => next(n));
        const before = new Set<number>();
        for (let id = 0; id < n; id++) if (cache?.has(id)) before.add(id);
        const r = p.step(ids);
        expect(r.gapSlots).toBe(bruteGapSlots(r, layout.idAt, new Set(ids), (id) => before.has(id)));
      }
    }
  });
});

describe("cache budgets", () => {
  it("floor(F x N)", () => {
    expect(budgetForFraction(0.1, 11008)).toBe(1100);
    expect(budgetForFraction(0.1, 768)).toBe(76);
    expect(budgetForFraction(0, 768)).toBe(0);
  });
  it("fits a declared cache to a smaller or larger budget", () => {
    const spec = { pinned: [5, 6, 7, 8], lru: 4, gapfill: true };
    expect(fitCacheToBudget(spec, 12)).toEqual({ pinned: [5, 6, 7, 8], lru: 8, gapfill: true });
    expect(fitCacheToBudget(spec, 4)).toEqual({ pinned: [5, 6], lru: 2, gapfill: true });
    expect(fitCacheToBudget(spec, 0)).toEqual({ pinned: [], lru: 0, gapfill: true });
  });
});

/** Reference: the cheapest split of sorted miss slots into requests of at most `cap` slots, by brute DP. */
function cheapestSplitUs(slots: number[], cap: number, latencyUs: number, transferUs: number): number {
  const best = [0];
  for (let j = 0; j < slots.length; j++) {
    let b = Number.POSITIVE_INFINITY;
    for (let i = j; i >= 0 && slots[j] - slots[i] < cap; i--) b = Math.min(b, best[i] + latencyUs + (slots[j] - slots[i] + 1) * transferUs);
    best.push(b);
  }
  return best[slots.length];
}

