/**
 * What core's cheapest read split saves over the greedy split it replaced
 * (docs/benchmarks.md#placer, "Read splitting under the maximum request"). The
 * greedy rule: a miss joins the open read while the gap is worth reading through
 * and the read stays within the device's maximum request, else a new read starts;
 * a read that must end may so end just before the next miss instead of at a wider
 * gap a few slots back. core's LayerPlanner instead splits each such chain where it
 * costs least. This replays each placement's held-out tokens both ways. Static
 * caches only: each layer's declared pinned ids, or, where a layer declares no
 * cache, the `pin` policy of `--fraction` (a baseline's cache in the placer tables);
 * with a recency part the two plans would admit different gap bundles.
 * Run by hand, never in tests:
 *
 *   node packages/placer/dist/bench/split.js --traces out/bench-llama2-7b.arrow --bundle-bytes 24576 --fraction 0.1 \
 *     --placements out/bench-placer/llama2-7b-neuralink-b24576-f0.json,out/bench-placer/llama2-7b-colink-b24576-f0.1.json
 */
import { budgetForFraction, cacheSpecForPolicy, type DeviceProfile, LayerCache, LayerPlanner, layoutFromOrder, readPlacement, resolveDeviceProfile, table } from "@colink/core";
import { ioCost } from "../codesign.js";
import type { LayerTokens } from "../cooccur.js";
import { openTraceSet, readSplit } from "../traces.js";
import { arg } from "./args.js";

/** Held-out I/O microseconds of one layer: the greedy split, and core's planner. */
function layerCosts(data: LayerTokens, order: ArrayLike<number>, pinnedIds: number[], device: DeviceProfile, bundleBytes: number): { greedy: number; planner: number } {
  const n = data.neurons;
  const layout = layoutFromOrder(order, bundleBytes);
  const cache = pinnedIds.length > 0 ? new LayerCache(n, { pinned: pinnedIds, lru: 0, gapfill: false }) : null;
  const planner = new LayerPlanner(layout, device, cache);
  const pinned = cache?.pinned;
  const { maxGap, maxRequestSlots: maxSlots } = planner;
  const { latencyUs: lat, transferUs: slotUs } = ioCost(device, bundleBytes);
  const slots = new Int32Array(n);
  let greedy = 0;
  let core = 0;
  for (let t = 0; t < data.tokens; t++) {
    const ids = data.ids.subarray(data.offsets[t], data.offsets[t + 1]);
    core += planner.step(ids).ioUs;
    let m = 0;
    for (let q = 0; q < ids.length; q++) if (!pinned?.[ids[q]]) slots[m++] = layout.slotOf[ids[q]];
    const s = slots.subarray(0, m).sort();
    for (let i = 0, start = -1, end = -1; i <= m; i++) {
      if (i < m && start >= 0 && s[i] - end <= maxGap && s[i] + 1 - start <= maxSlots) {
        end = s[i] + 1;
        continue;
      }
      if (start >= 0) greedy += lat + (end - start) * slotUs;
      if (i < m) [start, end] = [s[i], s[i] + 1];
    }
  }
  return { greedy, planner: core };
}

async function main(): Promise<void> {
  const traces = arg("traces", "out/bench-llama2-7b.arrow");
  const bundleBytes = Number(arg("bundle-bytes", "24576"));
  const device = await resolveDeviceProfile(arg("device", "ufs40"));
  const fraction = Number(arg("fraction", "0"));
  const files = arg("placements", "").split(",").filter((f) => f.length > 0);
  if (files.length === 0) throw new Error("--placements a.json,b.json is required");
  const set = await openTraceSet([traces]);
  const held = await readSplit(set, 1);
  const rows: string[][] = [];
  for (const file of files) {
    const p = await readPlacement(file);
    let greedy = 0;
    let planner = 0;
    for (const layer of p.layers) {
      const neurons = layer.order.length;
      const cache = layer.cache ?? cacheSpecForPolicy("pin", budgetForFraction(fraction, neurons), { neurons, freq: layer.freq });
      if (cache.lru > 0) throw new Error(`${file}: layer ${layer.layer} has a recency part (lru ${cache.lru}); this bench takes static caches only`);
      const c = layerCosts(held[layer.layer], layer.order, cache.pinned, device, bundleBytes);
      greedy += c.greedy;
      planner += c.planner;
    }
    const tokens = Math.max(1, held[0].tokens);
    const ms = (us: number): string => (us / tokens / 1000).toFixed(3);
    rows.push([file, p.method, ms(greedy), ms(planner), `${((1 - planner / greedy) * 100).toFixed(2)}%`]);
  }
  process.stdout.write(`held-out ms/token, ${device.name}, ${bundleBytes} B bundles (undeclared caches: pin ${fraction})\n`);
  process.stdout.write(`${table(["placement", "method", "greedy split", "core planner (cheapest)", "saved"], rows)}\n`);
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
