import { describe, expect, it } from "vitest";
import { defaultConfig } from "./config.js";
import { type PipelineSummary, SUMMARY_FORMAT, extractTotals, summaryText } from "./impl.js";

describe("pipeline helpers", () => {
  it("finds the loader's totals (means of distributions) in a replay result", () => {
    const dist = (mean: number) => ({ mean, p50: mean, p99: mean });
    const t = extractTotals({
      traces: "t.arrow",
      images: [{ reads_per_token: dist(3), bytes_per_token: dist(4096), io_ms_per_token: dist(0.25), hit_rate: dist(0.5) }],
    });
    expect(t).toEqual({ reads_per_token: 3, bytes_per_token: 4096, io_ms_per_token: 0.25, hit_rate: 0.5, source: "replay" });
    expect(extractTotals({ nothing: 1 })).toBeNull();
  });

  it("prints one row per method, the chosen one starred, with both ratios", () => {
    const m = (io: number) => ({ reads_per_token: 2, bytes_per_token: 2048, io_ms_per_token: io, hit_rate: 0.25, speedup_vs_identity: 1 / io, speedup_vs_neuralink: 0.5 / io });
    const s: PipelineSummary = {
      format: SUMMARY_FORMAT,
      status: "ok",
      name: "t",
      config: { ...defaultConfig(), out: "/tmp/x" },
      chosen: "colink",
      methods: { identity: m(1), neuralink: m(0.5), colink: m(0.25) },
      stages: [{ stage: "profile", digest: "0123456789ab", cached: true, seconds: 0 }],
      cached_stages: 1,
      seconds: 1.5,
    };
    const text = summaryText(s);
    expect(text).toMatch(/^colink \*\s+2\.0\s+2\.0\s+0\.250\s+25\.0%\s+4\.00x\s+2\.00x$/m);
    expect(text).toMatch(/^identity\s.*1\.00x\s+0\.50x$/m);
    expect(text).toMatch(/stages: 1 \(1 cached\)/);
  });
});
