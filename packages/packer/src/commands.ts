/**
 * The packer's CLI commands: `colink pack`, `colink inspect`, `colink verify`.
 * Handlers import their implementation lazily so `colink --help` stays fast.
 */
import type { Argv, CommandModule } from "yargs";

interface Common {
  json?: boolean;
  quiet?: boolean;
}

const DTYPES = ["f32", "f16", "bf16", "q8_0", "q4_0"] as const;

const packCommand: CommandModule = {
  command: "pack",
  describe: "Write a flash image: FFN neuron bundles in placement order (4 KiB aligned), dense tensors, protobuf index, CRC32C",
  builder: (y: Argv) =>
    y
      .option("model", { alias: "m", type: "string", describe: "Hugging Face checkpoint directory (config.json + *.safetensors)", demandOption: true })
      .option("placement", { alias: "p", type: "string", describe: "placement.json from `colink place` (default: identity order)" })
      .option("out", { alias: "o", type: "string", describe: "Output image (written to a temporary name, fsynced, renamed)", demandOption: true })
      .option("dtype", {
        choices: DTYPES,
        describe: "Dtype of the FFN bundles (default: the checkpoint's); q8_0/q4_0 are llama.cpp's block formats",
      })
      .option("dense-dtype", {
        choices: ["f32", "f16", "bf16"] as const,
        describe: "Dtype of the non-FFN tensors (embeddings, attention, norms); default: the checkpoint's",
      })
      .option("chunk-kib", { type: "number", default: 64, describe: "Checksum chunk of the bundle regions in KiB (multiple of 4)" })
      .option("tokenizer", {
        type: "string",
        describe: "The model's tokenizer.json when the checkpoint ships none: its digest is recorded [default: the checkpoint's]",
      })
      .example("colink pack --model data/models/tiny-relu-llama --placement placement.json --out model.colink", "bundles in the placer's order, source dtype")
      .example("colink pack -m data/models/tiny-relu-llama -o model-q4.colink --dtype q4_0", "identity order, 4-bit bundles")
      .example("colink pack -m data/models/tiny-relu-llama -o small.colink --dtype q8_0 --dense-dtype f16", "8-bit bundles, f16 everything else"),
  handler: async (argv) => {
    const { packCli } = await import("./impl.js");
    await packCli(
      argv as unknown as Common & {
        model: string;
        placement?: string;
        out: string;
        dtype?: (typeof DTYPES)[number];
        denseDtype?: "f32" | "f16" | "bf16";
        chunkKib: number;
        tokenizer?: string;
      },
    );
  },
};

const inspectCommand: CommandModule = {
  command: "inspect <image>",
  describe: "Show an image's superblock and index: model, dtype, placement method, per-layer sizes and caches",
  builder: (y: Argv) =>
    y
      .positional("image", { type: "string", describe: "A .colink flash image", demandOption: true })
      .example("colink inspect model.colink", "a summary and one row per layer")
      .example("colink inspect model.colink --json", "the same as JSON"),
  handler: async (argv) => {
    const { inspectCli } = await import("./impl.js");
    await inspectCli(argv as unknown as Common & { image: string });
  },
};

const verifyCommand: CommandModule = {
  command: "verify <image>",
  describe: "Check every checksum of an image (index, dense tensors, every chunk of every layer region); exit 1 naming the first bad one",
  builder: (y: Argv) =>
    y
      .positional("image", { type: "string", describe: "A .colink flash image", demandOption: true })
      .example("colink verify model.colink", "prints OK, or the first corrupt region and its byte range (exit 1)"),
  handler: async (argv) => {
    const { verifyCli } = await import("./impl.js");
    await verifyCli(argv as unknown as Common & { image: string });
  },
};

/** The CLI subcommands this stage registers (see packages/cli). */
export const commands: CommandModule[] = [packCommand, inspectCommand, verifyCommand];
