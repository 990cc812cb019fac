/** End-to-end: `colink place` and `colink evaluate` through the built CLI. */
import { existsSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { colink, tempDir } from "./helpers.js";

const dir = tempDir("colink-placer-");
const traceA = path.join(dir, "a.arrow");
const traceB = path.join(dir, "b.arrow");
const small = path.join(dir, "small.arrow");

function oneLineError(r: { status: number; stderr: string }, pattern: RegExp): void {
  expect(r.status).toBe(1);
  const lines = r.stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}

beforeAll(() => {
  for (const [file, shape, seed] of [
    [traceA, "512x2", "1"],
    [traceB, "512x2", "2"],
    [small, "256x2", "1"],
  ])
    expect(colink(["trace", "synth", "--shape", shape, "--tokens", "1024", "--seed", seed, "--out", file, "--quiet"]).status).toBe(0);
});

describe("colink place / evaluate", () => {
  it("places with every method, writes a valid placement, evaluates on held-out tokens", () => {
    const results: Record<string, number> = {};
    for (const method of ["identity", "frequency", "neuralink", "colink"]) {
      const out = path.join(dir, `${method}.json`);
      const p = colink(["place", "--traces", traceA, traceB, "--method", method, "--out", out, "--bundle-bytes", "24576", "--json", "--quiet"]);
      expect(p.status, p.stderr).toBe(0);
      const placed = JSON.parse(p.stdout);
      expect(placed.layers).toBe(2);
      // where the time went: the read, and the layers' phases summed over threads
      expect(placed.timing.readSeconds).toBeGreaterThanOrEqual(0);
      expect(placed.timing.orderSeconds + placed.timing.chooseSeconds).toBeGreaterThan(0);
      expect(placed.threads).toBeGreaterThanOrEqual(1);
      const e = colink(["evaluate", "--placement", out, "--traces", traceA, traceB, "--json"]);
      expect(e.status, e.stderr).toBe(0);
      const r = JSON.parse(e.stdout);
      for (const key of ["reads_per_token", "bytes_per_token", "io_ms_per_token", "hit_rate", "bound_io_ms_per_token"])
        expect(Object.keys(r[key]).sort()).toEqual(["mean", "p50", "p99"]);
      expect(r.io_ms_per_token.mean).toBeGreaterThanOrEqual(r.bound_io_ms_per_token.mean);
      expect(r.hit_rate.mean).toBe(0);
      results[method] = r.io_ms_per_token.mean;
    }
    // co-activation-aware orders beat the original order on these clustered traces
    expect(results.colink).toBeLessThan(results.identity);
    expect(results.neuralink).toBeLessThan(results.identity);
  });

  it("declares a cache within floor(F x N) and evaluates it under each policy", () => {
    const out = path.join(dir, "cached.json");
    expect(colink(["place", "-t", traceA, "--cache-fraction", "0.1", "-o", out, "--quiet"]).status).toBe(0);
    const text = colink(["evaluate", "-p", out, "-t", traceA]);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/hit rate/);
    for (const policy of ["declared", "lru", "pin", "none"]) {
      const e = colink(["evaluate", "-p", out, "-t", traceA, "--policy", policy, "--json"]);
      expect(e.status, e.stderr).toBe(0);
      const r = JSON.parse(e.stdout);
      expect(r.budget).toBe(51);
      if (policy === "none") expect(r.hit_rate.mean).toBe(0);
      else expect(r.hit_rate.mean).toBeGreaterThan(0);
    }
    // the declared cache only binds the declared policy: the same placement runs with no cache
    const none = colink(["evaluate", "-p", out, "-t", traceA, "--policy", "none", "--cache-fraction", "0", "--json"]);
    expect(none.status, none.stderr).toBe(0);
    expect(JSON.parse(none.stdout).hit_rate.mean).toBe(0);
    // a smaller budget than the one the cache was chosen for is refused under declared, with the way out
    oneLineError(colink(["evaluate", "-p", out, "-t", traceA, "--cache-fraction", "0.05"]), /chosen for --cache-fraction 0.1 \(51 bundles per layer\), more than --cache-fraction 0.05 allows \(25\)/);
  });

  it("bad input: one clear line, exit 1", () => {
    oneLineError(colink(["place", "-t", traceA, small, "-o", path.join(dir, "x.json")]), /traces must share one shape/);
    oneLineError(colink(["place", "-t", traceA, "-o", path.join(dir, "x.json"), "--device", "floppy"]), /unknown device profile "floppy"/);
    oneLineError(colink(["evaluate", "-p", path.join(dir, "identity.json"), "-t", traceA, "--device", "floppy"]), /unknown device profile/);
    const order = Array.from({ length: 512 }, (_, i) => i);
    const bad = path.join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ format: "colink.placement/1", method: "x", layers: [{ layer: 0, order: [...order.slice(1), 1] }, { layer: 1, order }] }));
    oneLineError(colink(["evaluate", "-p", bad, "-t", traceA]), /not a permutation: id 1 appears twice/);
    const over = path.join(dir, "over.json");
    writeFileSync(
      over,
      JSON.stringify({ format: "colink.placement/1", method: "x", layers: [0, 1].map((layer) => ({ layer, order, cache: { pinned: [1, 2, 3], lru: 60, gapfill: false } })) }),
    );
    oneLineError(colink(["evaluate", "-p", over, "-t", traceA, "--cache-fraction", "0.1"]), /over the budget of 51/);
    oneLineError(colink(["evaluate", "-p", path.join(dir, "identity.json"), "-t", small]), /has 512 ids, the model has 256/);
  });

  it("refuses layers too wide for pair counts before reading them, and nothing is written", () => {
    const wide = path.join(dir, "wide.arrow");
    expect(colink(["trace", "synth", "--shape", "65537x1", "--tokens", "20", "--out", wide, "--quiet"]).status).toBe(0);
    const out = path.join(dir, "wide.json");
    for (const method of ["colink", "neuralink"])
      oneLineError(colink(["place", "-t", wide, "-m", method, "-o", out]), /wide\.arrow: 65537 neurons per layer; --method \w+ counts co-activation pairs, which supports at most 65536/);
    expect(existsSync(out)).toBe(false);
    expect(colink(["place", "-t", wide, "-m", "frequency", "-o", out, "--quiet"]).status).toBe(0);
  });
});
