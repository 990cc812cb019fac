/** @colink/profiler: forward passes over Hugging Face checkpoints, activation traces, trace tools. */
export { type FfnHook, Forward, type ForwardOptions, type ForwardResult } from "./forward.js";
export { Kernels } from "./onnx.js";
export { type ProfileOptions, type ProfileResult, profileModel } from "./profile.js";
export { type SynthOptions, type SynthResult, synthesizeTrace } from "./synth.js";
export {
  type ExportResult,
  exportMasks,
  type ImportOptions,
  type ImportResult,
  importMasks,
  type LayerStats,
  type TraceStats,
  traceStats,
} from "./tracetools.js";
