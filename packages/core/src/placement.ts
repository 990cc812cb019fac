/**
 * placement.json, the contract between the placer and the packer (and anything
 * else that wants to lay out neurons):
 *
 *   {"format": "colink.placement/1", "method": "...",
 *    "layers": [{"layer": 0, "order": [n0, n1, ...], "cache": {"pinned": [...], "lru": n, "gapfill": bool}}, ...]}
 *
 * `order` lists every neuron id of the layer exactly once, in physical (flash) order.
 * `cache` is optional. Extra fields are allowed and kept; colink writes `params`,
 * `trace` (digest and shape of the traces it was fitted on), `fit` (cost on the fit
 * tokens) at the top level and `freq` (activation count per neuron id on the fit
 * tokens, used by the loader's `pin` policy) per layer.
 */
import { budgetForFraction, type CacheSpec, validateCacheSpec } from "./cache.js";
import { ColinkError, fail } from "./errors.js";
import { readJsonFile, writeFileAtomic } from "./fsutil.js";

export const PLACEMENT_FORMAT = "colink.placement/1";

export interface PlacementLayer {
  layer: number;
  order: number[];
  cache?: CacheSpec;
  /** Activation counts per neuron id on the fit tokens (optional). */
  freq?: number[];
  [extra: string]: unknown;
}

export interface Placement {
  format: typeof PLACEMENT_FORMAT;
  method: string;
  layers: PlacementLayer[];
  [extra: string]: unknown;
}

function isIntArray(x: unknown): x is number[] {
  return Array.isArray(x) && x.every((v) => Number.isInteger(v));
}

/**
 * Validates a parsed placement. `file` names it in errors; `expect` (optional) is the
 * model's shape, checked when given. `cacheBudget` (bundles per layer) is checked when
 * given; otherwise a placement that records its own `params.cacheFraction` F (colink
 * does) is held to floor(F x N), so every reader refuses a cache over its own budget.
 */
export function validatePlacement(
  value: unknown,
  file: string,
  expect?: { layers: number; neurons: number },
  cacheBudget?: number,
): Placement {
  const bad = (msg: string): never => fail("BAD_FORMAT", `${file}: ${msg}`, file);
  if (typeof value !== "object" || value === null || Array.isArray(value)) bad("expected a JSON object");
  const p = value as Record<string, unknown>;
  if (p.format !== PLACEMENT_FORMAT)
    bad(`field "format" must be "${PLACEMENT_FORMAT}", got ${JSON.stringify(p.format)}`);
  if (typeof p.method !== "string") bad(`field "method" must be a string`);
  if (!Array.isArray(p.layers) || p.layers.length === 0) bad(`field "layers" must be a non-empty array`);
  const layers = p.layers as unknown[];
  const params = p.params as Record<string, unknown> | undefined;
  const ownFraction = typeof params === "object" && params !== null && typeof params.cacheFraction === "number" ? params.cacheFraction : undefined;
  if (expect && layers.length !== expect.layers)
    throw new ColinkError("MISMATCH", `${file}: has ${layers.length} layers, the model has ${expect.layers}`, file);
  layers.forEach((l, i) => {
    const where = `layers[${i}]`;
    if (typeof l !== "object" || l === null) bad(`${where} must be an object`);
    const layer = l as Record<string, unknown>;
    if (layer.layer !== i) bad(`${where}.layer must be ${i} (layers in order), got ${JSON.stringify(layer.layer)}`);
    if (!isIntArray(layer.order)) bad(`${where}.order must be an array of integer neuron ids`);
    const order = layer.order as number[];
    const n = order.length;
    if (expect && n !== expect.neurons)
      throw new ColinkError("MISMATCH", `${file}: ${where}.order has ${n} ids, the model has ${expect.neurons} neurons per layer`, file);
    const seen = new Uint8Array(n);
    for (const id of order) {
      if (id < 0 || id >= n) bad(`${where}.order is not a permutation: id ${id} is out of range [0, ${n})`);
      if (seen[id]) bad(`${where}.order is not a permutation: id ${id} appears twice`);
      seen[id] = 1;
    }
    if (layer.cache !== undefined) {
      const c = layer.cache as Record<string, unknown>;
      if (typeof c !== "object" || c === null || !isIntArray(c.pinned) || typeof c.gapfill !== "boolean")
        bad(`${where}.cache must be {"pinned": [ids], "lru": n, "gapfill": bool}`);
      try {
        const budget = cacheBudget ?? (ownFraction !== undefined ? budgetForFraction(ownFraction, n) : undefined);
        const of = cacheBudget === undefined && ownFraction !== undefined ? ` (params.cacheFraction ${ownFraction})` : "";
        validateCacheSpec(c as unknown as CacheSpec, n, `${file}: ${where}.cache${of}`, budget);
      } catch (e) {
        if (e instanceof ColinkError) throw new ColinkError(e.code, e.message, file);
        throw e;
      }
    }
    if (layer.freq !== undefined && (!isIntArray(layer.freq) || (layer.freq as number[]).length !== n || (layer.freq as number[]).some((f) => f < 0)))
      bad(`${where}.freq must be an array of ${n} integer counts >= 0`);
  });
  return value as Placement;
}

export async function readPlacement(
  file: string,
  expect?: { layers: number; neurons: number },
  cacheBudget?: number,
): Promise<Placement> {
  return validatePlacement(await readJsonFile(file), file, expect, cacheBudget);
}

/**
 * Writes a placement atomically. Each layer's `order` goes on one line so the file
 * stays diffable and small enough to read; output is deterministic for equal input.
 */
export async function writePlacement(file: string, placement: Placement): Promise<void> {
  const { layers, ...top } = placement;
  const lines = layers.map((l) => `    ${JSON.stringify(l)}`);
  const head = JSON.stringify(top, null, 2).replace(/\n}$/, "");
  const text = `${head},\n  "layers": [\n${lines.join(",\n")}\n  ]\n}\n`;
  JSON.parse(text); // guard: what we write must parse
  await writeFileAtomic(file, text);
}

export function identityOrder(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

