/**
 * What colink needs to know about a Hugging Face model, read from its config.json,
 * and which checkpoint slices make up one FFN neuron's bundle. The profiler runs
 * forward passes from a ModelSpec; the packer builds bundles from ffnParts, so the
 * part order and names here are the image's contract (docs/format.md).
 */
import * as path from "node:path";
import { fail } from "./errors.js";
import { isQuantized, storedBytes } from "./image/format.js";
import type { ModelFamily, StoredDtype } from "./image/types.js";

export type Activation = "relu" | "silu" | "gelu" | "gelu_new" | "gelu_pytorch_tanh";

const ACTIVATIONS: readonly string[] = ["relu", "silu", "gelu", "gelu_new", "gelu_pytorch_tanh"];

export interface ModelSpec {
  family: ModelFamily;
  /** Hugging Face architecture, e.g. LlamaForCausalLM. */
  architecture: string;
  modelId: string;
  layers: number;
  hidden: number;
  /** FFN neurons per layer (intermediate_size / ffn_dim). */
  ffn: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  act: Activation;
  /** RMSNorm eps (Llama) or LayerNorm eps (OPT). */
  normEps: number;
  /** Rotary base (Llama family; 0 for OPT). */
  ropeTheta: number;
  maxPositions: number;
  tieWordEmbeddings: boolean;
  /** OPT: pre-norm (true) or post-norm (false, as in opt-350m). */
  doLayerNormBefore: boolean;
  /** OPT: embedding width; differs from hidden in the 350m variant (project_in/out). */
  wordEmbedProjDim: number;
  /** OPT: whether linear layers have biases. */
  enableBias: boolean;
  /** OPT: whether the decoder has a final LayerNorm (pre-norm models without _remove_final_layer_norm). */
  finalLayerNorm: boolean;
  /** Mistral: attention window in tokens (0 = none); sequences longer than it are refused. */
  slidingWindow?: number;
}

function intField(config: Record<string, unknown>, key: string, file: string, dflt?: number): number {
  const v = config[key] ?? dflt;
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0)
    fail("BAD_FORMAT", `${file}: field "${key}" must be an integer > 0, got ${JSON.stringify(config[key])}`, file);
  return v;
}

function numField(config: Record<string, unknown>, key: string, file: string, dflt: number): number {
  const v = config[key] ?? dflt;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0)
    fail("BAD_FORMAT", `${file}: field "${key}" must be a number >= 0, got ${JSON.stringify(config[key])}`, file);
  return v;
}

function boolField(config: Record<string, unknown>, key: string, dflt: boolean): boolean {
  const v = config[key];
  return typeof v === "boolean" ? v : dflt;
}

function actField(config: Record<string, unknown>, key: string, file: string, dflt: string): Activation {
  const v = config[key] ?? dflt;
  if (typeof v !== "string" || !ACTIVATIONS.includes(v))
    fail("UNSUPPORTED", `${file}: ${key} ${JSON.stringify(v)} is not supported (expected one of ${ACTIVATIONS.join(", ")})`, file);
  return v as Activation;
}

export const SUPPORTED_ARCHITECTURES: readonly string[] = ["LlamaForCausalLM", "MistralForCausalLM", "OPTForCausalLM"];

/**
 * Reads a parsed config.json. `file` is its path, used in errors and, when the config
 * has no `_name_or_path`, to name the model after its directory.
 */
export function modelSpecFromConfig(config: Record<string, unknown>, file: string): ModelSpec {
  const archs = config.architectures;
  const architecture = Array.isArray(archs) && typeof archs[0] === "string" ? archs[0] : undefined;
  if (!architecture)
    fail("BAD_FORMAT", `${file}: field "architectures" is missing (expected e.g. ["LlamaForCausalLM"])`, file);
  if (!SUPPORTED_ARCHITECTURES.includes(architecture))
    fail("UNSUPPORTED", `${file}: architecture ${architecture} is not supported (expected one of ${SUPPORTED_ARCHITECTURES.join(", ")})`, file);
  const named = config._name_or_path;
  const modelId = typeof named === "string" && named.length > 0 ? named : path.basename(path.dirname(path.resolve(file)));
  const layers = intField(config, "num_hidden_layers", file);
  const hidden = intField(config, "hidden_size", file);
  const heads = intField(config, "num_attention_heads", file);
  const vocab = intField(config, "vocab_size", file);
  if (hidden % heads !== 0) fail("BAD_FORMAT", `${file}: hidden_size ${hidden} is not a multiple of num_attention_heads ${heads}`, file);

  if (architecture === "OPTForCausalLM") {
    const wordEmbedProjDim = intField(config, "word_embed_proj_dim", file, hidden);
    const doLayerNormBefore = boolField(config, "do_layer_norm_before", true);
    if (config.layer_norm_elementwise_affine === false)
      fail("UNSUPPORTED", `${file}: layer_norm_elementwise_affine=false is not supported`, file);
    return {
      family: "opt",
      architecture,
      modelId,
      layers,
      hidden,
      ffn: intField(config, "ffn_dim", file),
      heads,
      kvHeads: heads,
      headDim: hidden / heads,
      vocab,
      act: actField(config, "activation_function", file, "relu"),
      normEps: 1e-5, // OPT's nn.LayerNorm default; the config does not carry it
      ropeTheta: 0,
      maxPositions: intField(config, "max_position_embeddings", file),
      tieWordEmbeddings: boolField(config, "tie_word_embeddings", true),
      doLayerNormBefore,
      wordEmbedProjDim,
      enableBias: boolField(config, "enable_bias", true),
      finalLayerNorm: doLayerNormBefore && !boolField(config, "_remove_final_layer_norm", false),
    };
  }

  const kvHeads = intField(config, "num_key_value_heads", file, heads);
  if (heads % kvHeads !== 0)
    fail("BAD_FORMAT", `${file}: num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`, file);
  const headDim = intField(config, "head_dim", file, hidden / heads);
  const scaling = config.rope_scaling;
  if (scaling !== undefined && scaling !== null)
    fail("UNSUPPORTED", `${file}: rope_scaling ${JSON.stringify(scaling)} is not supported (expected null)`, file);
  return {
    family: "llama",
    architecture,
    modelId,
    layers,
    hidden,
    ffn: intField(config, "intermediate_size", file),
    heads,
    kvHeads,
    headDim,
    vocab,
    act: actField(config, "hidden_act", file, "silu"),
    normEps: numField(config, "rms_norm_eps", file, 1e-6),
    ropeTheta: numField(config, "rope_theta", file, 10000),
    maxPositions: intField(config, "max_position_embeddings", file, 2048),
    tieWordEmbeddings: boolField(config, "tie_word_embeddings", false),
    doLayerNormBefore: true,
    wordEmbedProjDim: hidden,
    enableBias: false,
    finalLayerNorm: true,
    slidingWindow: typeof config.sliding_window === "number" && config.sliding_window > 0 ? config.sliding_window : 0,
  };
}

/** How a bundle part is cut from its checkpoint tensor, for neuron i. */
export type PartLayout = "row" | "column" | "element";

export interface FfnPart {
  /** gate | up | down (Llama family); fc1 | fc1_bias | fc2 (OPT family) */
  name: string;
  /** Checkpoint tensor name. */
  tensor: string;
  /** row i of a [ffn, hidden] matrix, column i of a [hidden, ffn] matrix, or element i of an [ffn] vector. */
  layout: PartLayout;
  /** Values per neuron in this part. */
  elements: number;
}

/** The parts of one FFN neuron's bundle in bundle order, with their checkpoint tensors. */
export function ffnParts(spec: ModelSpec, layer: number): FfnPart[] {
  if (!(Number.isInteger(layer) && layer >= 0 && layer < spec.layers))
    fail("BAD_ARGUMENT", `layer ${layer} is out of range [0, ${spec.layers})`);
  const d = spec.hidden;
  if (spec.family === "llama") {
    const p = `model.layers.${layer}.mlp.`;
    return [
      { name: "gate", tensor: `${p}gate_proj.weight`, layout: "row", elements: d },
      { name: "up", tensor: `${p}up_proj.weight`, layout: "row", elements: d },
      { name: "down", tensor: `${p}down_proj.weight`, layout: "column", elements: d },
    ];
  }
  const p = `model.decoder.layers.${layer}.`;
  const parts: FfnPart[] = [{ name: "fc1", tensor: `${p}fc1.weight`, layout: "row", elements: d }];
  if (spec.enableBias) parts.push({ name: "fc1_bias", tensor: `${p}fc1.bias`, layout: "element", elements: 1 });
  parts.push({ name: "fc2", tensor: `${p}fc2.weight`, layout: "column", elements: d });
  return parts;
}

/**
 * The dtype a bundle part is stored in under `--dtype dtype`: a bias is one value
 * per neuron, which a 32-value quantisation block cannot hold, so it stays f32.
 */
export function partDtype(part: FfnPart, dtype: StoredDtype): StoredDtype {
  return part.layout === "element" && isQuantized(dtype) ? "f32" : dtype;
}

/** Bytes of one FFN neuron's bundle stored in `dtype`: what `colink pack --dtype` writes. */
export function bundleBytesOf(spec: ModelSpec, dtype: StoredDtype): number {
  let bytes = 0;
  for (const p of ffnParts(spec, 0)) bytes += storedBytes(partDtype(p, dtype), p.elements, `${p.name} part`);
  return bytes;
}
