/**
 * Plain SVG charts for report.html, written as strings: no script, no network, so
 * the report opens anywhere and renders the same everywhere. Every chart has a
 * title, labelled axes with units, and a legend when it has more than one series.
 * Output is deterministic (numbers are formatted, never raw floats).
 */
import { encodePng, ramp } from "./png.js";

export interface Series {
  name: string;
  values: number[];
  color: string;
}

export interface BarChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  categories: string[];
  series: Series[];
  /** Formats a y-axis tick value. */
  yFormat?: (v: number) => string;
  /** Show every k-th category label (long histograms). */
  labelEvery?: number;
  /** Fixed y maximum (e.g. 1 for rates); else from the data. */
  yMax?: number;
  width?: number;
  height?: number;
  /** data-chart attribute, for tests. */
  id: string;
}

export function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** 1, 2, 5 x 10^k ticks covering [0, max]. */
export function niceTicks(max: number, target = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1] < max) ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  return ticks;
}

export function fmt(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(0)}k`;
  if (a >= 100) return v.toFixed(0);
  if (a >= 1) return v.toFixed(a >= 10 ? 1 : 2).replace(/\.?0+$/, "");
  return v.toPrecision(2).replace(/\.?0+$/, "");
}

const f1 = (v: number): string => v.toFixed(1);

/** A grouped bar chart: one group per category, one bar per series. */
export function barChart(o: BarChartOptions): string {
  const W = o.width ?? 560;
  const H = o.height ?? 300;
  const m = { left: 64, right: 12, top: 34, bottom: o.series.length > 1 ? 70 : 52 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const dataMax = Math.max(0, ...o.series.flatMap((s) => s.values.filter(Number.isFinite)));
  const ticks = niceTicks(o.yMax ?? dataMax);
  const yTop = ticks[ticks.length - 1];
  const y = (v: number): number => m.top + ph - (ph * v) / yTop;
  const yf = o.yFormat ?? fmt;
  const n = o.categories.length;
  const band = pw / Math.max(1, n);
  const inner = band * (n > 20 ? 0.95 : 0.8);
  const bw = inner / o.series.length;
  const out: string[] = [];
  out.push(
    `<svg class="chart" data-chart="${esc(o.id)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(o.title)}" xmlns="http://www.w3.org/2000/svg">`,
  );
  out.push(`<text class="title" x="${m.left}" y="18">${esc(o.title)}</text>`);
  for (const t of ticks) {
    out.push(`<line class="grid" x1="${m.left}" x2="${W - m.right}" y1="${f1(y(t))}" y2="${f1(y(t))}"/>`);
    out.push(`<text class="tick" x="${m.left - 6}" y="${f1(y(t) + 4)}" text-anchor="end">${esc(yf(t))}</text>`);
  }
  o.series.forEach((s, si) => {
    s.values.forEach((v, ci) => {
      if (!Number.isFinite(v)) return;
      const x = m.left + ci * band + (band - inner) / 2 + si * bw;
      const h = Math.max(v > 0 ? 0.5 : 0, (ph * v) / yTop);
      out.push(
        `<rect class="mark" x="${f1(x)}" y="${f1(m.top + ph - h)}" width="${f1(Math.max(0.5, bw - (o.series.length > 1 ? 1 : 0.5)))}" height="${f1(h)}" fill="${s.color}"><title>${esc(`${s.name} · ${o.categories[ci]}: ${yf(v)}`)}</title></rect>`,
      );
    });
  });
  const every = o.labelEvery ?? 1;
  o.categories.forEach((c, ci) => {
    if (ci % every !== 0) return;
    out.push(`<text class="tick" x="${f1(m.left + ci * band + band / 2)}" y="${m.top + ph + 15}" text-anchor="middle">${esc(c)}</text>`);
  });
  out.push(`<line class="axis" x1="${m.left}" x2="${W - m.right}" y1="${m.top + ph}" y2="${m.top + ph}"/>`);
  out.push(`<line class="axis" x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${m.top + ph}"/>`);
  out.push(`<text class="label" x="${m.left + pw / 2}" y="${m.top + ph + 33}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  out.push(
    `<text class="label" transform="translate(14 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`,
  );
  if (o.series.length > 1) {
    let x = m.left;
    const ly = H - 14;
    for (const s of o.series) {
      out.push(`<rect x="${x}" y="${ly - 9}" width="10" height="10" fill="${s.color}"/>`);
      out.push(`<text class="legend" x="${x + 14}" y="${ly}">${esc(s.name)}</text>`);
      x += 24 + 7 * s.name.length;
    }
  }
  out.push("</svg>");
  return out.join("\n");
}

export interface HeatmapOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** size x size values in [0, 1], row-major. */
  cells: Float64Array | number[];
  size: number;
  /** Neurons per cell, for the axis ticks. */
  neurons: number;
  id: string;
  width?: number;
}

/** A square heatmap: the matrix as an embedded PNG, axes in neuron positions, a colour bar. */
export function heatmap(o: HeatmapOptions): string {
  const W = o.width ?? 360;
  const m = { left: 58, right: 56, top: 34, bottom: 44 };
  const side = W - m.left - m.right;
  const H = side + m.top + m.bottom;
  const rgb = new Uint8Array(o.size * o.size * 3);
  for (let i = 0; i < o.size * o.size; i++) rgb.set(ramp(o.cells[i]), i * 3);
  const png = Buffer.from(encodePng(o.size, o.size, rgb)).toString("base64");
  const out: string[] = [];
  out.push(
    `<svg class="chart" data-chart="${esc(o.id)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(o.title)}" xmlns="http://www.w3.org/2000/svg">`,
  );
  out.push(`<text class="title" x="${m.left}" y="18">${esc(o.title)}</text>`);
  out.push(
    `<image class="mark" x="${m.left}" y="${m.top}" width="${side}" height="${side}" preserveAspectRatio="none" style="image-rendering:pixelated" href="data:image/png;base64,${png}"/>`,
  );
  out.push(`<rect class="frame" x="${m.left}" y="${m.top}" width="${side}" height="${side}"/>`);
  const ticks = niceTicks(o.neurons, 4).filter((t) => t <= o.neurons);
  for (const t of ticks) {
    const p = (side * t) / o.neurons;
    out.push(`<text class="tick" x="${f1(m.left + p)}" y="${m.top + side + 14}" text-anchor="middle">${fmt(t)}</text>`);
    out.push(`<text class="tick" x="${m.left - 5}" y="${f1(m.top + p + 4)}" text-anchor="end">${fmt(t)}</text>`);
  }
  out.push(`<text class="label" x="${m.left + side / 2}" y="${m.top + side + 32}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  out.push(
    `<text class="label" transform="translate(14 ${m.top + side / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`,
  );
  // colour bar: log-scaled co-activation, low to high
  const bx = m.left + side + 14;
  const steps = 24;
  for (let i = 0; i < steps; i++) {
    const [r, g, b] = ramp(1 - i / (steps - 1));
    out.push(`<rect x="${bx}" y="${f1(m.top + (side * i) / steps)}" width="12" height="${f1(side / steps + 0.5)}" fill="rgb(${r},${g},${b})"/>`);
  }
  out.push(`<text class="tick" x="${bx + 16}" y="${m.top + 8}">high</text>`);
  out.push(`<text class="tick" x="${bx + 16}" y="${m.top + side}">low</text>`);
  out.push("</svg>");
  return out.join("\n");
}
