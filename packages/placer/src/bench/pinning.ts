/**
 * Static pin sets side by side (docs/benchmarks.md#placer, "What was tried"): for the
 * same budget, the held-out I/O of colink's order relinked around each pinned set,
 * the set ranked by activation count (`pin`), by run starts alone, and by
 * `pinCostScores` (latency x run starts + transfer x activations) for run gaps of 1
 * to 4 idle tokens, and with 50% / 75% of the request estimate from lone activations
 * (colink's `pincost-lone50` / `pincost-lone75`), and by each id's marginal cost under
 * the unpinned order (what dropping it from every fit token's reads would save; not a
 * candidate: it placed worse). Run by hand, never in tests:
 *
 *   node packages/placer/dist/bench/pinning.js --traces out/bench-llama2-7b.arrow --layers 0,16,31 \
 *     --bundle-bytes 6912 [--fraction 0.1] [--device ufs40]
 */
import { budgetForFraction, type DeviceProfile, maxGapSlots, resolveDeviceProfile, table } from "@colink/core";
import { fitCostUs, hottest, type IoCost, ioCost, LONE_SHARES, loneActivations, pinCostScores, RUN_GAP, recencyMissesAt } from "../codesign.js";
import { type LayerTokens, releasePairs } from "../cooccur.js";
import { buildColinkGraph, colinkOrder } from "../methods.js";
import { openTraceSet, readSplit } from "../traces.js";
import { arg } from "./args.js";

/**
 * Per id, what its fit-token activations cost under `order` (one neuron per slot, no
 * cache): a bundle's transfer each, plus, on a token where no other active slot lies
 * within the merge gap on either side, a request; at the end of a merged read, also
 * the transfer of the gap that joins it to the read.
 */
function marginalCost(d: LayerTokens, order: Uint32Array, device: DeviceProfile, bundleBytes: number, io: IoCost): Float64Array {
  const maxGap = maxGapSlots(device, bundleBytes);
  const slot = new Int32Array(d.neurons);
  order.forEach((id, s) => {
    slot[id] = s;
  });
  const out = new Float64Array(d.neurons);
  for (let t = 0; t < d.tokens; t++) {
    const ids = Array.from(d.ids.subarray(d.offsets[t], d.offsets[t + 1]));
    ids.sort((x, y) => slot[x] - slot[y]);
    for (let k = 0; k < ids.length; k++) {
      const left = k > 0 ? slot[ids[k]] - slot[ids[k - 1]] - 1 : Number.POSITIVE_INFINITY;
      const right = k + 1 < ids.length ? slot[ids[k + 1]] - slot[ids[k]] - 1 : Number.POSITIVE_INFINITY;
      const l = left <= maxGap;
      const r = right <= maxGap;
      let us = io.transferUs;
      if (!l && !r) us += io.latencyUs;
      else if (l !== r) us += io.transferUs * (l ? left : right);
      out[ids[k]] += us;
    }
  }
  return out;
}

async function main(): Promise<void> {
  const traces = arg("traces", "out/bench-llama2-7b.arrow");
  const bb = Number(arg("bundle-bytes", "24576"));
  const fraction = Number(arg("fraction", "0.1"));
  const device = await resolveDeviceProfile(arg("device", "ufs40"));
  const set = await openTraceSet([traces]);
  const layers = arg("layers", "0").split(",").map(Number);
  const fit = await readSplit(set, 0);
  const held = await readSplit(set, 1);
  const io = ioCost(device, bb);
  const gaps = [1, 2, 3, 4];
  const names = ["pin", ...gaps.map((g) => `starts@${g}`), ...gaps.map((g) => `cost@${g}`), ...LONE_SHARES.map((s) => `lone${s * 100}`), "marginal"];
  const total = new Float64Array(names.length);
  const rows: string[][] = [];
  for (const l of layers) {
    const d = fit[l];
    const budget = budgetForFraction(fraction, d.neurons);
    const g = buildColinkGraph(d, {});
    const starts = recencyMissesAt(d, gaps);
    const scores: ArrayLike<number>[] = [g.freq, ...starts, ...starts.map((s) => pinCostScores(s, g.freq, io))];
    const plain = colinkOrder(g, undefined);
    const lone = loneActivations(d, plain, io);
    const runStarts = starts[gaps.indexOf(RUN_GAP)];
    for (const share of LONE_SHARES) scores.push(pinCostScores(runStarts, g.freq, io, { counts: lone, share }));
    scores.push(marginalCost(d, plain, device, bb, io));
    const ms = scores.map((score) => {
      const top = hottest(score, budget);
      const cache = { pinned: top.ids, lru: 0, gapfill: false };
      return fitCostUs(held[l], colinkOrder(g, top.mask), cache, device, bb) / held[l].tokens / 1000;
    });
    releasePairs(g.pairs);
    ms.forEach((v, i) => {
      total[i] += v;
    });
    rows.push([String(l), ...ms.map((v) => v.toFixed(3))]);
  }
  rows.push([`total (${layers.length})`, ...Array.from(total, (v) => v.toFixed(3))]);
  process.stdout.write(
    `${traces}, bundle ${bb} B, F = ${fraction}, ${device.name}, ${held[layers[0]].tokens} held-out tokens; ms/token; pincost uses cost@${RUN_GAP}, pincost-loneP the loneP column\n`,
  );
  process.stdout.write(`${table(["layer", ...names], rows)}\n`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
