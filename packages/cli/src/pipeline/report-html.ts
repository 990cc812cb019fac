/**
 * report.html from a ReportData: one self-contained file (inline CSS and SVG, the
 * heatmaps as embedded PNG data; no script, no network), deterministic for equal data.
 */
import { FREQ_BINS, type MethodTotals, RUN_LABELS, type ReportData } from "./report-data.js";
import { barChart, esc, fmt, heatmap } from "./svg.js";

/** One colour per method, stable across charts (Okabe-Ito, colour-blind safe). */
export const METHOD_COLORS: Record<string, string> = {
  identity: "#999999",
  frequency: "#E69F00",
  neuralink: "#0072B2",
  colink: "#009E73",
};
const EXTRA = ["#CC79A7", "#D55E00", "#56B4E9", "#F0E442"];

export function methodColor(method: string, i: number): string {
  return METHOD_COLORS[method] ?? EXTRA[i % EXTRA.length];
}

const CSS = `
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; background: #f6f7f9; color: #1d2330; }
header { background: #1d2330; color: #fff; padding: 18px 28px; }
header h1 { margin: 0 0 4px; font-size: 20px; font-weight: 600; }
header p { margin: 0; color: #c5cad6; }
main { max-width: 1180px; margin: 0 auto; padding: 18px 28px 40px; }
section { background: #fff; border: 1px solid #dfe3ea; border-radius: 8px; padding: 14px 18px; margin: 16px 0; }
section h2 { font-size: 16px; margin: 0 0 4px; }
section p.note { margin: 0 0 10px; color: #556070; font-size: 13px; }
.grid { display: flex; flex-wrap: wrap; gap: 12px 18px; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 12px; border-bottom: 1px solid #e6e9ef; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { font-weight: 600; color: #3b4556; }
tr.chosen td { font-weight: 600; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0; }
dl.facts dt { color: #556070; }
dl.facts dd { margin: 0; }
svg.chart { background: #fff; }
svg.chart text { font: 11px system-ui, sans-serif; fill: #3b4556; }
svg.chart text.title { font-size: 13px; font-weight: 600; fill: #1d2330; }
svg.chart text.label { font-size: 12px; fill: #1d2330; }
svg.chart line.grid { stroke: #e6e9ef; }
svg.chart line.axis { stroke: #6b7587; }
svg.chart rect.frame { fill: none; stroke: #6b7587; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 6px; vertical-align: baseline; }
`;

const pct = (v: number): string => `${fmt(v * 100)}%`;

function totals(m: { replay?: MethodTotals; model: MethodTotals }): MethodTotals {
  return m.replay ?? m.model;
}

function summaryTable(d: ReportData): string {
  const by = new Map(d.methods.map((m) => [m.method, totals(m)]));
  const idIo = by.get("identity")?.io_ms_per_token;
  const nlIo = by.get("neuralink")?.io_ms_per_token;
  const ratio = (base: number | undefined, v: number): string => (base && v > 0 ? `${(base / v).toFixed(2)}x` : "–");
  const rows = d.methods.map((m, i) => {
    const t = totals(m);
    return `<tr${m.method === d.chosen ? ' class="chosen"' : ""}><td><span class="swatch" style="background:${methodColor(m.method, i)}"></span>${esc(m.method)}${m.method === d.chosen ? " (packed)" : ""}</td><td>${t.reads_per_token.toFixed(1)}</td><td>${(t.bytes_per_token / 1024).toFixed(1)}</td><td>${t.io_ms_per_token.toFixed(3)}</td><td>${pct(t.hit_rate)}</td><td>${ratio(idIo, t.io_ms_per_token)}</td><td>${ratio(nlIo, t.io_ms_per_token)}</td><td>${m.meanRunBundles.toFixed(2)}</td></tr>`;
  });
  const src = d.methods.some((m) => m.replay) ? "the loader's replay of held-out tokens" : "core's read planner on held-out tokens";
  return `<table data-table="summary"><thead><tr><th>method</th><th>reads/token</th><th>KiB/token</th><th>simulated I/O ms/token</th><th>cache hit rate</th><th>speed-up vs identity</th><th>speed-up vs neuralink</th><th>mean read (bundles)</th></tr></thead><tbody>${rows.join("")}</tbody></table><p class="note">Totals from ${src}; all methods at the same cache budget (${d.budget} bundles per layer) and dtype (${esc(d.dtype)}). Speed-up = baseline I/O time / method I/O time.</p>`;
}

export function renderReport(d: ReportData): string {
  const layerCats = d.sparsity.map((_, i) => String(i));
  const series = (pick: (m: ReportData["methods"][number]) => number[]) =>
    d.methods.map((m, i) => ({ name: m.method, values: pick(m), color: methodColor(m.method, i) }));
  const freqCats = Array.from({ length: FREQ_BINS }, (_, i) => `${fmt((100 * i) / FREQ_BINS)}`);
  const facts: [string, string][] = [
    ["model", d.model],
    ["shape", `${d.layers} layers x ${d.neurons} FFN neurons, bundle ${fmt(d.bundleBytes)} B (${d.dtype})`],
    [
      "device",
      `${d.device.name}: ${fmt(d.device.latencyUs)} µs per request + ${fmt(d.device.bandwidthBytesPerSec / 1e9)} GB/s`,
    ],
    ["cache budget", `${pct(d.cacheFraction)} of each layer = ${d.budget} bundles per layer`],
    ["tokens", `${d.tokens.fit} fit, ${d.tokens.heldout} held out (plots of I/O use held-out tokens only)`],
    ...d.facts,
  ];
  const h = d.heatmap;
  const heatNote = `Layer ${h.layer}, held-out tokens, ${d.neurons} neurons in ${h.size} x ${h.size} cells (${fmt(d.neurons / h.size)} neurons per cell); colour = log(1 + co-activation count), same scale on both maps. Mass near the diagonal means neurons that fire together are stored together.`;
  const body = `
<header><h1>${esc(d.title)}</h1><p>Placement method <b>${esc(d.chosen)}</b> compared with ${d.methods
    .filter((m) => m.method !== d.chosen)
    .map((m) => esc(m.method))
    .join(", ")} at the same DRAM budget.</p></header>
<main>
<section><h2>Summary</h2>${summaryTable(d)}<dl class="facts">${facts.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("")}</dl></section>
<section><h2>Activations</h2><p class="note">How sparse the FFN is, from all profiled tokens.</p><div class="grid">
${barChart({ id: "sparsity", title: "Per-layer sparsity", xLabel: "layer", yLabel: "active neurons per token (%)", categories: layerCats, series: [{ name: "active", values: d.sparsity.map((v) => v * 100), color: "#0072B2" }], width: 420 })}
${barChart({ id: "frequency", title: `Activation frequency (${d.deadNeurons} neurons never fired)`, xLabel: "share of tokens a neuron fires on (%)", yLabel: "neurons (all layers)", categories: freqCats, series: [{ name: "neurons", values: d.freqHist, color: "#CC79A7" }], labelEvery: 5, width: 640 })}
</div></section>
<section><h2>Co-activation before and after placement</h2><p class="note">${esc(heatNote)}</p><div class="grid">
${heatmap({ id: "heatmap-before", title: `Original order (layer ${h.layer})`, xLabel: "neuron id", yLabel: "neuron id", cells: h.before, size: h.size, neurons: d.neurons })}
${heatmap({ id: "heatmap-after", title: `Placed order: ${h.method} (layer ${h.layer})`, xLabel: "flash slot", yLabel: "flash slot", cells: h.after, size: h.size, neurons: d.neurons })}
</div></section>
<section><h2>Reads</h2><p class="note">Read requests after access collapse and cache, held-out tokens. Longer runs mean fewer requests for the same neurons.</p><div class="grid">
${barChart({ id: "runs", title: "Run length distribution", xLabel: "bundles per read request", yLabel: "share of read requests (%)", categories: RUN_LABELS, series: series((m) => m.runHist.map((v) => v * 100)), width: 560 })}
${barChart({ id: "reads-layer", title: "Reads per token by layer", xLabel: "layer", yLabel: "read requests per token", categories: layerCats, series: series((m) => m.perLayer.readsPerToken), width: 560 })}
${barChart({ id: "io-layer", title: "Simulated I/O time per token by layer", xLabel: "layer", yLabel: "I/O time per token (ms)", categories: layerCats, series: series((m) => m.perLayer.ioMsPerToken), width: 560 })}
${barChart({ id: "hit-rate", title: "Cache hit rate by layer", xLabel: "layer", yLabel: "active neurons served from DRAM (%)", categories: layerCats, series: series((m) => m.perLayer.hitRate.map((v) => v * 100)), yMax: Math.max(1, ...d.methods.flatMap((m) => m.perLayer.hitRate.map((v) => v * 100))), width: 560 })}
</div></section>
<footer><p class="note">Generated by colink pipeline. Per-layer numbers come from core's read planner (core/plan.ts, the cost model the loader shares); device model: docs/device-profiles.md.</p></footer>
</main>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(d.title)}</title><style>${CSS}</style></head><body>${body}</body></html>
`;
}
