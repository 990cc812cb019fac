/**
 * `colink pack`, `inspect`, `verify` end to end, and the round trip through the
 * loader's `colink read`: every neuron of the bundled model, every dtype, comes back
 * as the source rows (exactly, or within the documented quantisation error).
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import {
  Checkpoint,
  decodeToF32,
  encodeF32,
  parseNpyHeader,
  quantErrorBound,
  type StoredDtype,
  storedBytes,
} from "@colink/core";
import { readNeurons } from "@colink/loader";
import { writeSyntheticCheckpoint } from "@colink/packer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { colink, MODEL, tempDir } from "./helpers.js";

const dir = tempDir("colink-packer-e2e-");
const DTYPES: StoredDtype[] = ["f32", "f16", "bf16", "q8_0", "q4_0"];
const LAYERS = 4;
const N = 768;
const D = 192;
const ALL = Array.from({ length: N }, (_, i) => i).join(",");
const img = (name: string) => path.join(dir, `${name}.colink`);

let ckpt: Checkpoint;

/** Reads an .npy written by `colink read` as float32 with its shape. */
function readNpy(file: string): { shape: number[]; data: Float32Array } {
  const bytes = readFileSync(file);
  const h = parseNpyHeader(bytes, file, bytes.length);
  expect(h.dtype).toBe("f4");
  return { shape: h.shape, data: new Float32Array(bytes.buffer.slice(bytes.byteOffset + h.dataOffset)) };
}

/** Neuron i's source row of a [N, d] matrix, or column of a [d, N] one. */
function slice(w: Float32Array, column: boolean, i: number, n: number, d: number): Float32Array {
  return column ? Float32Array.from({ length: d }, (_, r) => w[r * n + i]) : w.slice(i * d, (i + 1) * d);
}

beforeAll(async () => {
  ckpt = await Checkpoint.open(MODEL);
  // A seeded shuffle of every layer, so slot order != id order.
  let s = 99;
  const layers = Array.from({ length: LAYERS }, (_, layer) => {
    const order = Array.from({ length: N }, (_, i) => i);
    for (let i = N - 1; i > 0; i--) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      const j = s % (i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    return { layer, order, cache: { pinned: order.slice(0, 8), lru: 16, gapfill: false } };
  });
  writeFileSync(path.join(dir, "placement.json"), JSON.stringify({ format: "colink.placement/1", method: "shuffle", layers }));
  for (const dt of DTYPES) {
    const r = colink(["pack", "-q", "-m", MODEL, "-p", path.join(dir, "placement.json"), "-o", img(dt), "--dtype", dt]);
    expect(r.status, r.stderr).toBe(0);
  }
}, 120_000);

afterAll(async () => {
  await ckpt.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("colink read after colink pack (round trip)", () => {
  it("returns every neuron of every layer as the source rows, for every dtype", async () => {
    for (let l = 0; l < LAYERS; l++) {
      const w = await Promise.all(["gate", "up", "down"].map((p) => ckpt.readF32(`model.layers.${l}.mlp.${p}_proj.weight`)));
      for (const dt of DTYPES) {
        const out = path.join(dir, `rows-${dt}-${l}.npy`);
        // The CLI on the last layer; the same loader function in process for the others (a spawn costs ~0.5 s).
        if (l === LAYERS - 1) {
          const r = colink(["read", img(dt), "--layer", String(l), "--neurons", ALL, "--out", out]);
          expect(r.status, r.stderr).toBe(0);
        } else await readNeurons({ image: img(dt), layer: l, neurons: ALL.split(",").map(Number), out });
        const { shape, data } = readNpy(out);
        expect(shape).toEqual([N, 3, D]);
        let bad = 0;
        let worst = 0;
        const enc = new Uint8Array(storedBytes(dt, D));
        const want = new Float32Array(D);
        for (let i = 0; i < N; i++)
          for (let p = 0; p < 3; p++) {
            const src = slice(w[p], p === 2, i, N, D);
            const got = data.subarray((i * 3 + p) * D, (i * 3 + p + 1) * D);
            if (dt === "f32") {
              for (let k = 0; k < D; k++) if (!Object.is(got[k], src[k])) bad++;
            } else if (dt === "f16" || dt === "bf16") {
              // The source is f32: exact means the documented round-to-nearest-even conversion.
              encodeF32(src, dt, enc);
              decodeToF32(enc, 0, D, dt, want);
              for (let k = 0; k < D; k++) if (!Object.is(got[k], want[k])) bad++;
            } else {
              for (let b = 0; b < D; b += 32) {
                let amax = 0;
                for (let k = b; k < b + 32; k++) amax = Math.max(amax, Math.abs(src[k]));
                const bound = quantErrorBound(dt, amax);
                for (let k = b; k < b + 32; k++) {
                  const e = Math.abs(got[k] - src[k]);
                  if (!(e <= bound)) bad++;
                  worst = Math.max(worst, e / bound);
                }
              }
            }
          }
        expect(bad, `layer ${l} ${dt}: ${bad} values off`).toBe(0);
        if (dt === "q8_0" || dt === "q4_0") expect(worst).toBeGreaterThan(0.2);
      }
    }
  }, 120_000);

  it("keeps an f16 OPT checkpoint bit-exact (fc1 row, fc2 column; bias left out by read)", async () => {
    const model = path.join(dir, "opt-f16");
    await writeSyntheticCheckpoint(model, { family: "opt", hidden: 64, ffn: 96, layers: 2, dtype: "F16", seed: 9 });
    const r = colink(["pack", "-q", "-m", model, "-o", img("opt")]);
    expect(r.status, r.stderr).toBe(0);
    const opt = await Checkpoint.open(model);
    try {
      for (let l = 0; l < 2; l++) {
        const out = path.join(dir, `opt-${l}.npy`);
        const rr = colink(["read", img("opt"), "--layer", String(l), "--neurons", Array.from({ length: 96 }, (_, i) => 95 - i).join(","), "--out", out]);
        expect(rr.status, rr.stderr).toBe(0);
        const { shape, data } = readNpy(out);
        expect(shape).toEqual([96, 2, 64]);
        const fc1 = await opt.readF32(`model.decoder.layers.${l}.fc1.weight`);
        const fc2 = await opt.readF32(`model.decoder.layers.${l}.fc2.weight`);
        let bad = 0;
        for (let k = 0; k < 96; k++) {
          const id = 95 - k;
          const a = slice(fc1, false, id, 96, 64);
          const b = slice(fc2, true, id, 96, 64);
          for (let j = 0; j < 64; j++) {
            if (!Object.is(data[(k * 2) * 64 + j], a[j])) bad++;
            if (!Object.is(data[(k * 2 + 1) * 64 + j], b[j])) bad++;
          }
        }
        expect(bad).toBe(0);
      }
    } finally {
      await opt.close();
    }
  }, 30_000);
});

describe("colink pack / inspect / verify", () => {
  it("packs byte-identical images for the same inputs", () => {
    const again = path.join(dir, "again.colink");
    const r = colink(["pack", "-q", "-m", MODEL, "-p", path.join(dir, "placement.json"), "-o", again, "--dtype", "q4_0"]);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(again).equals(readFileSync(img("q4_0")))).toBe(true);
  }, 30_000);

  it("inspect --json reports the index; verify says OK", () => {
    const r = colink(["inspect", img("q8_0"), "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.superblock.formatVersion).toBe(1);
    expect(j.bundleDtype).toBe("q8_0");
    expect(j.placementMethod).toBe("shuffle");
    expect(j.layers).toHaveLength(LAYERS);
    expect(j.layers[0]).toMatchObject({ neurons: N, bundleBytes: 3 * 6 * 34, parts: "gate:q8_0 up:q8_0 down:q8_0", identity: false });
    expect(j.layers[0].cache).toEqual({ pinned: 8, lru: 16, gapfill: false });
    const text = colink(["inspect", img("f16")]);
    expect(text.stdout).toMatch(/placement\s+shuffle/);
    const v = colink(["verify", img("f16")]);
    expect(v.status, v.stderr).toBe(0);
    expect(v.stdout).toMatch(/OK/);
  }, 30_000);

  it("corruption: verify and read (open) fail with one clear line; verify names a bad bundle chunk", () => {
    const good = readFileSync(img("f16"));
    const info = JSON.parse(colink(["inspect", img("f16"), "--json"]).stdout);
    const variants: [string, (b: Buffer) => Buffer, RegExp][] = [
      [
        "index",
        (b) => {
          b[info.superblock.indexOffset + 10] ^= 0x01;
          return b;
        },
        /index is corrupt: CRC32C/,
      ],
      [
        "version",
        (b) => {
          b.writeUInt32LE(7, 8);
          return b;
        },
        /unsupported colink image format version 7/,
      ],
      ["truncated", (b) => b.subarray(0, b.length - 4096), /truncated/],
      [
        "magic",
        (b) => {
          b.write("GGUF", 0);
          return b;
        },
        /not a colink image/,
      ],
    ];
    for (const [name, edit, re] of variants) {
      const f = path.join(dir, `bad-${name}.colink`);
      writeFileSync(f, edit(Buffer.from(good)));
      const read = ["read", f, "--layer", "0", "--neurons", "1", "--out", path.join(dir, "x.npy")];
      for (const args of name === "index" || name === "version" ? [["verify", f], read] : [["verify", f]]) {
        const r = colink(args);
        expect(r.status, `${name} ${args[0]}`).toBe(1);
        const lines = r.stderr.trim().split("\n");
        expect(lines, `${name} ${args[0]}: ${r.stderr}`).toHaveLength(1);
        expect(lines[0]).toMatch(re);
      }
    }
    // A flipped bit inside a bundle: the index still opens, verify names the region and its slots.
    const f = path.join(dir, "bad-bundle.colink");
    const b = Buffer.from(good);
    const l2 = info.layers[2];
    b[l2.regionOffset + 70_000] ^= 0x04;
    writeFileSync(f, b);
    const r = colink(["verify", f]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toMatch(/^colink: .*layer 2 region chunk 1 is corrupt \(bytes \[\d+, \d+\), slots \d+-\d+\)/);
    // read checks the chunks it touches: it refuses rather than return the flipped weights
    const out = path.join(dir, "never.npy");
    const rr = colink(["read", f, "--layer", "2", "--neurons", ALL, "--out", out]);
    expect(rr.status).toBe(1);
    expect(rr.stderr.trim().split("\n")).toHaveLength(1);
    expect(rr.stderr).toMatch(/layer 2 region chunk 1 is corrupt/);
    expect(existsSync(out)).toBe(false);
  }, 60_000);

  it("pack refuses bad input with one line and leaves no file", () => {
    const out = path.join(dir, "never.colink");
    const r = colink(["pack", "-m", MODEL, "-o", out, "-p", path.join(dir, "nope.json")]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/nope\.json: no such file/);
    const bad = colink(["pack", "-m", MODEL, "-o", out, "--dtype", "q3"]);
    expect(bad.status).toBe(1);
    const noTok = colink(["pack", "-m", MODEL, "-o", out, "--tokenizer", path.join(dir, "nope-tokenizer.json")]);
    expect(noTok.status).toBe(1);
    expect(noTok.stderr).toMatch(/nope-tokenizer\.json: no such file/);
    // a cache over the budget its own params.cacheFraction gives: floor(0.01 x 768) = 7 bundles
    const order = Array.from({ length: N }, (_, i) => i);
    const over = path.join(dir, "over.json");
    const layers = Array.from({ length: LAYERS }, (_, layer) => ({ layer, order, cache: { pinned: [1, 2, 3], lru: 5, gapfill: false } }));
    writeFileSync(over, JSON.stringify({ format: "colink.placement/1", method: "x", params: { cacheFraction: 0.01 }, layers }));
    const big = colink(["pack", "-m", MODEL, "-o", out, "-p", over]);
    expect(big.status).toBe(1);
    expect(big.stderr.trim().split("\n")).toEqual([
      `colink: ${over}: layers[0].cache (params.cacheFraction 0.01): cache holds 3 pinned + 5 lru = 8 bundles, over the budget of 7`,
    ]);
    expect(() => readFileSync(out)).toThrow();
  }, 30_000);

  it("--tokenizer records the digest of the tokenizer the model is used with", () => {
    const tok = path.join(dir, "tok.json");
    writeFileSync(tok, '{"model": {"type": "WordLevel"}}');
    const out = path.join(dir, "tok.colink");
    expect(colink(["pack", "-q", "-m", MODEL, "-o", out, "--tokenizer", tok]).status).toBe(0);
    const digest = createHash("sha256").update(readFileSync(tok)).digest("hex");
    expect(JSON.parse(colink(["inspect", out, "--json"]).stdout).tokenizer).toBe(`tokenizer.json sha256:${digest}`);
    // without it, the checkpoint's own reference (the bundled model's config note: bytes)
    expect(JSON.parse(colink(["inspect", img("f16"), "--json"]).stdout).tokenizer).toMatch(/^bytes/);
  }, 30_000);
});
