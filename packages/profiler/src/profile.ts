/**
 * `colink profile`: runs the model over a corpus, batch by batch and layer by layer,
 * and streams which FFN neurons fire into an Arrow trace (core/trace.ts), one record
 * batch per layer per batch of sequences.
 */
import * as fs from "node:fs/promises";
import * as path from "node:path";
import {
  bundleBytesOf,
  Checkpoint,
  fail,
  holdoutSplit,
  type ModelSpec,
  modelSpecFromConfig,
  progress,
  sha256,
  type TraceChunk,
  type TraceMeta,
  TraceWriter,
  tokenColumns,
} from "@colink/core";
import { type ActiveCsr, calibrateTau, checkRule, type RuleName, selectActive } from "./activation.js";
import { checkCheckpoint, Forward } from "./forward.js";
import { Kernels } from "./onnx.js";
import { byteTokens, hfTokens, npyTokens } from "./tokens.js";

export interface ProfileOptions {
  /** Model directory: config.json + model.safetensors (or index + shards). */
  model: string;
  /** Corpus files, concatenated in this order. */
  corpus?: string[];
  /** Pre-tokenized ids (.npy, integer, rank 1 or 2) instead of a corpus. */
  tokenIds?: string;
  out: string;
  /** Tokens per sequence (default 128). */
  seqLen?: number;
  /** Use at most this many tokens of the stream. */
  maxTokens?: number;
  /** Held-out fraction of sequences (default 0.2) and the split's seed (default 0). */
  holdout?: number;
  seed?: number;
  /** "bytes" or a tokenizer.json path; default: the model's tokenizer.json, else bytes for a 256-token vocabulary. */
  tokenizer?: string;
  activation?: RuleName;
  tau?: number;
  target?: number;
  /** Sequences per forward batch (default: about 2048 tokens per batch). */
  batch?: number;
  /** Matmul threads (default 2). */
  threads?: number;
  quiet?: boolean;
  /** Where notes go (default: stderr unless quiet). */
  note?: (message: string) => void;
}

export interface ProfileResult {
  out: string;
  modelId: string;
  architecture: string;
  tokenizer: string;
  tokens: number;
  sequences: number;
  seqLen: number;
  droppedTokens: number;
  heldOutSequences: number;
  layers: number;
  neurons: number;
  activation: { rule: string; params: Record<string, unknown> };
  /** Mean fraction of a layer's neurons active per token. */
  activeFraction: number[];
  seconds: number;
  tokensPerSecond: number;
}

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(
    () => true,
    () => false,
  );
}

async function tokenStream(
  o: ProfileOptions,
  spec: ModelSpec,
  notes: string[],
): Promise<{ ids: Int32Array; tokenizer: string; source: string }> {
  const corpus = o.corpus ?? [];
  if (o.tokenIds) {
    if (corpus.length > 0) fail("BAD_ARGUMENT", "give either --corpus or --token-ids, not both");
    return { ids: await npyTokens(o.tokenIds, o.maxTokens), tokenizer: `token-ids ${path.basename(o.tokenIds)}`, source: o.tokenIds };
  }
  if (corpus.length === 0) fail("BAD_ARGUMENT", "no corpus given: pass --corpus FILE... or --token-ids FILE.npy");
  const source = corpus.join(", ");
  let tok = o.tokenizer;
  if (tok === undefined) {
    const own = path.join(o.model, "tokenizer.json");
    if (await exists(own)) tok = own;
    else if (spec.vocab === 256) {
      // Said only once the corpus proved usable, so a bad corpus still fails in one line.
      notes.push(`colink: ${o.model} has no tokenizer.json and a vocabulary of 256: reading the corpus as bytes (token id = byte value)`);
      tok = "bytes";
    } else
      fail(
        "BAD_ARGUMENT",
        `${o.model}: no tokenizer.json and a vocabulary of ${spec.vocab}: pass --tokenizer FILE or --token-ids FILE.npy`,
        o.model,
      );
  }
  if (tok === "bytes") return { ids: await byteTokens(corpus, o.maxTokens), tokenizer: "bytes", source };
  const digest = sha256(await fs.readFile(tok).catch(() => Buffer.alloc(0)));
  return { ids: await hfTokens(tok, corpus, o.maxTokens), tokenizer: `tokenizer.json sha256:${digest}`, source };
}

/** Profiles a model over a corpus and writes an Arrow trace; see ProfileOptions. */
export async function profileModel(o: ProfileOptions): Promise<ProfileResult> {
  const started = performance.now();
  const say = o.note ?? ((m: string) => (o.quiet ? undefined : process.stderr.write(`${m}\n`)));
  const seqLen = o.seqLen ?? 128;
  if (!(Number.isInteger(seqLen) && seqLen >= 1)) fail("BAD_ARGUMENT", `--seq-len must be an integer >= 1, got ${seqLen}`);
  if (o.maxTokens !== undefined && !(Number.isInteger(o.maxTokens) && o.maxTokens >= 1))
    fail("BAD_ARGUMENT", `--max-tokens must be an integer >= 1, got ${o.maxTokens}`);
  if (o.batch !== undefined && !(Number.isInteger(o.batch) && o.batch >= 1))
    fail("BAD_ARGUMENT", `--batch must be an integer >= 1 (sequences per forward batch), got ${o.batch}`);
  if (o.threads !== undefined && !(Number.isInteger(o.threads) && o.threads >= 1 && o.threads <= 256))
    fail("BAD_ARGUMENT", `--threads must be an integer in [1, 256], got ${o.threads}`);
  const holdout = o.holdout ?? 0.2;
  const seed = o.seed ?? 0;
  const rule: RuleName = o.activation ?? "nonzero";
  checkRule({ rule, tau: o.tau, target: o.target });

  const ck = await Checkpoint.open(o.model);
  let writer: TraceWriter | null = null;
  let kernels: Kernels | null = null;
  try {
    const spec = modelSpecFromConfig(ck.config, path.join(o.model, "config.json"));
    if (seqLen > spec.maxPositions)
      fail("BAD_ARGUMENT", `--seq-len ${seqLen} exceeds the model's max_position_embeddings ${spec.maxPositions}`);
    if (spec.slidingWindow && seqLen > spec.slidingWindow)
      fail("UNSUPPORTED", `--seq-len ${seqLen} exceeds the model's sliding_window ${spec.slidingWindow}; windowed attention is not implemented`);
    checkCheckpoint(spec, ck);
    const notes: string[] = [];
    const { ids, tokenizer, source } = await tokenStream(o, spec, notes);
    for (let i = 0; i < ids.length; i++)
      if (ids[i] >= spec.vocab) fail("BAD_ARGUMENT", `${source}: token id ${ids[i]} at index ${i} is outside the model's vocabulary of ${spec.vocab}`);
    const sequences = Math.floor(ids.length / seqLen);
    const tokens = sequences * seqLen;
    const dropped = ids.length - tokens;
    if (sequences === 0)
      fail("BAD_ARGUMENT", `${source}: ${ids.length} tokens, fewer than one sequence of --seq-len ${seqLen} (is the corpus empty?)`);
    for (const m of notes) say(m);
    if (dropped > 0) say(`colink: dropped the last ${dropped} tokens (a partial sequence of --seq-len ${seqLen})`);
    if (rule === "nonzero" && spec.act !== "relu")
      say(
        `colink: ${spec.architecture} uses ${spec.act}, whose values are almost never exactly 0, so --activation nonzero marks nearly every neuron active; for a sparse trace use --activation threshold --tau T or target-sparsity --target F`,
      );
    const split = holdoutSplit(sequences, holdout, seed);
    const used = ids.subarray(0, tokens);
    const batch = Math.max(1, Math.min(sequences, o.batch ?? Math.max(1, Math.floor(2048 / seqLen))));
    const n = spec.ffn;

    kernels = await Kernels.create(o.threads ?? 2);
    const fwd = new Forward(spec, ck, kernels);
    const taus: number[] = rule === "threshold" ? new Array(spec.layers).fill(o.tau) : [];
    const activeCounts = new Float64Array(spec.layers);
    const pending: TraceChunk[] = [];
    const bar = progress({ label: "profile", total: tokens, unit: "tok", quiet: o.quiet });

    const meta = (): TraceMeta => ({
      schemaVersion: 1,
      modelId: spec.modelId,
      configDigest: sha256(ck.configText),
      layers: spec.layers,
      neurons: n,
      activation: {
        rule,
        params: rule === "nonzero" ? {} : rule === "threshold" ? { tau: taus } : { target: o.target, tau: taus, calibrationTokens: Math.min(batch, sequences) * seqLen },
      },
      corpusDigest: sha256(new Uint8Array(used.buffer, used.byteOffset, used.byteLength)),
      seqLen,
      sequences,
      tokens,
      holdout,
      seed,
      source: "profile",
      // bundleBytes: the fp16 bundle, what `colink place` assumes without --bundle-bytes
      extra: { architecture: spec.architecture, family: spec.family, hiddenSize: spec.hidden, bundleBytes: bundleBytesOf(spec, "f16"), tokenizer, droppedTokens: dropped },
    });

    for (let s0 = 0; s0 < sequences; s0 += batch) {
      const b = Math.min(batch, sequences - s0);
      const rows = b * seqLen;
      const { seq, pos, split: sp } = tokenColumns(s0 * seqLen, (s0 + b) * seqLen, seqLen, split);
      await fwd.run(used.subarray(s0 * seqLen, (s0 + b) * seqLen), b, seqLen, {
        onFfn: (layer, values) => {
          // target-sparsity: tau per layer fixed from the first batch of the corpus.
          if (rule === "target-sparsity" && taus.length === layer) taus.push(calibrateTau(values.subarray(0, rows * n), o.target!));
          const csr: ActiveCsr = selectActive(values, rows, n, rule === "nonzero" ? null : taus[layer]);
          activeCounts[layer] += csr.offsets[rows];
          // A 7B batch takes minutes: advance the bar per layer, not per batch.
          bar.update(s0 * seqLen + Math.round((rows * (layer + 1)) / spec.layers));
          const chunk = { layer, seq, pos, split: sp, offsets: csr.offsets, ids: csr.ids };
          if (writer) writer.write(chunk);
          else pending.push(chunk);
        },
      });
      if (!writer) {
        // The metadata holds the calibrated taus, so the file starts after the first batch.
        writer = await TraceWriter.create(o.out, meta());
        for (const c of pending.splice(0)) writer.write(c);
      }
    }
    bar.done();
    await writer!.close();
    writer = null;
    const seconds = (performance.now() - started) / 1000;
    const m = meta();
    return {
      out: o.out,
      modelId: spec.modelId,
      architecture: spec.architecture,
      tokenizer,
      tokens,
      sequences,
      seqLen,
      droppedTokens: dropped,
      heldOutSequences: split.reduce((a, v) => a + v, 0),
      layers: spec.layers,
      neurons: n,
      activation: { rule, params: m.activation.params ?? {} },
      activeFraction: Array.from(activeCounts, (c) => c / (tokens * n)),
      seconds,
      tokensPerSecond: tokens / seconds,
    };
  } finally {
    if (writer) await (writer as TraceWriter).abort();
    if (kernels) await kernels.release();
    await ck.close();
  }
}
