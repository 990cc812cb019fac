/**
 * One layer's candidate orders side by side (docs/benchmarks.md#placer): each of
 * colink's order families, built on the fit split and replayed on the held-out split
 * with no cache, with its build time; optionally a placement's order of that layer
 * (e.g. neuralink's) for reference. Run by hand, never in tests:
 *
 *   node packages/placer/dist/bench/orders.js --traces out/bench-llama2-7b.arrow --layer 16 \
 *     --bundle-bytes 24576 [--placement out/bench-placer/llama2-7b-neuralink-b24576-f0.json]
 *     [--pair-tokens 512,1024,2048]   (colink's linked order from pair counts of that many tokens)
 */
import { NO_CACHE, readPlacement, resolveDeviceProfile } from "@colink/core";
import { fitCostUs } from "../codesign.js";
import { sampleGreedyOrder } from "../greedy.js";
import { buildColinkGraph, colinkOrder, frequencyOrder, hotBlockOrder } from "../methods.js";
import { openTraceSet, readSplit } from "../traces.js";

function arg(name: string, dflt?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  if (dflt === undefined) throw new Error(`--${name} is required`);
  return dflt;
}

async function main(): Promise<void> {
  const traces = arg("traces");
  const layer = Number(arg("layer", "0"));
  const bb = Number(arg("bundle-bytes", "24576"));
  const placement = process.argv.includes("--placement") ? arg("placement") : undefined;
  const device = await resolveDeviceProfile(arg("device", "ufs40"));
  const set = await openTraceSet([traces]);
  const fit = (await readSplit(set, 0))[layer];
  const held = (await readSplit(set, 1))[layer];
  const heldMs = (o: ArrayLike<number>): string => (fitCostUs(held, o, NO_CACHE, device, bb) / held.tokens / 1000).toFixed(3);
  let t = performance.now();
  const lap = (): string => {
    const now = performance.now();
    const s = ((now - t) / 1000).toFixed(2);
    t = now;
    return s;
  };
  const g = buildColinkGraph(fit, {});
  process.stdout.write(`layer ${layer}: ${fit.neurons} neurons, ${fit.tokens} fit / ${held.tokens} held-out tokens; graph ${lap()} s\n`);
  const row = (name: string, build: () => ArrayLike<number>): void => {
    lap();
    const o = build();
    const s = lap();
    process.stdout.write(`${name.padEnd(12)} held-out ${heldMs(o)} ms/token  build ${s} s\n`);
  };
  const rank = frequencyOrder(g.freq);
  const n = fit.neurons;
  row("linked", () => colinkOrder(g));
  row("frequency", () => rank);
  row("greedy", () => sampleGreedyOrder(g)); // the paper's, on the same sample (reference)
  for (const pct of [1, 2, 5, 10, 25]) row(`hot-${pct}%`, () => hotBlockOrder(g, rank, undefined, Math.floor((pct * n) / 100)));
  // colink's linked order against the tokens its pair counts saw (the speed target's
  // trade-off: counting is the one cost that grows with the sample)
  const sizes = process.argv.includes("--pair-tokens") ? arg("pair-tokens").split(",").map(Number) : [];
  for (const T of sizes) {
    lap();
    const gt = buildColinkGraph(fit, { pairTokens: T });
    const graphS = lap();
    row(`linked@${T}`, () => colinkOrder(gt));
    process.stdout.write(`${"".padEnd(12)} (graph on ${T} tokens: ${graphS} s)\n`);
  }
  if (placement) {
    const p = await readPlacement(placement, { layers: set.layers, neurons: set.neurons });
    process.stdout.write(`${"placement".padEnd(12)} held-out ${heldMs(p.layers[layer].order)} ms/token  (${p.method}, ${placement})\n`);
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
