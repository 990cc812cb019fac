/**
 * `colink evaluate`: a placement replayed on the held-out tokens of traces through
 * the shared cost model (core/simulate.ts) under a device profile and cache policy.
 */
import {
  budgetForFraction,
  type CachePolicy,
  CACHE_POLICIES,
  cacheSpecForPolicy,
  cacheSize,
  fail,
  readPlacement,
  resolveDeviceProfile,
  type SimLayer,
  type SimSummary,
  simulateTraceFiles,
} from "@colink/core";
import { bundleBytesFromMeta, openTraceSet } from "./traces.js";

export interface EvaluateOptions {
  placement: string;
  traces: string[];
  device?: string;
  /** Default: the placement's params.bundleBytes, else what the traces say. */
  bundleBytes?: number;
  /** DRAM budget per layer; default: the placement's params.cacheFraction, else 0. */
  cacheFraction?: number;
  /** Default declared. */
  policy?: CachePolicy;
  /** Tokens to replay: held-out (default), fit or all. */
  split?: "heldout" | "fit" | "all";
}

export interface EvaluateResult extends SimSummary {
  placement: string;
  method: string;
  policy: CachePolicy;
  device: string;
  bundleBytes: number;
  cacheFraction: number;
  budget: number;
  split: string;
}

export async function evaluatePlacement(opts: EvaluateOptions): Promise<EvaluateResult> {
  const policy = opts.policy ?? "declared";
  if (!CACHE_POLICIES.includes(policy)) fail("BAD_ARGUMENT", `--policy "${policy}": expected ${CACHE_POLICIES.join(", ")}`);
  const device = await resolveDeviceProfile(opts.device ?? "ufs40");
  const set = await openTraceSet(opts.traces);
  const shape = { layers: set.layers, neurons: set.neurons };
  const raw = await readPlacement(opts.placement, shape);
  const params = (raw.params ?? {}) as Record<string, unknown>;
  const F = opts.cacheFraction ?? (typeof params.cacheFraction === "number" ? params.cacheFraction : 0);
  if (!(F >= 0 && F < 1)) fail("BAD_ARGUMENT", `--cache-fraction must be in [0, 1), got ${F}`);
  const budget = budgetForFraction(F, set.neurons);
  // a declared cache larger than the budget is a bad placement, not something to trim
  // silently; other policies ignore the declared cache, so any placement runs under them
  if (policy === "declared") {
    const own = typeof params.cacheFraction === "number" ? params.cacheFraction : undefined;
    const ownBudget = own === undefined ? 0 : budgetForFraction(own, set.neurons);
    if (opts.cacheFraction !== undefined && budget < ownBudget)
      fail(
        "BAD_ARGUMENT",
        `${opts.placement}: its declared cache was chosen for --cache-fraction ${own} (${ownBudget} bundles per layer), more than --cache-fraction ${F} allows (${budget}); evaluate it at ${own}, or a smaller budget with --policy pin, lru or none`,
      );
    await readPlacement(opts.placement, shape, budget);
  }
  const bundleBytes =
    opts.bundleBytes ?? (typeof params.bundleBytes === "number" ? params.bundleBytes : bundleBytesFromMeta(set.meta).bytes);
  if (!(Number.isInteger(bundleBytes) && bundleBytes > 0)) fail("BAD_ARGUMENT", `--bundle-bytes must be an integer > 0, got ${bundleBytes}`);
  const layers: SimLayer[] = raw.layers.map((l) => {
    if (policy === "pin" && !l.freq)
      fail("BAD_ARGUMENT", `${opts.placement}: layers[${l.layer}] has no "freq" counts, which the pin policy needs`);
    const cache = cacheSpecForPolicy(policy, budget, { neurons: set.neurons, declared: l.cache, freq: l.freq });
    if (cacheSize(cache) > budget) fail("BAD_FORMAT", `${opts.placement}: layers[${l.layer}].cache exceeds the budget of ${budget}`);
    return { order: l.order, cache };
  });
  const split = opts.split ?? "heldout";
  const want = split === "heldout" ? 1 : split === "fit" ? 0 : undefined;
  const summary = await simulateTraceFiles(set.files, layers, device, bundleBytes, want);
  if (summary.tokens === 0)
    fail("BAD_ARGUMENT", `${opts.traces.join(", ")}: no ${split === "heldout" ? "held-out" : split} tokens to evaluate on (--split)`);
  return {
    placement: opts.placement,
    method: raw.method,
    policy,
    device: device.name,
    bundleBytes,
    cacheFraction: F,
    budget,
    split,
    ...summary,
  };
}
