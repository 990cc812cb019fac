import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { DEVICE_PROFILES, type DeviceProfile } from "@colink/core";
import { afterAll, describe, expect, it } from "vitest";
import { openImage, openParsedImage } from "./loader.js";
import { rng, writeTestImage } from "./testimage.js";

const dir = mkdtempSync(path.join(tmpdir(), "colink-loader-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ufs40 = DEVICE_PROFILES.ufs40;
// A small device so that collapse and request splitting both happen on small layers.
const small: DeviceProfile = { ...ufs40, name: "small", latencyUs: 2, bandwidthBytesPerSec: 1e9, maxRequestBytes: 8192, queueDepth: 4 };

/** Byte equality without vitest's per-element deep compare (slow on thousands of arrays). */
function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function randomIds(rand: () => number, n: number, k: number): number[] {
  return Array.from({ length: k }, () => Math.floor(rand() * n));
}

describe("Loader", () => {
  it("returns exactly the asked bundles, in order, duplicates included, under every policy", async () => {
    const file = path.join(dir, "a.img");
    const img = await writeTestImage(file, { layers: 3, neurons: 200, bundleBytes: 1024, shuffle: true, cache: { pinned: [5, 6, 7], lru: 20, gapfill: true } });
    const rand = rng(7);
    for (const policy of ["none", "lru", "pin", "declared"] as const) {
      for (const direct of [false, true]) {
        const info = { ...img.info, layers: img.info.layers.map((l) => ({ ...l, freq: Uint32Array.from({ length: 200 }, (_, i) => i % 17) })) };
        const loader = await openParsedImage(info, { device: small, cacheBytes: 3 * 40 * 1024, policy, direct, queueDepth: 3 });
        for (let t = 0; t < 40; t++) {
          const layer = t % 3;
          const ids = randomIds(rand, 200, 1 + Math.floor(rand() * 60));
          const b = await loader.load(layer, ids);
          expect(b.count).toBe(ids.length);
          let bad = 0;
          for (let i = 0; i < ids.length; i++) if (!same(b.bundle(i), img.bytesOf(layer, ids[i]))) bad++;
          expect(bad).toBe(0);
          expect(b.part(0, "down")).toEqual(img.bytesOf(layer, ids[0]).subarray(512));
          b.release();
          const s = loader.stats();
          expect(s.cachedBytes).toBeLessThanOrEqual(s.cacheBytesBudget);
        }
        const s = loader.stats();
        if (policy !== "none") expect(s.hits).toBeGreaterThan(0);
        await loader.close();
      }
    }
  });

  it("serves hundreds of concurrent loads correctly", async () => {
    const file = path.join(dir, "c.img");
    const img = await writeTestImage(file, { layers: 4, neurons: 300, bundleBytes: 512, shuffle: true, seed: 3 });
    const loader = await openParsedImage(img.info, { device: small, cacheBytes: 4 * 50 * 512, policy: "lru", queueDepth: 2 });
    const rand = rng(11);
    const asks = Array.from({ length: 400 }, () => ({ layer: Math.floor(rand() * 4), ids: randomIds(rand, 300, 1 + Math.floor(rand() * 80)) }));
    const results = await Promise.all(asks.map((a) => loader.load(a.layer, a.ids)));
    let bad = 0;
    results.forEach((b, k) => {
      const a = asks[k];
      for (let i = 0; i < a.ids.length; i++) if (!same(b.bundle(i), img.bytesOf(a.layer, a.ids[i]))) bad++;
    });
    expect(bad).toBe(0);
    expect(loader.stats().cachedBytes).toBeLessThanOrEqual(4 * 50 * 512);
    await loader.close();
  });

  it("keeps the cache within its byte budget, split evenly across layers", async () => {
    const file = path.join(dir, "b.img");
    const img = await writeTestImage(file, { layers: 2, neurons: 100, bundleBytes: 1000, seed: 5 });
    // 2 layers x 10 bundles + 999 bytes of slack per layer: still 10 bundles each.
    const loader = await openParsedImage(img.info, { device: small, cacheBytes: 2 * (10 * 1000 + 999), policy: "lru" });
    expect(loader.budgetBundles).toEqual([10, 10]);
    const rand = rng(9);
    for (let t = 0; t < 100; t++) {
      (await loader.load(t % 2, randomIds(rand, 100, 30))).release();
      if (loader.stats().cachedBundles > 20) expect.fail(`over budget after load ${t}`);
    }
    expect(loader.stats().cachedBundles).toBe(20);
    await loader.close();
  });

  it("rejects a layer that does not exist and ids out of range, with one clear error", async () => {
    const file = path.join(dir, "d.img");
    const img = await writeTestImage(file, { layers: 2, neurons: 50, bundleBytes: 256 });
    const loader = await openParsedImage(img.info, { device: ufs40 });
    await expect(loader.load(2, [1])).rejects.toThrow(/layer 2 does not exist \(image has layers 0\.\.1\)/);
    await expect(loader.load(0, [1, 50])).rejects.toThrow(/neuron id 50 is out of range \[0, 50\)/);
    await expect(loader.load(0, [-1])).rejects.toThrow(/out of range/);
    await expect(loader.load(0, [1.5])).rejects.toThrow(/out of range/);
    // the loader still works after a rejected call
    const b = await loader.load(1, [49, 0]);
    expect(b.bundle(0)).toEqual(img.bytesOf(1, 49));
    await loader.close();
  });

  it("refuses a truncated image before reading", async () => {
    const file = path.join(dir, "t.img");
    const img = await writeTestImage(file, { layers: 2, neurons: 50, bundleBytes: 256 });
    truncateSync(file, img.info.fileSize - 5000);
    await expect(openParsedImage({ ...img.info, fileSize: img.info.fileSize - 5000 }, { device: ufs40 })).rejects.toThrow(
      /layer 1 region .*\(truncated image\?\)/,
    );
    // if the file shrinks after parsing, reads fail cleanly instead of returning zeros
    const loader = await openParsedImage(img.info, { device: ufs40 });
    await expect(loader.load(1, [49])).rejects.toThrow(/truncated|leaves its region/);
    await loader.close();
  });

  it("with verify, refuses a bundle whose chunk is corrupt instead of returning it", async () => {
    const file = path.join(dir, "v.img");
    const img = await writeTestImage(file, { layers: 1, neurons: 200, bundleBytes: 1024, seed: 9, shuffle: true });
    const l0 = img.info.layers[0];
    const victim = l0.idAt[100]; // slot 100: byte 102400 of the region, in chunk 1 (64 KiB chunks)
    const bytes = readFileSync(file);
    bytes[l0.regionOffset + 100 * 1024 + 7] ^= 0x10;
    writeFileSync(file, bytes);
    const checked = await openImage(file, { device: ufs40, verify: true });
    await expect(checked.load(0, [victim])).rejects.toThrow(/layer 0 region chunk 1 is corrupt/);
    // bundles in intact chunks still load, exactly
    const ok = await checked.load(0, [l0.idAt[3], l0.idAt[10]]);
    expect(same(ok.bundle(0), img.bytesOf(0, l0.idAt[3]))).toBe(true);
    await checked.close();
    // without verify the runtime path trusts the image (colink verify checks it all)
    const trusting = await openImage(file, { device: ufs40 });
    const b = await trusting.load(0, [victim]);
    expect(same(b.bundle(0), img.bytesOf(0, victim))).toBe(false);
    await trusting.close();
  });

  it("after a failed read, never serves the bundles that read should have brought", async () => {
    const file = path.join(dir, "f.img");
    const img = await writeTestImage(file, { layers: 1, neurons: 64, bundleBytes: 1024, seed: 8 });
    // The file loses its last 8 bundles after the index was parsed.
    truncateSync(file, img.info.layers[0].regionOffset + 56 * 1024);
    const dev: DeviceProfile = { ...small, latencyUs: 0, maxRequestBytes: 4096 };
    const loader = await openParsedImage(img.info, { device: dev, cacheBytes: 64 * 1024, policy: "lru" });
    await expect(loader.load(0, [1, 60])).rejects.toThrow(/leaves its region|truncated/);
    // 60 was admitted to the cache by the failed step; it must not come back as a hit.
    await expect(loader.load(0, [60])).rejects.toThrow(/leaves its region|truncated/);
    const b = await loader.load(0, [1, 2]);
    expect(same(b.bundle(0), img.bytesOf(0, 1)) && same(b.bundle(1), img.bytesOf(0, 2))).toBe(true);
    await loader.close();
  });
});

describe("read plan through the loader", () => {
  it("matches a hand computation and issues exactly the planned reads", async () => {
    const file = path.join(dir, "h.img");
    const img = await writeTestImage(file, { layers: 1, neurons: 16, bundleBytes: 1000 });
    // latency 2.5 us at 1 GB/s: reading a gap of g bundles costs g us, so gaps of <= 2
    // bundles are read through; at most 4 bundles (4096 bytes) per request.
    const device: DeviceProfile = { ...ufs40, latencyUs: 2.5, bandwidthBytesPerSec: 1e9, maxRequestBytes: 4096, queueDepth: 2 };
    const loader = await openParsedImage(img.info, { device, cacheBytes: 0, policy: "none" });
    const ids = [9, 0, 1, 3, 9, 8, 15];
    const b = await loader.load(0, ids);
    // slots 0,1,3,8,9,15 → [0,4) (slot 2 read through; 4 slots = the maximum), [8,10), [15,16)
    expect(b.plan).toEqual({ unique: 6, hits: 0, misses: 6, reads: 3, bytes: 7000, gapBundles: 1, ioUs: 3 * 2.5 + 7 });
    expect(Array.from(b.index)).toEqual([0, 1, 2, 3, 0, 4, 5]);
    const s = loader.stats();
    expect([s.ioRequests, s.ioBytes]).toEqual([3, 7000]);
    for (let i = 0; i < ids.length; i++) expect(same(b.bundle(i), img.bytesOf(0, ids[i]))).toBe(true);
    await loader.close();
  });
});
