/**
 * Pipeline configuration: defaults, a JSON config file (`--config release.json`),
 * and command-line flags, merged in that order (flags win). Paths in a config file
 * are relative to the file's directory; paths given as flags are relative to the
 * working directory. Every field is checked with one error line naming the field.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { ColinkError, DEVICE_PROFILES, fail, readJsonFile } from "@colink/core";

export const METHODS = ["identity", "frequency", "neuralink", "colink"] as const;
export const DTYPES = ["f32", "f16", "bf16", "q8_0", "q4_0"] as const;
export const BASELINES = ["identity", "frequency", "neuralink"] as const;
export const ACTIVATIONS = ["nonzero", "threshold", "target-sparsity"] as const;

export interface PipelineConfig {
  /** Model directory (config.json + *.safetensors). */
  model: string;
  /** Text corpus to profile on ("" when `tokenIds` is given). */
  corpus: string;
  /** Pre-tokenized ids (.npy, as `colink profile --token-ids`) to profile instead of the corpus; "" = profile the corpus. */
  tokenIds: string;
  /** How the corpus becomes token ids: "bytes", a tokenizer.json file, or "" for the profiler's default. */
  tokenizer: string;
  /** Device profile name (ufs31, ufs40, nvme) or a profile JSON file. */
  device: string;
  /** Dtype the FFN bundles are stored in. */
  dtype: (typeof DTYPES)[number];
  /** The placement method that gets packed and verified. */
  method: (typeof METHODS)[number];
  /** Every method compared (always includes `method`; identity and neuralink are needed for the ratios). */
  methods: (typeof METHODS)[number][];
  /** Per-layer DRAM cache as a fraction of the layer's neurons (same for every method). */
  cacheFraction: number;
  /** Held-out fraction of sequences (never used for fitting). */
  holdout: number;
  /** Which FFN neurons count as active: nonzero (ReLU models), threshold (|v| > tau), target-sparsity. */
  activation: (typeof ACTIVATIONS)[number];
  /** threshold's tau (>= 0); -1 = not set. */
  tau: number;
  /** target-sparsity's active fraction, in (0, 1]; -1 = not set. */
  target: number;
  /** Tokens per profiled sequence. */
  seqLen: number;
  /** Tokens profiled from the corpus (0 = whole corpus). */
  maxTokens: number;
  /** Seed for the split and any randomised step. */
  seed: number;
  /** Output root; the run writes into `<out>/<name>/`. */
  out: string;
  name: string;
  /** Layer whose co-activation heatmap the report shows (-1 = the middle layer). */
  reportLayer: number;
}

/** The tokenizer setting's file; undefined for "bytes" and for the profiler's default (""). */
export function tokenizerFile(tokenizer: unknown): string | undefined {
  return tokenizer === "" || tokenizer === "bytes" || typeof tokenizer !== "string" ? undefined : tokenizer;
}

export interface ActivationRule {
  activation: PipelineConfig["activation"];
  tau?: number;
  target?: number;
}

/** The activation rule with only its own parameter: threshold's tau, target-sparsity's target. */
export function activationRule(c: Pick<PipelineConfig, "activation" | "tau" | "target">): ActivationRule {
  if (c.activation === "threshold") return { activation: c.activation, tau: c.tau };
  if (c.activation === "target-sparsity") return { activation: c.activation, target: c.target };
  return { activation: c.activation };
}

/** The repository root, found from this file's location (packages/cli/{src,dist}/pipeline/). */
export function repoRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.resolve(here, "../../../..");
}

/** Defaults chosen so that `colink pipeline` (npm run demo) takes a few minutes on 2 cores. */
export function defaultConfig(): PipelineConfig {
  const root = repoRoot();
  return {
    model: path.join(root, "data/models/tiny-relu-llama"),
    corpus: path.join(root, "data/corpus/fortunes-sample.txt"),
    tokenizer: "",
    tokenIds: "",
    device: "ufs40",
    dtype: "f16",
    method: "colink",
    methods: ["identity", "frequency", "neuralink", "colink"],
    cacheFraction: 0.1,
    holdout: 0.2,
    activation: "nonzero",
    tau: -1,
    target: -1,
    seqLen: 128,
    maxTokens: 16384,
    seed: 1,
    out: path.resolve("out"),
    name: "demo",
    reportLayer: -1,
  };
}

const KEYS: Record<keyof PipelineConfig, "string" | "number" | "array"> = {
  model: "string",
  corpus: "string",
  tokenizer: "string",
  tokenIds: "string",
  device: "string",
  dtype: "string",
  method: "string",
  methods: "array",
  cacheFraction: "number",
  holdout: "number",
  activation: "string",
  tau: "number",
  target: "number",
  seqLen: "number",
  maxTokens: "number",
  seed: "number",
  out: "string",
  name: "string",
  reportLayer: "number",
};
const PATH_KEYS = new Set<keyof PipelineConfig>(["model", "corpus", "tokenIds", "out"]);

/** Reads a config file into a partial config; unknown keys and wrong types are errors. */
export async function readConfigFile(file: string): Promise<Partial<PipelineConfig>> {
  const value = await readJsonFile(file);
  if (typeof value !== "object" || value === null || Array.isArray(value))
    fail("BAD_FORMAT", `${file}: expected a JSON object with pipeline settings (see docs/pipeline.md)`, file);
  const dir = path.dirname(path.resolve(file));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const kind = KEYS[k as keyof PipelineConfig];
    if (kind === undefined)
      fail("BAD_FORMAT", `${file}: unknown field "${k}"; expected one of ${Object.keys(KEYS).join(", ")}`, file);
    const ok = kind === "array" ? Array.isArray(v) || typeof v === "string" : typeof v === kind;
    if (!ok) fail("BAD_FORMAT", `${file}: field "${k}" must be a ${kind}, got ${JSON.stringify(v)}`, file);
    // a device given as a profile file (not a built-in name) is a path too, and so is a tokenizer file
    const isPath =
      PATH_KEYS.has(k as keyof PipelineConfig) ||
      (k === "device" && /[./\\]/.test(v as string)) ||
      (k === "tokenizer" && tokenizerFile(v) !== undefined);
    out[k] = isPath && v !== "" ? path.resolve(dir, v as string) : v;
  }
  return out as Partial<PipelineConfig>;
}

/** Accepts `["a","b"]`, `"a,b"`, or repeated flags. */
function methodList(v: unknown): string[] {
  const items = Array.isArray(v) ? v : [v];
  return items.flatMap((x) => String(x).split(",")).map((s) => s.trim()).filter((s) => s.length > 0);
}

/**
 * Merges defaults, file and flags and validates the result. `flags` holds only the
 * options the user actually gave (undefined ones are ignored).
 */
export function resolveConfig(file: Partial<PipelineConfig>, flags: Partial<Record<keyof PipelineConfig, unknown>>, where = "pipeline"): PipelineConfig {
  const merged: Record<string, unknown> = { ...defaultConfig(), ...file };
  for (const [k, v] of Object.entries(flags)) {
    if (v === undefined || !(k in KEYS)) continue;
    const isPath = PATH_KEYS.has(k as keyof PipelineConfig) || (k === "tokenizer" && tokenizerFile(v) !== undefined);
    merged[k] = isPath && v !== "" ? path.resolve(String(v)) : v;
  }
  // token ids replace the text: the default corpus steps aside, one the user gave is a conflict
  if (typeof merged.tokenIds === "string" && merged.tokenIds !== "") {
    if (file.corpus !== undefined || flags.corpus !== undefined)
      fail("BAD_ARGUMENT", `${where}: give either corpus or tokenIds, not both`);
    merged.corpus = "";
  }
  return validateConfig(merged, where);
}

export function validateConfig(c: Record<string, unknown>, where: string): PipelineConfig {
  const bad = (field: string, expected: string): never =>
    fail("BAD_ARGUMENT", `${where}: ${field} must be ${expected}, got ${JSON.stringify(c[field])}`);
  const num = (field: string, ok: (x: number) => boolean, expected: string): number => {
    const x = typeof c[field] === "string" ? Number(c[field]) : c[field];
    if (typeof x !== "number" || !Number.isFinite(x) || !ok(x)) bad(field, expected);
    return x as number;
  };
  const str = (field: string): string => {
    if (typeof c[field] !== "string" || (c[field] as string).length === 0) bad(field, "a non-empty string");
    return c[field] as string;
  };
  const method = str("method");
  if (!(METHODS as readonly string[]).includes(method)) bad("method", `one of ${METHODS.join(", ")}`);
  const methods = methodList(c.methods);
  for (const m of methods)
    if (!(METHODS as readonly string[]).includes(m))
      throw new ColinkError("BAD_ARGUMENT", `${where}: methods: unknown method "${m}", expected ${METHODS.join(", ")}`);
  // The chosen method and the two ratio baselines are always compared.
  const all = METHODS.filter((m) => m === method || m === "identity" || m === "neuralink" || methods.includes(m));
  const dtype = str("dtype");
  if (!(DTYPES as readonly string[]).includes(dtype)) bad("dtype", `one of ${DTYPES.join(", ")}`);
  const device = str("device");
  if (!DEVICE_PROFILES[device] && !/[./\\]/.test(device))
    bad("device", `one of ${Object.keys(DEVICE_PROFILES).join(", ")} or a profile JSON file`);
  const activation = str("activation");
  if (!(ACTIVATIONS as readonly string[]).includes(activation)) bad("activation", `one of ${ACTIVATIONS.join(", ")}`);
  const tau = num("tau", (x) => x >= 0 || x === -1, "a number >= 0 (-1: not set)");
  const target = num("target", (x) => (x > 0 && x <= 1) || x === -1, "a fraction in (0, 1] (-1: not set)");
  if (activation === "threshold" && tau < 0) fail("BAD_ARGUMENT", `${where}: activation threshold needs tau (a number >= 0)`);
  if (activation === "target-sparsity" && target < 0)
    fail("BAD_ARGUMENT", `${where}: activation target-sparsity needs target (a fraction in (0, 1])`);
  const name = str("name");
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) bad("name", "a plain directory name (letters, digits, . _ -)");
  const model = str("model");
  if (!fs.existsSync(path.join(model, "config.json")))
    throw new ColinkError("NOT_FOUND", `${where}: model ${model}: no config.json there (expected a Hugging Face model directory)`, model);
  if (typeof c.tokenIds !== "string") bad("tokenIds", "a .npy file of token ids, or \"\" to profile the corpus");
  const tokenIds = c.tokenIds as string;
  if (tokenIds !== "" && !fs.existsSync(tokenIds))
    throw new ColinkError("NOT_FOUND", `${where}: tokenIds ${tokenIds}: no such file (expected a .npy of token ids)`, tokenIds);
  const corpus = tokenIds === "" ? str("corpus") : "";
  if (tokenIds === "" && !fs.existsSync(corpus)) throw new ColinkError("NOT_FOUND", `${where}: corpus ${corpus}: no such file`, corpus);
  if (typeof c.tokenizer !== "string") bad("tokenizer", '"bytes" or a tokenizer.json file');
  const tokenizer = c.tokenizer as string;
  if (tokenizerFile(tokenizer) !== undefined && !fs.existsSync(tokenizer))
    throw new ColinkError("NOT_FOUND", `${where}: tokenizer ${tokenizer}: no such file (expected "bytes" or a tokenizer.json)`, tokenizer);
  return {
    model,
    corpus,
    tokenIds,
    tokenizer,
    device,
    dtype: dtype as PipelineConfig["dtype"],
    method: method as PipelineConfig["method"],
    methods: all,
    cacheFraction: num("cacheFraction", (x) => x >= 0 && x < 1, "a number in [0, 1)"),
    holdout: num("holdout", (x) => x > 0 && x < 1, "a number in (0, 1): replay needs held-out tokens"),
    activation: activation as PipelineConfig["activation"],
    tau,
    target,
    seqLen: num("seqLen", (x) => Number.isInteger(x) && x >= 2, "an integer >= 2"),
    maxTokens: num("maxTokens", (x) => Number.isInteger(x) && x >= 0, "an integer >= 0 (0 = whole corpus)"),
    seed: num("seed", (x) => Number.isInteger(x) && x >= 0, "an integer >= 0"),
    out: str("out"),
    name,
    reportLayer: num("reportLayer", (x) => Number.isInteger(x) && x >= -1, "a layer index, or -1 for the middle layer"),
  };
}
