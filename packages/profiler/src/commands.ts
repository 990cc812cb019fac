/**
 * CLI: `colink profile` and `colink trace import|export|stats|synth`. Handlers load
 * their implementation lazily so `colink --help` stays fast.
 */
import type { Argv, CommandModule } from "yargs";

type Args = Record<string, unknown> & { json?: boolean; quiet?: boolean };

const profileCommand: CommandModule = {
  command: "profile",
  describe: "Run a model over a corpus and record which FFN neurons fire per token (Arrow trace)",
  builder: (y: Argv) =>
    y
      .option("model", { type: "string", demandOption: true, describe: "Model directory: config.json + model.safetensors (or index + shards)" })
      .option("corpus", { type: "string", array: true, describe: "Text files, concatenated in the order given" })
      .option("token-ids", { type: "string", describe: "Pre-tokenized ids instead of --corpus: .npy of integers, shape (tokens,) or (sequences, len)" })
      .option("out", { type: "string", demandOption: true, describe: "Trace file to write (Arrow IPC, written atomically)" })
      .option("seq-len", { type: "number", default: 128, describe: "Tokens per sequence; each runs from position 0, a final partial one is dropped" })
      .option("max-tokens", { type: "number", describe: "Use at most this many tokens of the stream" })
      .option("holdout", { type: "number", default: 0.2, describe: "Fraction of sequences marked held-out (split column)" })
      .option("seed", { type: "number", default: 0, describe: "Seed of the fit/held-out split" })
      .option("tokenizer", {
        type: "string",
        describe: "bytes, or a tokenizer.json [default: the model's tokenizer.json; bytes for a 256-token vocabulary without one]",
      })
      .option("activation", {
        type: "string",
        choices: ["nonzero", "threshold", "target-sparsity"],
        default: "nonzero",
        describe: "Active rule: v != 0 (ReLU models), |v| > --tau, or per-layer tau calibrated to --target",
      })
      .option("tau", { type: "number", describe: "Threshold for --activation threshold" })
      .option("target", { type: "number", describe: "Active fraction for --activation target-sparsity, e.g. 0.1" })
      .option("batch", { type: "number", describe: "Sequences per forward batch [default: about 2048 tokens]" })
      .option("threads", { type: "number", default: 2, describe: "Matrix-multiply threads" })
      .example("$0 profile --model data/models/tiny-relu-llama --corpus data/corpus/fortunes-sample.txt --out out/traces.arrow", "Profile the bundled model")
      .example("$0 profile --model llama-2-7b --token-ids ids.npy --activation target-sparsity --target 0.1 --out t.arrow", "A SiLU model, 10% active"),
  handler: async (argv) => {
    const a = argv as Args;
    const { profileModel, profileText } = await import("./impl.js");
    const { report } = await import("@colink/core");
    const r = await profileModel({
      model: a.model as string,
      corpus: a.corpus as string[] | undefined,
      tokenIds: a.tokenIds as string | undefined,
      out: a.out as string,
      seqLen: a.seqLen as number,
      maxTokens: a.maxTokens as number | undefined,
      holdout: a.holdout as number,
      seed: a.seed as number,
      tokenizer: a.tokenizer as string | undefined,
      activation: a.activation as "nonzero",
      tau: a.tau as number | undefined,
      target: a.target as number | undefined,
      batch: a.batch as number | undefined,
      threads: a.threads as number,
      quiet: a.quiet,
    });
    report(a, r, () => profileText(r));
  },
};

const importCommand: CommandModule = {
  command: "import <masks>",
  describe: "Turn NumPy masks (uint8 or bool, shape [tokens, layers, neurons]) into a trace",
  builder: (y: Argv) =>
    y
      .positional("masks", { type: "string", demandOption: true, describe: ".npy file of masks" })
      .option("out", { type: "string", demandOption: true, describe: "Trace file to write" })
      .option("seq-len", { type: "number", default: 128, describe: "Tokens per sequence (the last may be shorter)" })
      .option("holdout", { type: "number", default: 0.2, describe: "Fraction of sequences marked held-out" })
      .option("seed", { type: "number", default: 0, describe: "Seed of the split" })
      .example("$0 trace import masks.npy --out traces.arrow --seq-len 256", "Import masks recorded elsewhere"),
  handler: async (argv) => {
    const a = argv as Args;
    const { importMasks } = await import("./impl.js");
    const { report } = await import("@colink/core");
    const r = await importMasks({ masks: a.masks as string, out: a.out as string, seqLen: a.seqLen as number, holdout: a.holdout as number, seed: a.seed as number });
    report(a, r, () => `${r.out}: ${r.tokens} tokens, ${r.sequences} sequences, ${r.layers} layers x ${r.neurons} neurons`);
  },
};

const exportCommand: CommandModule = {
  command: "export <trace>",
  describe: "Write a trace's masks as NumPy .npy, uint8, shape [tokens, layers, neurons]",
  builder: (y: Argv) =>
    y
      .positional("trace", { type: "string", demandOption: true, describe: "Trace file (Arrow IPC)" })
      .option("out", { type: "string", demandOption: true, describe: ".npy file to write" })
      .example("$0 trace export traces.arrow --out masks.npy", "Masks for NumPy: np.load('masks.npy')"),
  handler: async (argv) => {
    const a = argv as Args;
    const { exportMasks } = await import("./impl.js");
    const { report } = await import("@colink/core");
    const r = await exportMasks(a.trace as string, a.out as string);
    report(a, r, () => `${r.out}: uint8 masks of shape (${r.shape.join(", ")})`);
  },
};

const statsCommand: CommandModule = {
  command: "stats <trace>",
  describe: "Per layer: mean active fraction, share taken by the hottest 10% of neurons, token-to-token reuse",
  builder: (y: Argv) =>
    y
      .positional("trace", { type: "string", demandOption: true, describe: "Trace file (Arrow IPC)" })
      .example("$0 trace stats out/traces.arrow", "Summarise a trace")
      .example("$0 trace stats out/traces.arrow --json", "The same as JSON"),
  handler: async (argv) => {
    const a = argv as Args;
    const { traceStats, statsText } = await import("./impl.js");
    const { report } = await import("@colink/core");
    const r = await traceStats(a.trace as string);
    report(a, r, () => statsText(r));
  },
};

const synthCommand: CommandModule = {
  command: "synth",
  describe: "Generate a synthetic trace with published sparsity, hotness, co-activation and reuse statistics",
  builder: (y: Argv) =>
    y
      .option("shape", { type: "string", demandOption: true, describe: "llama2-7b, opt-6.7b, mistral-7b, or NxL (neurons x layers, e.g. 1024x3)" })
      .option("tokens", { type: "number", demandOption: true, describe: "Tokens to generate" })
      .option("seed", { type: "number", default: 0, describe: "PRNG seed (same seed, same bytes)" })
      .option("out", { type: "string", demandOption: true, describe: "Trace file to write" })
      .option("seq-len", { type: "number", default: 128, describe: "Tokens per sequence" })
      .option("holdout", { type: "number", default: 0.2, describe: "Fraction of sequences marked held-out" })
      .option("density-lo", { type: "number", describe: "Target active fraction at the first layer [shape default: 0.05; OPT 0.02]" })
      .option("density-hi", { type: "number", describe: "Target active fraction at the last layer [shape default: 0.09; OPT 0.04]" })
      .option("alpha", { type: "number", describe: "Power-law exponent of neuron hotness [1.0]" })
      .option("background", { type: "number", describe: "Share of active neurons drawn by hotness, not clusters [0.4]" })
      .option("cluster-size", { type: "number", describe: "Neurons per co-activation cluster [64; NxL: neurons/64 in 4..64]" })
      .option("cluster-alpha", { type: "number", describe: "Zipf exponent of cluster popularity [1.1]" })
      .option("p-in", { type: "number", describe: "Probability that a member of an active cluster fires [0.6]" })
      .option("reuse", { type: "number", describe: "Probability that a cluster carries over to the next token [0.7]" })
      .group(["shape", "tokens", "seed", "out", "seq-len", "holdout"], "Options:")
      .group(["density-lo", "density-hi", "alpha", "background", "cluster-size", "cluster-alpha", "p-in", "reuse"], "Generative model (overrides the shape's defaults):")
      .example("$0 trace synth --shape llama2-7b --tokens 4096 --seed 1 --out out/synth.arrow", "A Llama-2-7B-shaped trace")
      .example("$0 trace synth --shape llama2-7b --tokens 10240 --seed 2 --reuse 0.95 --background 0.2 --p-in 0.9 --out out/reuse.arrow", "Strong token-to-token reuse (LRU beats pinning)"),
  handler: async (argv) => {
    const a = argv as Args;
    const { synthesizeTrace } = await import("./synth.js");
    const { report } = await import("@colink/core");
    const r = await synthesizeTrace({
      shape: a.shape as string,
      tokens: a.tokens as number,
      seed: a.seed as number,
      out: a.out as string,
      seqLen: a.seqLen as number,
      holdout: a.holdout as number,
      quiet: a.quiet,
      model: {
        densityLo: a.densityLo as number | undefined,
        densityHi: a.densityHi as number | undefined,
        alpha: a.alpha as number | undefined,
        background: a.background as number | undefined,
        clusterSize: a.clusterSize as number | undefined,
        clusterAlpha: a.clusterAlpha as number | undefined,
        pIn: a.pIn as number | undefined,
        reuse: a.reuse as number | undefined,
      },
    });
    report(a, { out: a.out, ...r }, () => `${a.out}: ${r.tokens} tokens, ${r.sequences} sequences, ${r.layers} layers x ${r.neurons} neurons`);
  },
};

const traceCommand: CommandModule = {
  command: "trace <command>",
  describe: "Trace tools: import/export NumPy masks, statistics, synthetic traces",
  builder: (y: Argv) =>
    y
      .command(importCommand)
      .command(exportCommand)
      .command(statsCommand)
      .command(synthCommand)
      .demandCommand(1, "trace needs a subcommand: import, export, stats or synth"),
  handler: () => {},
};

/** The CLI subcommands this stage registers (see packages/cli). */
export const commands: CommandModule[] = [profileCommand, traceCommand];
