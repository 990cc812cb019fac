/**
 * The loader on real images packed by the real `colink pack` from the bundled model:
 * exact weights for every dtype, `colink read`, replay vs the cost model, bad input.
 */
import { copyFileSync, existsSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import {
  Checkpoint,
  cacheSize,
  cacheSpecForPolicy,
  crc32c,
  DEVICE_PROFILES,
  decodeToF32,
  encodeF32,
  NO_CACHE,
  parseNpyHeader,
  readImageInfo,
  simulateTraceFiles,
  type StoredDtype,
  storedBytes,
  TraceWriter,
  xorshift32 as rand,
} from "@colink/core";
import { openImage, replay } from "@colink/loader";
import { beforeAll, describe, expect, it } from "vitest";
import { colink, MODEL, tempDir } from "./helpers.js";

const dir = tempDir("colink-loader-e2e-");
const DTYPES: StoredDtype[] = ["f32", "f16", "bf16", "q8_0", "q4_0"];
const LAYERS = 4;
const N = 768;
const D = 192;

const img = (name: string) => path.join(dir, `${name}.colink`);
let ckpt: Checkpoint;
/** Source weights of layer l: gate/up rows and down columns of neuron i, as float32. */
const source = new Map<string, Float32Array>();

async function src(l: number, part: string): Promise<Float32Array> {
  const key = `${l}.${part}`;
  if (!source.has(key)) source.set(key, await ckpt.readF32(`model.layers.${l}.mlp.${part}_proj.weight`));
  return source.get(key)!;
}

/** What a stored value of neuron i's part must decode to: the source encoded to dtype, then decoded. */
async function expected(l: number, part: string, i: number, dtype: StoredDtype): Promise<Float32Array> {
  const w = await src(l, part);
  const v = part === "down" ? Float32Array.from({ length: D }, (_, r) => w[r * N + i]) : w.slice(i * D, (i + 1) * D);
  const bytes = new Uint8Array(storedBytes(dtype, D));
  encodeF32(v, dtype, bytes, 0);
  const out = new Float32Array(D);
  decodeToF32(bytes, 0, D, dtype, out, 0);
  return out;
}

function sameF32(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

beforeAll(async () => {
  ckpt = await Checkpoint.open(MODEL);
  // A placement: a seeded shuffle of every layer, with a declared cache.
  const r = rand(42);
  const layers = Array.from({ length: LAYERS }, (_, layer) => {
    const order = Array.from({ length: N }, (_, i) => i);
    for (let i = N - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    return { layer, order, cache: { pinned: order.slice(0, 20), lru: 40, gapfill: true } };
  });
  writeFileSync(path.join(dir, "placement.json"), JSON.stringify({ format: "colink.placement/1", method: "test-shuffle", layers }));
  for (const dt of DTYPES) {
    const res = colink(["pack", "-m", MODEL, "-o", img(dt), "--dtype", dt, "-q"]);
    expect(res.status, res.stderr).toBe(0);
  }
  const res = colink(["pack", "-m", MODEL, "-o", img("placed"), "--dtype", "f16", "-p", path.join(dir, "placement.json"), "-q"]);
  expect(res.status, res.stderr).toBe(0);
}, 120_000);

describe("Loader on packed images", () => {
  it("load() returns the source weights for random id sets on every dtype", async () => {
    const r = rand(7);
    for (const dt of [...DTYPES, "placed"]) {
      const dtype: StoredDtype = dt === "placed" ? "f16" : (dt as StoredDtype);
      const loader = await openImage(img(dt), { device: DEVICE_PROFILES.ufs40, cacheBytes: 256 * 1024 });
      let bad = 0;
      let checked = 0;
      for (let t = 0; t < 12; t++) {
        const l = t % LAYERS;
        const ids = Array.from({ length: 1 + Math.floor(r() * 40) }, () => Math.floor(r() * N));
        const b = await loader.load(l, ids);
        const out = new Float32Array(D);
        for (let k = 0; k < ids.length; k++) {
          for (const part of ["gate", "up", "down"]) {
            const info = loader.info.layers[l].parts.find((p) => p.name === part)!;
            decodeToF32(b.part(k, part), 0, D, info.dtype, out, 0);
            if (!sameF32(out, await expected(l, part, ids[k], dtype))) bad++;
            checked++;
          }
        }
        b.release();
      }
      expect(bad, `${dt}: ${bad} of ${checked} parts differ`).toBe(0);
      // typed views: the element type of the stored dtype, no copy when aligned
      const b = await loader.load(1, [5]);
      const v = b.typed(0, "up");
      expect(v).toBeInstanceOf(dtype === "f32" ? Float32Array : dtype === "f16" || dtype === "bf16" ? Uint16Array : Uint8Array);
      if (dtype === "f32") expect(v.buffer).toBe(b.data.buffer);
      b.release();
      await loader.close();
    }
  }, 60_000);

  it("colink read writes [k, p, d] float32 in the order asked", () => {
    const out = path.join(dir, "rows.npy");
    const res = colink(["read", img("bf16"), "--layer", "2", "--neurons", "700,3,3,17", "--out", out]);
    expect(res.status, res.stderr).toBe(0);
    const bytes = readFileSync(out);
    const h = parseNpyHeader(bytes, out, bytes.length);
    expect(h.dtype).toBe("f4");
    expect(h.shape).toEqual([4, 3, D]);
    const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset + h.dataOffset));
    return (async () => {
      let bad = 0;
      for (const [k, id] of [700, 3, 3, 17].entries())
        for (const [p, part] of ["gate", "up", "down"].entries())
          if (!sameF32(data.subarray((k * 3 + p) * D, (k * 3 + p + 1) * D), await expected(2, part, id, "bf16"))) bad++;
      expect(bad).toBe(0);
    })();
  });

  it("replay with the declared cache gives the cost model's reads per token (core simulate)", async () => {
    const traces = path.join(dir, "t.arrow");
    const r = rand(3);
    const tokens = 64;
    const w = await TraceWriter.create(traces, {
      schemaVersion: 1,
      modelId: (await readImageInfo(img("placed"))).modelId,
      configDigest: "",
      layers: LAYERS,
      neurons: N,
      activation: { rule: "synthetic" },
      corpusDigest: "",
      seqLen: 16,
      sequences: tokens / 16,
      tokens,
      holdout: 0.5,
      seed: 1,
      source: "synth",
    });
    for (let c = 0; c < 2; c++) {
      const rows = tokens / 2;
      for (let l = 0; l < LAYERS; l++) {
        const offsets = new Int32Array(rows + 1);
        const ids: number[] = [];
        for (let t = 0; t < rows; t++) {
          const set = new Set<number>();
          const k = 20 + Math.floor(r() * 60);
          while (set.size < k) set.add(Math.floor(r() * r() * N));
          ids.push(...[...set].sort((a, b) => a - b));
          offsets[t + 1] = ids.length;
        }
        w.write({
          layer: l,
          seq: Uint32Array.from({ length: rows }, (_, t) => c * 2 + Math.floor(t / 16)),
          pos: Uint32Array.from({ length: rows }, (_, t) => t % 16),
          split: Uint8Array.from({ length: rows }, (_, t) => (Math.floor(t / 16) + c) % 2),
          offsets,
          ids: Uint16Array.from(ids),
        });
      }
    }
    await w.close();
    const cacheBytes = LAYERS * 60 * 1152;
    const got = await replay({ images: [img("placed")], traces, device: "ufs40", cacheBytes, policy: "declared" });
    const info = await readImageInfo(img("placed"));
    const sim = await simulateTraceFiles(
      [traces],
      info.layers.map((l) => ({ order: l.idAt, cache: cacheSpecForPolicy("declared", 60, { neurons: N, declared: l.cache }) })),
      DEVICE_PROFILES.ufs40,
      info.layers[0].bundleBytes,
      1,
    );
    expect(got.images[0].tokens).toBe(sim.tokens);
    expect(got.images[0].tokens).toBe(32);
    expect(got.reads_per_token).toEqual(sim.reads_per_token);
    expect(got.bytes_per_token).toEqual(sim.bytes_per_token);
    expect(got.io_ms_per_token).toEqual(sim.io_ms_per_token);
    expect(got.hit_rate).toEqual(sim.hit_rate);
    expect(got.hit_rate.mean).toBeGreaterThan(0);

    // The CLI, two images side by side; traces without a model id are checked by shape only.
    const res = colink(["replay", "--image", img("f16"), "--image", img("placed"), "--traces", traces, "--cache-mib", "0.25", "--json"]);
    expect(res.status, res.stderr).toBe(0);
    const j = JSON.parse(res.stdout);
    expect(j.images).toHaveLength(2);
    for (const k of ["reads_per_token", "bytes_per_token", "io_ms_per_token", "hit_rate", "wall_ms_per_token"]) {
      expect(j.images[1][k].mean).toBeGreaterThanOrEqual(0);
      expect(typeof j.ratios[k]).toBe("number");
    }
    expect(j.checked).toBe("model");
    // Without --cache-mib the loader serves what the image declares: each layer's
    // declared cache exactly, as the cost model replays it
    const declared = colink(["replay", "--image", img("placed"), "--traces", traces, "--json"]);
    expect(declared.status, declared.stderr).toBe(0);
    const dj = JSON.parse(declared.stdout);
    const size = Math.max(...info.layers.map((l) => (l.cache ? cacheSize(l.cache) : 0)));
    expect(size).toBeGreaterThan(0);
    expect(dj.cache_bytes).toBe(LAYERS * size * info.layers[0].bundleBytes);
    const simDeclared = await simulateTraceFiles(
      [traces],
      info.layers.map((l) => ({ order: l.idAt, cache: l.cache ?? NO_CACHE })),
      DEVICE_PROFILES.ufs40,
      info.layers[0].bundleBytes,
      1,
    );
    expect(dj.images[0].reads_per_token).toEqual(simDeclared.reads_per_token);
    expect(dj.images[0].hit_rate).toEqual(simDeclared.hit_rate);
    const text = colink(["replay", "--image", img("f16"), "--traces", traces]);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/requests/);

    // A probed profile is accepted by --device.
    const prof = path.join(dir, "probed.json");
    const probe = colink(["device", "probe", img("f32"), "--seconds", "0.01", "--out", prof, "-q"]);
    expect(probe.status, probe.stderr).toBe(0);
    const withProfile = colink(["replay", "--image", img("placed"), "--traces", traces, "--device", prof, "--json", "--max-tokens", "5"]);
    expect(withProfile.status, withProfile.stderr).toBe(0);
    expect(JSON.parse(withProfile.stdout).images[0].tokens).toBe(5);
  }, 60_000);

  it("replay of a trace without a model id checks the shape only, and says so", async () => {
    const traces = path.join(dir, "anon.arrow");
    const meta = {
      schemaVersion: 1,
      modelId: "",
      configDigest: "",
      layers: LAYERS,
      neurons: N,
      activation: { rule: "imported" },
      corpusDigest: "",
      seqLen: 2,
      sequences: 2,
      tokens: 4,
      holdout: 0.5,
      seed: 0,
      source: "import",
    };
    const w = await TraceWriter.create(traces, meta);
    for (let l = 0; l < LAYERS; l++)
      w.write({
        layer: l,
        seq: Uint32Array.of(0, 0, 1, 1),
        pos: Uint32Array.of(0, 1, 0, 1),
        split: Uint8Array.of(0, 0, 1, 1),
        offsets: Int32Array.of(0, 2, 3, 5, 6),
        ids: Uint16Array.of(1, 5, 7, 2, 767, 0),
      });
    await w.close();
    const res = colink(["replay", "--image", img("f16"), "--traces", traces, "--json"]);
    expect(res.status, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/no model id .* only layer count and neurons per layer were checked/);
    const j = JSON.parse(res.stdout);
    expect(j.checked).toBe("shape");
    expect(j.images[0].tokens).toBe(2);
    expect(j.reads_per_token.mean).toBeGreaterThan(0);

    const wrong = path.join(dir, "wrong.arrow");
    const w2 = await TraceWriter.create(wrong, { ...meta, neurons: 100 });
    w2.write({ layer: 0, seq: Uint32Array.of(0), pos: Uint32Array.of(0), split: Uint8Array.of(1), offsets: Int32Array.of(0, 1), ids: Uint16Array.of(3) });
    await w2.close();
    const bad = colink(["replay", "--image", img("f16"), "--traces", wrong]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/trace is 4 layers x 100 neurons, image .* has 4 layers x 768 neurons/);
  }, 60_000);

  it("bad input gives one clear error and no output", () => {
    const out = path.join(dir, "bad.npy");
    const cases: [string[], RegExp][] = [
      [["read", img("f16"), "--layer", "4", "--neurons", "1", "--out", out], /layer 4 does not exist/],
      [["read", img("f16"), "--layer", "0", "--neurons", "1,768", "--out", out], /neuron id 768 is out of range \[0, 768\)/],
      [["read", img("f16"), "--layer", "0", "--neurons", "1,x", "--out", out], /"x" is not a neuron id/],
      [["read", path.join(dir, "missing.colink"), "--layer", "0", "--neurons", "1", "--out", out], /no such file/],
    ];
    const trunc = path.join(dir, "trunc.colink");
    copyFileSync(img("f16"), trunc);
    truncateSync(trunc, 3_000_000);
    cases.push([["read", trunc, "--layer", "0", "--neurons", "1", "--out", out], /trunc\.colink: .*(truncated|file size|bytes)/i]);
    const ver = path.join(dir, "ver.colink");
    const bytes = readFileSync(img("f16"));
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    dv.setUint32(8, 2, true);
    dv.setUint32(60, crc32c(bytes.subarray(0, 60)), true);
    writeFileSync(ver, bytes);
    cases.push([["read", ver, "--layer", "0", "--neurons", "1", "--out", out], /version 2/]);
    for (const [args, re] of cases) {
      const res = colink(args);
      expect(res.status, `${args.join(" ")}: ${res.stderr}`).toBe(1);
      expect(res.stderr.trim().split("\n")).toHaveLength(1);
      expect(res.stderr).toMatch(re);
      expect(existsSync(out)).toBe(false);
    }
  }, 60_000);
});
