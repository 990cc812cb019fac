/**
 * Where one layer's fit time goes, neuralink against colink, one thread
 * (docs/benchmarks.md#placer, the speed target). Run by hand:
 *
 *   node packages/placer/dist/bench/breakdown.js --traces out/bench-llama2-7b.arrow --layer 16 \
 *     --bundle-bytes 24576 --fraction 0.1
 *
 * Steps are timed by calling the methods' own functions one after another; the
 * colink total is placeLayer's (its order and choose phases), measured apart.
 */
import { budgetForFraction, resolveDeviceProfile } from "@colink/core";
import { cacheCandidates, ioCost } from "../codesign.js";
import { autoPairTokens, countPairs, pairWork, releasePairs, sampleTokens, topKEdges } from "../cooccur.js";
import { sampleGreedyOrder } from "../greedy.js";
import { placeLayer } from "../layer.js";
import { PathLinker } from "../link.js";
import { buildColinkGraph, colinkOrder, countInside, identityLayerOrder, linkByCountDesc } from "../methods.js";
import { openTraceSet, readSplit } from "../traces.js";
import { arg, stopwatch } from "./args.js";

async function main(): Promise<void> {
  const set = await openTraceSet([arg("traces", "out/bench-llama2-7b.arrow")]);
  const layer = Number(arg("layer", "16"));
  const bundleBytes = Number(arg("bundle-bytes", "24576"));
  const fraction = Number(arg("fraction", "0.1"));
  const device = await resolveDeviceProfile(arg("device", "ufs40"));
  const data = (await readSplit(set, 0))[layer];
  const n = data.neurons;
  const { lap, line } = stopwatch(44);
  process.stdout.write(`layer ${layer}: ${n} neurons, ${data.tokens} fit tokens, bundle ${bundleBytes} B, F = ${fraction}\n`);

  lap();
  const all = countPairs(data);
  line(`neuralink: pair counts, all ${data.tokens} tokens`, lap());
  const linker = new PathLinker(n);
  linkByCountDesc(linker, all, identityLayerOrder(n));
  linker.paths();
  line("neuralink: counting sort of all pairs + linking", lap());
  releasePairs(all);

  const T = autoPairTokens(data);
  const rows = sampleTokens(data.tokens, T);
  const sampleFreq = new Uint32Array(n);
  for (const r of rows) for (let p = data.offsets[r]; p < data.offsets[r + 1]; p++) sampleFreq[data.ids[p]]++;
  lap();
  const pc = countPairs(data, rows);
  const count = lap();
  line(`colink: pair counts, ${T} tokens`, count);
  topKEdges(pc, sampleFreq, 16, 2, "jaccard");
  const topk = lap();
  line("colink: top-16 Jaccard neighbours", topk);
  releasePairs(pc);
  lap();
  const g = buildColinkGraph(data, {});
  const graph = lap();
  // the inside counts again, alone, to split them out of the graph's time
  countInside(data, g, rows, pairWork(data, rows));
  const inside = lap();
  line("colink: graphology graph + Louvain + community lists", graph - count - topk - inside);
  line(`colink: pair counts inside communities, ${g.insideTokens} tokens`, inside);
  colinkOrder(g);
  line("colink: greedy inside + across communities", lap());
  sampleGreedyOrder(g);
  line("(reference: all-pairs greedy on the same sample)", lap());
  const budget = budgetForFraction(fraction, n);
  if (budget > 0) {
    const cands = cacheCandidates(g.freq, budget, (mask) => colinkOrder(g, mask), data, ioCost(device, bundleBytes));
    line(`colink: ${cands.length} cache candidates (pin scores + orders)`, lap());
  }
  releasePairs(g.pairs);
  const r = placeLayer({ layer, method: "colink", data, budget, device, bundleBytes, colink: {} });
  lap();
  line("colink placeLayer: order (graph, cache candidates' orders)", r.orderMs / 1000);
  line("colink placeLayer: choose (families + fit replays)", r.chooseMs / 1000);
  process.stdout.write(`colink chose ${r.choice}\n`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
