/**
 * `colink pipeline`: profile → place (chosen method + baselines) → pack → verify →
 * replay held-out tokens → summary.json + report.html, every stage resumable
 * (runner.ts). Layout of a run directory:
 *
 *   out/<name>/stages/<stage>-<digest12>/   one per stage, manifest.json written last
 *   out/<name>/model.colink                 symlink to the packed, verified image
 *   out/<name>/summary.json                 for CI (schema: docs/pipeline.md)
 *   out/<name>/report.html                  self-contained report
 */
import * as fs from "node:fs/promises";
import * as path from "node:path";
import {
  type CommonArgs,
  ColinkError,
  budgetForFraction,
  bundleBytesOf,
  fromSystemError,
  modelSpecFromConfig,
  holdoutSplit,
  isColinkError,
  readJsonFile,
  readPlacement,
  readTraceMeta,
  resolveDeviceProfile,
  table,
  tempPathFor,
  writeFileAtomic,
  writeJsonAtomic,
} from "@colink/core";
import { activationRule, type PipelineConfig, tokenizerFile } from "./config.js";
import { type MethodTotals, computeReportData } from "./report-data.js";
import { renderReport } from "./report-html.js";
import { codeDigest } from "./code-digest.js";
import { lockRunDir } from "./lock.js";
import { StageRunner, outputPath } from "./runner.js";
import * as stages from "./stages.js";

export const SUMMARY_FORMAT = "colink.pipeline-summary/1";

export interface MethodSummary extends MethodTotals {
  speedup_vs_identity: number;
  speedup_vs_neuralink: number;
  /** The replay's floor: one read per layer of all active bundles, no cache (ms/token). */
  bound_io_ms_per_token?: number;
  /** Real wall time of the loader's loads per token on this machine (ms; not deterministic). */
  wall_ms_per_token?: number;
  /** Layers per cache/order candidate the placer chose (place --json's `choices`). */
  choices?: Record<string, number>;
}

export interface PipelineSummary {
  format: typeof SUMMARY_FORMAT;
  status: "ok" | "error";
  error?: { code: string; message: string };
  name: string;
  config: PipelineConfig;
  chosen: string;
  image?: string;
  report?: string;
  verify?: unknown;
  tokens?: { fit: number; heldout: number };
  cache?: { fraction: number; bundles_per_layer: number; bytes: number };
  methods: Record<string, MethodSummary>;
  stages: { stage: string; digest: string; cached: boolean; seconds: number }[];
  cached_stages: number;
  seconds: number;
}

/** Finds the loader's per-token totals in a replay result, whatever nesting it uses. */
export function extractTotals(v: unknown): MethodTotals | null {
  if (Array.isArray(v)) {
    for (const x of v) {
      const t = extractTotals(x);
      if (t) return t;
    }
    return null;
  }
  if (v === null || typeof v !== "object") return null;
  const o = v as Record<string, unknown>;
  const val = (x: unknown): number => {
    if (typeof x === "number") return x;
    if (x && typeof x === "object" && typeof (x as { mean?: unknown }).mean === "number") return (x as { mean: number }).mean;
    return Number.NaN;
  };
  if ("reads_per_token" in o && "io_ms_per_token" in o) {
    return {
      reads_per_token: val(o.reads_per_token),
      bytes_per_token: val(o.bytes_per_token),
      io_ms_per_token: val(o.io_ms_per_token),
      hit_rate: val(o.hit_rate),
      source: "replay",
    };
  }
  for (const x of Object.values(o)) {
    const t = extractTotals(x);
    if (t) return t;
  }
  return null;
}

async function modelFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    throw new ColinkError("NOT_FOUND", `${dir}: model directory not found`, dir);
  }
  return names
    .filter((n) => /\.(safetensors|json)$/.test(n) && n !== "reference.json")
    .sort()
    .map((n) => path.join(dir, n));
}

/** Points out/<name>/model.colink at the chosen image (atomically replaced). */
async function linkImage(runDir: string, image: string): Promise<string> {
  const target = path.join(runDir, "model.colink");
  const tmp = tempPathFor(target);
  await fs.symlink(path.relative(runDir, image), tmp);
  await fs.rename(tmp, target);
  return target;
}

export async function runPipeline(c: PipelineConfig, args: CommonArgs): Promise<PipelineSummary> {
  const t0 = performance.now();
  const runDir = path.join(c.out, c.name);
  const say = (m: string): void => {
    if (!args.quiet) process.stderr.write(`${m}\n`);
  };
  const runner = new StageRunner(runDir, say);
  const summary: PipelineSummary = {
    format: SUMMARY_FORMAT,
    status: "ok",
    name: c.name,
    config: c,
    chosen: c.method,
    methods: {},
    stages: [],
    cached_stages: 0,
    seconds: 0,
  };
  const finish = async (): Promise<void> => {
    summary.stages = runner.records.map((r) => ({ stage: r.stage, digest: r.digest.slice(0, 12), cached: r.cached, seconds: Number(r.seconds.toFixed(3)) }));
    summary.cached_stages = runner.records.filter((r) => r.cached).length;
    summary.seconds = Number(((performance.now() - t0) / 1000).toFixed(3));
    await writeJsonAtomic(path.join(runDir, "summary.json"), summary);
  };
  await fs.mkdir(runDir, { recursive: true }).catch((e) => {
    throw fromSystemError(e, runDir, "create");
  });
  const unlock = await lockRunDir(runDir);
  try {
    await body(c, args, runner, runDir, summary);
    await finish();
    return summary;
  } catch (e) {
    summary.status = "error";
    summary.error = { code: isColinkError(e) ? e.code : "INTERNAL", message: (e as Error)?.message ?? String(e) };
    await finish().catch(() => {});
    throw e;
  } finally {
    await unlock();
  }
}

async function body(c: PipelineConfig, args: CommonArgs, runner: StageRunner, runDir: string, summary: PipelineSummary): Promise<void> {
  const quiet = args.quiet ?? false;
  const device = await resolveDeviceProfile(c.device);
  // the profile's numbers, not its name: a retuned built-in profile must not reuse old results
  const deviceId = { latencyUs: device.latencyUs, bandwidthBytesPerSec: device.bandwidthBytesPerSec, maxRequestBytes: device.maxRequestBytes };
  const code = {
    profile: await codeDigest(["core", "profiler"]),
    place: await codeDigest(["core", "placer"]),
    pack: await codeDigest(["core", "packer"]),
    verify: await codeDigest(["core"]),
    replay: await codeDigest(["core", "loader"]),
  };
  const modelDigests: Record<string, string> = {};
  for (const f of await modelFiles(c.model)) modelDigests[`model/${path.basename(f)}`] = await runner.fileDigest(f);
  const modelConfig = (await readJsonFile(path.join(c.model, "config.json"))) as Record<string, unknown>;

  // a tokenizer file by its bytes; "bytes" and the default (the model's tokenizer.json, among the model files) by name
  const tokFile = tokenizerFile(c.tokenizer);
  const tokenizerDigest = tokFile ? await runner.fileDigest(tokFile) : c.tokenizer || "default";
  const rule = activationRule(c);
  const prof = await runner.run({
    stage: "profile",
    inputs: {
      ...modelDigests,
      ...(c.tokenIds === "" ? { corpus: await runner.fileDigest(c.corpus) } : { tokenIds: await runner.fileDigest(c.tokenIds) }),
      tokenizer: tokenizerDigest,
      code: code.profile,
    },
    params: {
      ...rule,
      seqLen: c.seqLen,
      maxTokens: c.maxTokens,
      holdout: c.holdout,
      seed: c.seed,
    },
    async run(dir) {
      const result = await stages.profile({
        model: c.model,
        corpus: c.corpus,
        tokenIds: c.tokenIds,
        tokenizer: c.tokenizer,
        out: path.join(dir, "traces.arrow"),
        rule,
        seqLen: c.seqLen,
        maxTokens: c.maxTokens,
        holdout: c.holdout,
        seed: c.seed,
        quiet,
      });
      return { result, outputs: ["traces.arrow"] };
    },
  });
  const traces = outputPath(prof, "traces.arrow");
  const tracesDigest = prof.outputs["traces.arrow"].sha256;
  const meta = await readTraceMeta(traces);
  // the bundle size the placer plans with, before the image exists (the image's own value is used after packing)
  const bundleEstimate = bundleBytesOf(modelSpecFromConfig(modelConfig, path.join(c.model, "config.json")), c.dtype);

  const placed: Record<string, { file: string; digest: string; choices: Record<string, number> }> = {};
  for (const method of c.methods) {
    const rec = await runner.run({
      stage: `place-${method}`,
      inputs: { traces: tracesDigest, code: code.place },
      params: { method, cacheFraction: c.cacheFraction, device: deviceId, bundleBytes: bundleEstimate, seed: c.seed },
      async run(dir) {
        const result = await stages.place({
          traces,
          method,
          out: path.join(dir, "placement.json"),
          cacheFraction: c.cacheFraction,
          device: c.device,
          bundleBytes: bundleEstimate,
          seed: c.seed,
          quiet,
        });
        return { result, outputs: ["placement.json"] };
      },
    });
    placed[method] = { file: outputPath(rec, "placement.json"), digest: rec.outputs["placement.json"].sha256, choices: rec.result.choices };
  }

  const images: Record<string, { file: string; digest: string }> = {};
  for (const method of c.methods) {
    const placement = placed[method].file;
    const rec = await runner.run({
      stage: `pack-${method}`,
      inputs: { ...modelDigests, placement: placed[method].digest, tokenizer: tokenizerDigest, code: code.pack },
      params: { dtype: c.dtype },
      async run(dir) {
        const out = path.join(dir, "model.colink");
        const result = await stages.pack({ model: c.model, placement, out, dtype: c.dtype, tokenizer: c.tokenizer, quiet }, `pack-${method}`);
        return { result, outputs: ["model.colink"] };
      },
    });
    images[method] = { file: outputPath(rec, "model.colink"), digest: rec.outputs["model.colink"].sha256 };
  }

  const chosen = images[c.method];
  const ver = await runner.run({
    stage: "verify",
    inputs: { image: chosen.digest, code: code.verify },
    params: {},
    async run() {
      const result = { ok: true, ...(await stages.verify(chosen.file, quiet)) };
      return { result, outputs: [] };
    },
  });
  summary.verify = ver.result;
  summary.image = await linkImage(runDir, chosen.file);

  const info = await stages.inspect(chosen.file);
  const bundleBytes = info.layers[0]?.bundleBytes ?? bundleEstimate;
  const budget = budgetForFraction(c.cacheFraction, meta.neurons);
  const cacheBytes = budget * bundleBytes * meta.layers;
  summary.cache = { fraction: c.cacheFraction, bundles_per_layer: budget, bytes: cacheBytes };

  const heldTokens = holdoutSplit(meta.sequences, meta.holdout, meta.seed).reduce((a, b) => a + b, 0) * meta.seqLen;
  const replayed: Record<string, MethodTotals> = {};
  const extras: Record<string, { bound_io_ms_per_token?: number; wall_ms_per_token?: number }> = {};
  for (const method of c.methods) {
    const img = images[method];
    const rec = await runner.run({
      stage: `replay-${method}`,
      inputs: { image: img.digest, traces: tracesDigest, code: code.replay },
      params: { device: deviceId, cacheBytes, policy: "declared" },
      async run() {
        const result = await stages.replay(
          { image: img.file, traces, device: c.device, cacheBytes, policy: "declared", tokens: heldTokens, quiet },
          `replay-${method}`,
        );
        return { result, outputs: [] };
      },
    });
    const t = extractTotals(rec.result);
    if (!t) throw new ColinkError("BAD_FORMAT", `replay of ${method}: result has no reads_per_token / io_ms_per_token`);
    replayed[method] = t;
    const img0 = rec.result.images?.[0];
    extras[method] = { bound_io_ms_per_token: img0?.bound_io_ms_per_token?.mean, wall_ms_per_token: img0?.wall_ms_per_token?.mean };
  }

  // The report is cheap and always rebuilt, so it reflects this run's stage cache hits.
  const placements = Object.fromEntries(
    await Promise.all(c.methods.map(async (m) => [m, await readPlacement(placed[m].file, { layers: meta.layers, neurons: meta.neurons })] as const)),
  );
  const data = await computeReportData({
    trace: traces,
    placements,
    chosen: c.method,
    device,
    bundleBytes,
    cacheFraction: c.cacheFraction,
    dtype: c.dtype,
    model: meta.modelId || path.basename(c.model),
    heatmapLayer: c.reportLayer,
  });
  for (const m of data.methods) m.replay = replayed[m.method];
  summary.tokens = data.tokens;
  const io = (m: string): number | undefined => replayed[m]?.io_ms_per_token;
  for (const m of c.methods) {
    const t = replayed[m];
    summary.methods[m] = {
      ...t,
      speedup_vs_identity: Number(((io("identity") ?? Number.NaN) / t.io_ms_per_token).toFixed(4)),
      speedup_vs_neuralink: Number(((io("neuralink") ?? Number.NaN) / t.io_ms_per_token).toFixed(4)),
      ...extras[m],
      choices: placed[m].choices,
    };
  }
  // Nothing run-specific (timings, cache hits) goes into the report: equal inputs give
  // a byte-identical report whether the stages ran or were reused. summary.json has those.
  data.facts.push(["verify", `${path.basename(chosen.file)} (${c.method}): all checksums match`]);
  const report = path.join(runDir, "report.html");
  await writeFileAtomic(report, renderReport(data));
  summary.report = report;
}

/** A path as the user would type it: relative to the working directory when inside it. */
function shown(p: string | undefined): string {
  if (p === undefined) return "";
  const rel = path.relative(process.cwd(), p);
  return rel.startsWith("..") || path.isAbsolute(rel) ? p : rel;
}

/** The table printed at the end of a run. */
export function summaryText(s: PipelineSummary): string {
  const rows = Object.entries(s.methods).map(([m, t]) => [
    m === s.chosen ? `${m} *` : m,
    t.reads_per_token.toFixed(1),
    (t.bytes_per_token / 1024).toFixed(1),
    t.io_ms_per_token.toFixed(3),
    `${(t.hit_rate * 100).toFixed(1)}%`,
    `${t.speedup_vs_identity.toFixed(2)}x`,
    `${t.speedup_vs_neuralink.toFixed(2)}x`,
  ]);
  const cached = s.stages.filter((x) => x.cached).length;
  const choices = s.methods[s.chosen]?.choices;
  return [
    table(["method", "reads/token", "KiB/token", "I/O ms/token", "hit rate", "vs identity", "vs neuralink"], rows),
    "",
    `* packed and verified: ${shown(s.image)}`,
    ...(choices ? [`${s.chosen}'s choice per layer: ${Object.entries(choices).map(([k, v]) => `${k} ${v}`).join(", ")} (docs/placement.md)`] : []),
    `held-out tokens: ${s.tokens?.heldout ?? 0}; cache: ${s.cache?.bundles_per_layer ?? 0} bundles per layer; device ${s.config.device}; dtype ${s.config.dtype}`,
    `stages: ${s.stages.length} (${cached} cached); ${s.seconds.toFixed(1)} s`,
    `report: ${shown(s.report)}`,
    `summary: ${shown(path.join(s.config.out, s.name, "summary.json"))}`,
  ].join("\n");
}
