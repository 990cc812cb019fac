import type { CommandModule } from "yargs";

/**
 * `colink pipeline`: profile → place → pack → verify → replay → report (issue #7).
 * Options carry no yargs defaults on purpose: an option the user did not give must
 * not override the config file. Defaults live in pipeline/config.ts.
 */
export const pipelineCommand: CommandModule = {
  command: "pipeline",
  describe: "Run the whole job on a model and corpus: profile, place, pack, verify, replay, report (resumable)",
  builder: (y) =>
    y
      .option("config", { type: "string", describe: "JSON file with pipeline settings (docs/pipeline.md); flags override it" })
      .option("model", { type: "string", describe: "Model directory (config.json + safetensors) [default: data/models/tiny-relu-llama]" })
      .option("corpus", { type: "string", describe: "Text corpus to profile on [default: data/corpus/fortunes-sample.txt]" })
      .option("token-ids", { type: "string", describe: "Pre-tokenized ids (.npy, as profile --token-ids) to profile instead of --corpus" })
      .option("tokenizer", {
        type: "string",
        describe: "bytes, or a tokenizer.json [default: the model's tokenizer.json; bytes for a 256-token vocabulary without one]",
      })
      .option("device", { type: "string", describe: "Device profile: ufs31, ufs40, nvme or a profile JSON file [default: ufs40]" })
      .option("dtype", { type: "string", describe: "Dtype of the packed FFN bundles: f32, f16, bf16, q8_0, q4_0 [default: f16]" })
      .option("method", { type: "string", describe: "Placement method to pack and verify [default: colink]" })
      .option("methods", { type: "string", describe: "Methods to compare, comma-separated; identity and neuralink always included [default: all]" })
      .option("cache-fraction", { type: "number", describe: "DRAM cache per layer as a fraction of its neurons, same for every method [default: 0.1]" })
      .option("holdout", { type: "number", describe: "Held-out fraction of sequences, used only for replay [default: 0.2]" })
      .option("activation", {
        type: "string",
        describe: "Active FFN neurons: nonzero (ReLU models), threshold (|v| > --tau), target-sparsity (--target fraction) [default: nonzero]",
      })
      .option("tau", { type: "number", describe: "Threshold for --activation threshold" })
      .option("target", { type: "number", describe: "Active fraction for --activation target-sparsity, e.g. 0.1" })
      .option("seq-len", { type: "number", describe: "Tokens per profiled sequence [default: 128]" })
      .option("max-tokens", { type: "number", describe: "Tokens profiled from the corpus, 0 = all [default: 16384]" })
      .option("seed", { type: "number", describe: "Seed of the fit/held-out split and randomised steps [default: 1]" })
      .option("out", { type: "string", describe: "Output root; the run writes into <out>/<name>/ [default: out]" })
      .option("name", { type: "string", describe: "Run name (directory under --out) [default: demo]" })
      .option("report-layer", { type: "number", describe: "Layer of the report's co-activation heatmap, -1 = middle [default: -1]" })
      .example("$0 pipeline", "Bundled model and corpus → out/demo/ (summary.json, report.html, model.colink)")
      .example("$0 pipeline --config release.json --cache-fraction 0.05", "A release run from a config file, one setting overridden")
      .example("$0 pipeline --json > summary.json", "Print the summary as JSON for CI"),
  handler: async (argv) => {
    const { readConfigFile, resolveConfig } = await import("./pipeline/config.js");
    const { runPipeline, summaryText } = await import("./pipeline/impl.js");
    const { report } = await import("@colink/core");
    const a = argv as Record<string, unknown>;
    const file = typeof a.config === "string" ? await readConfigFile(a.config) : {};
    const config = resolveConfig(
      file,
      {
        model: a.model,
        corpus: a.corpus,
        tokenIds: a.tokenIds,
        tokenizer: a.tokenizer,
        device: a.device,
        dtype: a.dtype,
        method: a.method,
        methods: a.methods,
        cacheFraction: a.cacheFraction,
        holdout: a.holdout,
        activation: a.activation,
        tau: a.tau,
        target: a.target,
        seqLen: a.seqLen,
        maxTokens: a.maxTokens,
        seed: a.seed,
        out: a.out,
        name: a.name,
        reportLayer: a.reportLayer,
      },
      typeof a.config === "string" ? a.config : "pipeline",
    );
    const summary = await runPipeline(config, a);
    report(a, summary, () => summaryText(summary));
  },
};
