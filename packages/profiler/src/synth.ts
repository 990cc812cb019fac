/**
 * Synthetic activation traces whose statistics follow published measurements of
 * real models (placeholder: implemented in the placer work, see docs/traces.md).
 */
import { ColinkError } from "@colink/core";

export interface SynthOptions {
  /** llama2-7b | opt-6.7b | mistral-7b | NxL (neurons x layers, e.g. 1024x3) */
  shape: string;
  tokens: number;
  seed: number;
  out: string;
  /** Tokens per sequence (default 128) and held-out fraction (default 0.2). */
  seqLen?: number;
  holdout?: number;
  quiet?: boolean;
}

export interface SynthResult {
  layers: number;
  neurons: number;
  tokens: number;
  sequences: number;
}

export async function synthesizeTrace(_opts: SynthOptions): Promise<SynthResult> {
  throw new ColinkError("UNSUPPORTED", "trace synth is not implemented yet");
}
