/**
 * Activation rules: which FFN neurons count as active for a token, from the layer's
 * activation values v (act(gate)·up for Llama, relu(fc1) for OPT).
 * - nonzero: v != 0 (exact for ReLU models);
 * - threshold: |v| > tau, one tau for every layer;
 * - target-sparsity: per-layer tau chosen on the first batch of the corpus so that
 *   a `target` fraction of (token, neuron) pairs is active, then held fixed.
 */
import { fail } from "@colink/core";

export type RuleName = "nonzero" | "threshold" | "target-sparsity";
export const RULES: readonly RuleName[] = ["nonzero", "threshold", "target-sparsity"];

export interface RuleOptions {
  rule: RuleName;
  /** threshold: |v| > tau. */
  tau?: number;
  /** target-sparsity: fraction of neurons active, in (0, 1]. */
  target?: number;
}

export function checkRule(o: RuleOptions): void {
  if (!RULES.includes(o.rule)) fail("BAD_ARGUMENT", `--activation must be one of ${RULES.join(", ")}, got "${o.rule}"`);
  if (o.rule === "threshold" && !(typeof o.tau === "number" && o.tau >= 0))
    fail("BAD_ARGUMENT", "--activation threshold needs --tau, a number >= 0");
  if (o.rule === "target-sparsity" && !(typeof o.target === "number" && o.target > 0 && o.target <= 1))
    fail("BAD_ARGUMENT", "--activation target-sparsity needs --target, a fraction in (0, 1]");
}

/**
 * The tau that leaves about `target` of `values` with |v| > tau: the k-th largest
 * magnitude, k = round(target x n). Returns -1 (everything active) when k = n.
 */
export function calibrateTau(values: Float32Array, target: number): number {
  const n = values.length;
  const k = Math.round(target * n);
  if (k >= n) return -1;
  const mags = new Float32Array(n);
  for (let i = 0; i < n; i++) mags[i] = Math.abs(values[i]);
  mags.sort();
  return mags[n - 1 - k];
}

/** Active ids per row in CSR form (ids ascending); tau < 0 with `nonzero` means v != 0. */
export interface ActiveCsr {
  offsets: Int32Array;
  ids: Uint16Array | Uint32Array;
}

let scratch16: Uint16Array | null = null;
let scratch32: Uint32Array | null = null;

/** A reusable worst-case id buffer (allocated once per size, not per layer: less GC). */
function scratchFor(size: number, wide: boolean): Uint16Array | Uint32Array {
  if (wide) {
    if (!scratch32 || scratch32.length < size) scratch32 = new Uint32Array(size);
    return scratch32;
  }
  if (!scratch16 || scratch16.length < size) scratch16 = new Uint16Array(size);
  return scratch16;
}

/**
 * Selects active ids of `rows` x `n` values: v != 0 when tau is null, else |v| > tau.
 * One pass into a scratch buffer sized for the worst case, then a copy of the used part.
 */
export function selectActive(values: Float32Array, rows: number, n: number, tau: number | null): ActiveCsr {
  const offsets = new Int32Array(rows + 1);
  const scratch = scratchFor(rows * n, n > 65536);
  let w = 0;
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    if (tau === null) {
      for (let i = 0; i < n; i++) if (values[o + i] !== 0) scratch[w++] = i;
    } else for (let i = 0; i < n; i++) if (Math.abs(values[o + i]) > tau) scratch[w++] = i;
    offsets[r + 1] = w;
  }
  return { offsets, ids: scratch.slice(0, w) };
}
