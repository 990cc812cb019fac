/**
 * The placer's CLI commands: `colink place` and `colink evaluate`. Handlers import
 * their implementation lazily so `colink --help` stays fast.
 */
import type { Argv, CommandModule } from "yargs";

interface Common {
  json?: boolean;
  quiet?: boolean;
}

const placeCommand: CommandModule = {
  command: "place",
  describe: "Order every layer's neurons for flash from co-activation traces (and choose the DRAM cache with --cache-fraction)",
  builder: (y: Argv) =>
    y
      .option("traces", { alias: "t", type: "string", array: true, describe: "Activation traces (.arrow), same shape; fitted on their fit split", demandOption: true })
      .option("method", {
        alias: "m",
        choices: ["colink", "neuralink", "frequency", "identity"],
        default: "colink",
        describe: "colink (ours: graph + communities + linking; order and cache chosen together on fit tokens for --device and --bundle-bytes), neuralink (the paper, all pairs), frequency, identity",
      })
      .option("out", { alias: "o", type: "string", describe: "placement.json to write (colink.placement/1)", demandOption: true })
      .option("device", { alias: "d", type: "string", default: "ufs40", describe: "Device profile for the cost model: ufs31, ufs40, nvme, or a profile JSON file" })
      .option("bundle-bytes", { type: "number", describe: "Bytes per neuron bundle (default: from --model, else the trace's metadata, else 24576 = Llama-2-7B fp16)" })
      .option("model", { type: "string", describe: "Model directory whose config.json gives the fp16 bundle size (Llama 3 x hidden x 2 B)" })
      .option("cache-fraction", { type: "number", default: 0, describe: "DRAM per layer as a fraction F of its neurons; the cache holds floor(F x N) bundles" })
      .option("seed", { type: "number", default: 0, describe: "Seed for Louvain (output is deterministic for a seed)" })
      .option("threads", { type: "number", describe: "Worker threads, layers in parallel (default: the machine's cores, at most 8, fewer if half the memory cannot hold one layer's pair counts per thread)" })
      .option("k", { type: "number", default: 16, describe: "colink: strongest neighbours kept per neuron in the graph" })
      .option("pair-tokens", {
        type: "number",
        describe: "colink: fit tokens (evenly spaced) used for pair counts (the graph; counts inside communities add the other fit tokens) [default: as many as 2.5e8 pair increments allow, at least 1536]",
      })
      .option("weight", { choices: ["jaccard", "p"], default: "jaccard", describe: "colink: weight that picks each neuron's k neighbours: Jaccard or co-activation probability" })
      .example("colink place --traces out/real.arrow --model data/models/tiny-relu-llama --out placement.json", "colink's order for that model's bundles, no DRAM cache")
      .example("colink place -t out/s7b.arrow --method neuralink --bundle-bytes 6912 -o nl.json", "the paper's baseline for q4 bundles")
      .example("colink place -t out/real.arrow --cache-fraction 0.1 -o p.json", "order and a declared cache of 10% of each layer"),
  handler: async (argv) => {
    const a = argv as unknown as Common & {
      traces: string[];
      method: "colink" | "neuralink" | "frequency" | "identity";
      out: string;
      device: string;
      bundleBytes?: number;
      model?: string;
      cacheFraction: number;
      seed: number;
      threads?: number;
      k: number;
      pairTokens?: number;
      weight: "p" | "jaccard";
    };
    const { placeTraces } = await import("./place.js");
    const { report } = await import("@colink/core");
    const r = await placeTraces({ ...a, quiet: a.quiet });
    const { placement: _p, ...rest } = r;
    report(a, rest, () =>
      [
        `${r.out}: ${r.method}, ${r.layers} layers x ${r.neurons} neurons, fitted on ${r.fitTokens} tokens in ${r.seconds.toFixed(1)} s`,
        `bundle ${r.bundleBytes} B (${r.bundleBytesFrom}), device ${r.device}, cache ${r.budget} bundles/layer (F = ${r.cacheFraction})`,
        `fit cost ${r.fitIoMsPerToken.toFixed(3)} ms/token; layer choices: ${Object.entries(r.choices)
          .map(([k, v]) => `${k} ${v}`)
          .join(", ")}`,
        `time: read ${r.timing.readSeconds.toFixed(1)} s; summed over layers (${r.threads} thread${r.threads === 1 ? "" : "s"}) order ${r.timing.orderSeconds.toFixed(1)} s, choose ${r.timing.chooseSeconds.toFixed(1)} s`,
      ].join("\n"),
    );
  },
};

const evaluateCommand: CommandModule = {
  command: "evaluate",
  describe: "Replay held-out tokens against a placement through the cost model: reads, bytes, I/O time, hit rate per token",
  builder: (y: Argv) =>
    y
      .option("placement", { alias: "p", type: "string", describe: "placement.json (colink.placement/1)", demandOption: true })
      .option("traces", { alias: "t", type: "string", array: true, describe: "Activation traces (.arrow) of the same shape", demandOption: true })
      .option("device", { alias: "d", type: "string", default: "ufs40", describe: "Device profile: ufs31, ufs40, nvme, or a profile JSON file" })
      .option("bundle-bytes", { type: "number", describe: "Bytes per bundle (default: the placement's, else from the traces)" })
      .option("cache-fraction", { type: "number", describe: "DRAM per layer as a fraction F of its neurons (default: the placement's, else 0)" })
      .option("policy", {
        choices: ["declared", "lru", "pin", "none"],
        default: "declared",
        describe: "Cache: declared (the placement's, lru where none), lru, pin (most frequent on fit tokens), none",
      })
      .option("split", { choices: ["heldout", "fit", "all"], default: "heldout", describe: "Which trace tokens to replay" })
      .example("colink evaluate -p placement.json -t out/real.arrow --device ufs40", "per-token reads, bytes, ms, hit rate, bound")
      .example("colink evaluate -p nl.json -t out/real.arrow --cache-fraction 0.1 --policy pin --json", "the paper's order with frequency pinning, as JSON"),
  handler: async (argv) => {
    const a = argv as unknown as Common & {
      placement: string;
      traces: string[];
      device: string;
      bundleBytes?: number;
      cacheFraction?: number;
      policy: "declared" | "lru" | "pin" | "none";
      split: "heldout" | "fit" | "all";
    };
    const { evaluatePlacement } = await import("./evaluate.js");
    const { report, table } = await import("@colink/core");
    const r = await evaluatePlacement(a);
    const f = (x: number, d: number) => x.toFixed(d);
    report(a, r, () =>
      [
        `${r.placement} (${r.method}) on ${r.tokens} ${r.split} tokens, device ${r.device}, bundle ${r.bundleBytes} B, cache ${r.budget} bundles/layer (${r.policy})`,
        table(
          ["per token", "mean", "p50", "p99"],
          [
            ["reads", f(r.reads_per_token.mean, 1), f(r.reads_per_token.p50, 1), f(r.reads_per_token.p99, 1)],
            ["KiB", f(r.bytes_per_token.mean / 1024, 0), f(r.bytes_per_token.p50 / 1024, 0), f(r.bytes_per_token.p99 / 1024, 0)],
            ["I/O ms", f(r.io_ms_per_token.mean, 3), f(r.io_ms_per_token.p50, 3), f(r.io_ms_per_token.p99, 3)],
            ["hit rate", f(r.hit_rate.mean, 3), f(r.hit_rate.p50, 3), f(r.hit_rate.p99, 3)],
            ["bound ms", f(r.bound_io_ms_per_token.mean, 3), f(r.bound_io_ms_per_token.p50, 3), f(r.bound_io_ms_per_token.p99, 3)],
          ],
        ),
      ].join("\n"),
    );
  },
};

/** The CLI subcommands this stage registers (see packages/cli). */
export const commands: CommandModule[] = [placeCommand, evaluateCommand];
