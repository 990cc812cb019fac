import { totalmem } from "node:os";
import { describe, expect, it } from "vitest";
import { MAX_PAIR_NEURONS, pairBytes } from "./cooccur.js";
import { defaultThreads } from "./pool.js";

describe("worker threads and pair-count memory", () => {
  it("counts a layer's triangle, and neuralink's sorted id lists on top", () => {
    const pairs = (11008 * 11007) / 2;
    expect(pairBytes(11008, 10240, false)).toBe(pairs * 2); // uint16 counters: 121 MB
    expect(pairBytes(11008, 65536, false)).toBe(pairs * 4); // uint32 once 65536 tokens are counted
    expect(pairBytes(11008, 10240, true)).toBe(pairs * 6);
    // the widest layer still indexes its triangle with an int32
    expect(pairBytes(MAX_PAIR_NEURONS, 1, false) / 2).toBeLessThan(2 ** 31);
  });

  it("runs fewer workers when half the memory cannot hold one layer's counts each", () => {
    const cores = defaultThreads();
    expect(cores).toBeGreaterThanOrEqual(1);
    expect(cores).toBeLessThanOrEqual(8);
    expect(defaultThreads(1)).toBe(cores);
    expect(defaultThreads(totalmem())).toBe(1);
    expect(defaultThreads(totalmem() / 4)).toBe(Math.min(cores, 2));
  });
});
