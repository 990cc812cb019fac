/**
 * `colink read`: the bundles of some neurons of one layer as a float32 .npy of shape
 * [k, p, d]: k neurons in the order asked, p projections in bundle order (gate, up,
 * down for Llama; fc1, fc2 for OPT; biases left out), d values each, dequantised
 * where stored quantised. Goes through the Loader API like any runtime caller.
 */
import { DEVICE_PROFILES, fail, writeNpyF32 } from "@colink/core";
import { decodePart } from "./decode.js";
import { openImage } from "./loader.js";

export interface ReadOptions {
  image: string;
  layer: number;
  neurons: number[];
  out: string;
}

export interface ReadResult {
  image: string;
  layer: number;
  neurons: number;
  projections: string[];
  hidden: number;
  out: string;
  shape: number[];
}

/** Parses "3,17,5" (also "3 17 5") into ids; rejects anything but integers >= 0. */
export function parseNeuronList(text: string): number[] {
  const parts = text.split(/[\s,]+/).filter((s) => s.length > 0);
  if (parts.length === 0) fail("BAD_ARGUMENT", "--neurons: expected a comma-separated list of neuron ids, got nothing");
  return parts.map((p) => {
    if (!/^\d+$/.test(p)) fail("BAD_ARGUMENT", `--neurons: "${p}" is not a neuron id (expected an integer >= 0)`);
    return Number(p);
  });
}

export async function readNeurons(opts: ReadOptions): Promise<ReadResult> {
  // Reads here are few: no cache, the default device only shapes request sizes, and
  // every chunk read is checked so corrupt weights are never written out.
  const loader = await openImage(opts.image, { device: DEVICE_PROFILES.ufs40, cacheBytes: 0, policy: "none", verify: true });
  try {
    const bundles = await loader.load(opts.layer, opts.neurons);
    const layer = loader.info.layers[opts.layer];
    const parts = layer.parts.filter((p) => p.elements > 1);
    const d = parts[0]?.elements ?? 0;
    for (const p of parts)
      if (p.elements !== d) fail("UNSUPPORTED", `${opts.image}: layer ${opts.layer} parts differ in length (${p.name}: ${p.elements}, expected ${d})`);
    const k = opts.neurons.length;
    const out = new Float32Array(k * parts.length * d);
    for (let i = 0; i < k; i++) {
      const bundle = bundles.bundle(i);
      parts.forEach((p, j) => {
        decodePart(p.dtype, bundle.subarray(p.offset, p.offset + p.bytes), d, out.subarray((i * parts.length + j) * d, (i * parts.length + j + 1) * d));
      });
    }
    bundles.release();
    const shape = [k, parts.length, d];
    await writeNpyF32(opts.out, shape, out);
    return { image: opts.image, layer: opts.layer, neurons: k, projections: parts.map((p) => p.name), hidden: d, out: opts.out, shape };
  } finally {
    await loader.close();
  }
}
