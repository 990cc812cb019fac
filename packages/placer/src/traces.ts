/**
 * Reading traces for placement: checks that every file has the same shape and
 * gathers one split of each layer into CSR arrays (one buffer pair per layer, so a
 * layer can be handed to a worker thread on its own).
 */
import * as path from "node:path";
import { bundleBytesOf, ColinkError, fail, modelSpecFromConfig, readJsonFile, type TraceChunk, TraceReader, type TraceMeta } from "@colink/core";
import type { LayerTokens } from "./cooccur.js";

export interface TraceSet {
  files: string[];
  meta: TraceMeta;
  layers: number;
  neurons: number;
}

/** Opens every file's metadata and checks they agree in shape. */
export async function openTraceSet(files: string[]): Promise<TraceSet> {
  if (files.length === 0) fail("BAD_ARGUMENT", "--traces: give at least one trace file");
  const seen = new Map<string, string>();
  for (const f of files) {
    const key = path.resolve(f);
    const before = seen.get(key);
    // the same tokens twice would double every count and weigh that file twice
    if (before !== undefined) fail("BAD_ARGUMENT", `--traces: ${f} is given twice (also as ${before}); give each trace once`);
    seen.set(key, f);
  }
  let first: TraceMeta | undefined;
  for (const f of files) {
    const r = await TraceReader.open(f);
    await r.close();
    if (!first) first = r.meta;
    else if (r.meta.layers !== first.layers || r.meta.neurons !== first.neurons)
      throw new ColinkError(
        "MISMATCH",
        `${f}: trace is ${r.meta.layers} layers x ${r.meta.neurons} neurons, but ${files[0]} is ${first.layers} x ${first.neurons}; traces must share one shape`,
        f,
      );
  }
  const meta = first as TraceMeta;
  return { files, meta, layers: meta.layers, neurons: meta.neurons };
}

/**
 * Bundle bytes to assume when none is given: what the trace records (synthetic
 * traces their shape's bundle, profiled ones the model's fp16 bundle), else 24 KiB,
 * Llama-2-7B's fp16 bundle (traces imported from .npy carry no model).
 */
export const DEFAULT_BUNDLE_BYTES = 3 * 4096 * 2;

export function bundleBytesFromMeta(meta: TraceMeta): { bytes: number; from: string } {
  const extra = (meta.extra ?? {}) as Record<string, unknown>;
  if (typeof extra.bundleBytes === "number" && extra.bundleBytes > 0) return { bytes: extra.bundleBytes, from: "trace" };
  return { bytes: DEFAULT_BUNDLE_BYTES, from: "default (Llama-2-7B fp16)" };
}

/** Bytes of a model directory's FFN neuron bundle in fp16 (core bundleBytesOf), from its config.json. */
export async function bundleBytesFromModel(dir: string): Promise<number> {
  const file = path.join(dir, "config.json");
  return bundleBytesOf(modelSpecFromConfig((await readJsonFile(file)) as Record<string, unknown>, file), "f16");
}

/**
 * Every layer's tokens of one split (0 = fit, 1 = held-out), in file order, files
 * concatenated. Two passes over the files: the first counts each layer's rows and
 * ids of the split, the second copies them into arrays of exactly that size, so
 * peak memory is the split's ids once (uint16 or uint32; a copy per chunk followed
 * by a concatenation held them twice, and the freed copies stayed in the process's
 * resident set).
 */
export async function readSplit(set: TraceSet, split: number): Promise<LayerTokens[]> {
  const { layers, neurons } = set;
  const rows = new Float64Array(layers);
  const total = new Float64Array(layers);
  await forEachChunk(set, (c) => {
    for (let t = 0; t < c.seq.length; t++)
      if (c.split[t] === split) {
        rows[c.layer]++;
        total[c.layer] += c.offsets[t + 1] - c.offsets[t];
      }
  });
  if (rows[0] === 0)
    fail("BAD_ARGUMENT", `${set.files.join(", ")}: no ${split === 0 ? "fit" : "held-out"} tokens (split ${split}) in the traces`);
  const out: LayerTokens[] = Array.from({ length: layers }, (_, l) => ({
    neurons,
    tokens: rows[l],
    offsets: new Int32Array(rows[l] + 1),
    ids: neurons <= 65536 ? new Uint16Array(total[l]) : new Uint32Array(total[l]),
  }));
  const row = new Float64Array(layers);
  await forEachChunk(set, (c) => {
    const d = out[c.layer];
    let r = row[c.layer];
    let at = d.offsets[r];
    for (let t = 0; t < c.seq.length; t++) {
      if (c.split[t] !== split) continue;
      const a = c.offsets[t];
      const b = c.offsets[t + 1];
      // a file that changed between the passes must not write out of bounds
      if (r >= d.tokens || at + (b - a) > d.ids.length) fail("BAD_FORMAT", `${set.files.join(", ")}: traces changed while being read`);
      d.ids.set(c.ids.subarray(a, b), at);
      at += b - a;
      d.offsets[++r] = at;
    }
    row[c.layer] = r;
  });
  for (let l = 0; l < layers; l++) if (row[l] !== rows[l]) fail("BAD_FORMAT", `${set.files.join(", ")}: traces changed while being read`);
  return out;
}

async function forEachChunk(set: TraceSet, visit: (c: TraceChunk) => void): Promise<void> {
  for (const file of set.files) {
    const reader = await TraceReader.open(file);
    try {
      for await (const c of reader.chunks()) visit(c);
    } finally {
      await reader.close();
    }
  }
}
