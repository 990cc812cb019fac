import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { ColinkError, type TraceMeta } from "@colink/core";
import { describe, expect, it } from "vitest";
import { bundleBytesFromMeta, bundleBytesFromModel, DEFAULT_BUNDLE_BYTES } from "./traces.js";

describe("bundle size defaults", () => {
  it("derives fp16 bundles from a model's config.json", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "colink-model-"));
    writeFileSync(path.join(dir, "config.json"), JSON.stringify({ model_type: "llama", hidden_size: 4096 }));
    expect(await bundleBytesFromModel(dir)).toBe(24576);
    writeFileSync(path.join(dir, "config.json"), JSON.stringify({ model_type: "opt", hidden_size: 4096 }));
    expect(await bundleBytesFromModel(dir)).toBe((2 * 4096 + 1) * 2);
    writeFileSync(path.join(dir, "config.json"), JSON.stringify({ model_type: "llama" }));
    await expect(bundleBytesFromModel(dir)).rejects.toThrow(ColinkError);
  });

  it("uses the trace's metadata, else 24 KiB", () => {
    const meta = { extra: {} } as unknown as TraceMeta;
    expect(bundleBytesFromMeta(meta)).toEqual({ bytes: DEFAULT_BUNDLE_BYTES, from: "default (Llama-2-7B fp16)" });
    expect(bundleBytesFromMeta({ ...meta, extra: { bundleBytes: 1152 } }).bytes).toBe(1152);
    expect(bundleBytesFromMeta({ ...meta, extra: { hiddenSize: 192 } }).bytes).toBe(1152);
  });
});
