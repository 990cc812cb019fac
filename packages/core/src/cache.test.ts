import { describe, expect, it } from "vitest";
import { LayerCache } from "./cache.js";
import { xorshift32 } from "./rng.js";

/** LRU as its definition says it, on plain arrays: the reference LayerCache must match. */
class ReferenceLru {
  readonly frameOf: number[];
  readonly recency: number[] = []; // most recent first
  private readonly free: number[] = [];
  constructor(
    neurons: number,
    private readonly pinned: Set<number>,
    private readonly capacity: number,
  ) {
    this.frameOf = new Array(neurons).fill(-1);
    [...pinned].forEach((id, i) => {
      this.frameOf[id] = i;
    });
    for (let f = capacity - 1; f >= 0; f--) this.free.push(pinned.size + f);
  }
  touch(id: number): number {
    if (this.pinned.has(id) || this.capacity === 0) return -1;
    const at = this.recency.indexOf(id);
    if (at >= 0) {
      this.recency.splice(at, 1);
      this.recency.unshift(id);
      return -1;
    }
    let evicted = -1;
    if (this.free.length === 0) {
      evicted = this.recency.pop() as number;
      this.free.push(this.frameOf[evicted]);
      this.frameOf[evicted] = -1;
    }
    this.frameOf[id] = this.free.pop() as number;
    this.recency.unshift(id);
    return evicted;
  }
}

describe("LayerCache recency", () => {
  it("evicts, assigns frames and orders entries exactly as a reference LRU, over long random streams", () => {
    const rnd = xorshift32(3);
    for (const [neurons, pinnedCount, lru] of [
      [50, 5, 1],
      [50, 0, 7],
      [200, 20, 40],
      [64, 0, 64],
    ]) {
      const pinned = Array.from({ length: pinnedCount }, (_, i) => (i * 7) % neurons);
      const cache = new LayerCache(neurons, { pinned, lru, gapfill: false });
      const ref = new ReferenceLru(neurons, new Set(pinned), lru);
      // skewed ids, so some stay hot (many dead ring entries) and some come and go
      for (let step = 0; step < 20000; step++) {
        const id = Math.floor(neurons * rnd() ** 2);
        expect(cache.touch(id)).toBe(ref.touch(id));
        if (step % 97 === 0) {
          expect(cache.recencyOrder()).toEqual(ref.recency);
          expect(Array.from(cache.frameOf)).toEqual(ref.frameOf);
          expect(cache.size).toBe(pinnedCount + ref.recency.length);
        }
      }
      expect(cache.recencyOrder()).toEqual(ref.recency);
    }
  });

  it("keeps a hot id through a long run of hits (the ring compacts instead of growing)", () => {
    const cache = new LayerCache(10, { pinned: [], lru: 2, gapfill: false });
    cache.touch(1);
    for (let i = 0; i < 10000; i++) cache.touch(2);
    expect(cache.recencyOrder()).toEqual([2, 1]);
    expect(cache.touch(3)).toBe(1);
    expect(cache.recencyOrder()).toEqual([3, 2]);
  });
});
