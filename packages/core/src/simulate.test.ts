import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { NO_CACHE } from "./cache.js";
import type { DeviceProfile } from "./device.js";
import { distribution, simulateTraceFiles, TraceSimulator } from "./simulate.js";
import { TraceWriter, type TraceChunk, type TraceMeta } from "./trace.js";

// 1 KiB bundles at 1024e6 B/s: 1 us per bundle, 10 us per request, gaps up to 9 merge.
const dev: DeviceProfile = {
  name: "test",
  description: "",
  latencyUs: 10,
  bandwidthBytesPerSec: 1024e6,
  maxRequestBytes: 16 * 1024,
  queueDepth: 1,
  source: "",
};
const identity = Array.from({ length: 16 }, (_, i) => i);
const reversed = identity.slice().reverse();

function chunk(layer: number, tokens: number[][], split: number[]): TraceChunk {
  const offsets = new Int32Array(tokens.length + 1);
  tokens.forEach((t, i) => {
    offsets[i + 1] = offsets[i] + t.length;
  });
  return {
    layer,
    seq: new Uint32Array(tokens.length),
    pos: Uint32Array.from(tokens.map((_, i) => i)),
    split: Uint8Array.from(split),
    offsets,
    ids: Uint16Array.from(tokens.flat()),
  };
}

// layer 0 (identity):  t0 [0,1,2] → 1 read of 3 (13 us); t1 [1,15] → gap 13 > 9: 2 reads (22 us)
// layer 1 (reversed):  t0 [0,15] → slots 15, 0: 2 reads (22 us); t1 [3,4] → slots 12,11: 1 read (12 us)
const L0 = [[0, 1, 2], [1, 15]];
const L1 = [[0, 15], [3, 4]];

describe("TraceSimulator", () => {
  it("sums reads, bytes and time per token over layers, by hand", () => {
    const sim = new TraceSimulator([{ order: identity, cache: NO_CACHE }, { order: reversed, cache: NO_CACHE }], dev, 1024);
    sim.add(chunk(0, L0, [1, 1]));
    sim.add(chunk(1, L1, [1, 1]));
    const s = sim.stats;
    expect(s.tokens).toBe(2);
    expect(Array.from(s.reads.subarray(0, 2))).toEqual([3, 3]);
    expect(Array.from(s.bytes.subarray(0, 2))).toEqual([5 * 1024, 4 * 1024]);
    expect(s.ioUs[0]).toBeCloseTo(13 + 22, 9);
    expect(s.ioUs[1]).toBeCloseTo(22 + 12, 9);
    // bound: one read per layer of all its active neurons
    expect(s.boundUs[0]).toBeCloseTo(13 + 12, 9);
    expect(s.boundUs[1]).toBeCloseTo(12 + 12, 9);
    const sum = sim.summary();
    expect(sum.reads_per_token.mean).toBe(3);
    expect(sum.io_ms_per_token.mean).toBeCloseTo(0.0345, 9);
    expect(sum.hit_rate.mean).toBe(0);
  });

  it("serves hits from an LRU cache and from pinned ids", () => {
    // LRU of 2 on layer 0: after t0 it holds {1, 2}; t1 [1,15] hits 1, reads 15 alone (11 us)
    const lru = new TraceSimulator([{ order: identity, cache: { pinned: [], lru: 2, gapfill: false } }], dev, 1024);
    lru.add(chunk(0, L0, [0, 0]));
    expect(lru.stats.ioUs[1]).toBeCloseTo(11, 9);
    expect(lru.stats.hits[1]).toBe(1);
    // pinned 15: t1 hits 15, reads 1 alone
    const pin = new TraceSimulator([{ order: identity, cache: { pinned: [15], lru: 0, gapfill: false } }], dev, 1024);
    pin.add(chunk(0, L0, [0, 0]));
    expect(pin.stats.ioUs[0]).toBeCloseTo(13, 9);
    expect(pin.stats.ioUs[1]).toBeCloseTo(11, 9);
    expect(pin.summary().hit_rate.mean).toBeCloseTo(1 / 5, 9);
  });

  it("selects one split", () => {
    const sim = new TraceSimulator([{ order: identity, cache: NO_CACHE }], dev, 1024);
    sim.add(chunk(0, L0, [0, 1]), 1);
    expect(sim.stats.tokens).toBe(1);
    expect(sim.stats.ioUs[0]).toBeCloseTo(22, 9);
  });
});

describe("simulateTraceFiles", () => {
  it("reads a real trace file and checks its shape", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "colink-sim-"));
    const file = path.join(dir, "t.arrow");
    const meta: TraceMeta = {
      schemaVersion: 1, modelId: "", configDigest: "", layers: 2, neurons: 16,
      activation: { rule: "synthetic" }, corpusDigest: "", seqLen: 2, sequences: 1, tokens: 2,
      holdout: 0, seed: 0, source: "synth",
    };
    const w = await TraceWriter.create(file, meta);
    w.write(chunk(0, L0, [1, 1]));
    w.write(chunk(1, L1, [1, 1]));
    await w.close();
    const s = await simulateTraceFiles(file ? [file] : [], [{ order: identity, cache: NO_CACHE }, { order: reversed, cache: NO_CACHE }], dev, 1024, 1);
    expect(s.tokens).toBe(2);
    expect(s.reads_per_token).toEqual({ mean: 3, p50: 3, p99: 3 });
    await expect(simulateTraceFiles([file], [{ order: identity, cache: NO_CACHE }], dev, 1024)).rejects.toThrow(/placement is 1 x 16/);
  });
});

describe("distribution", () => {
  it("uses nearest-rank percentiles", () => {
    const v = Float64Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(distribution(v, 100)).toEqual({ mean: 50.5, p50: 50, p99: 99 });
  });
});
