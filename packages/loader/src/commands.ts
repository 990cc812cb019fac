/**
 * The loader's CLI commands: `colink read`, `colink replay`, `colink device probe`.
 * Handlers import their implementation lazily so `colink --help` stays fast.
 */
import type { Argv, CommandModule } from "yargs";

interface Common {
  json?: boolean;
  quiet?: boolean;
}

const readCommand: CommandModule = {
  command: "read <image>",
  describe: "Write the weights of some FFN neurons of one layer to a float32 .npy of shape [k, p, d]",
  builder: (y: Argv) =>
    y
      .positional("image", { type: "string", describe: "A .colink flash image", demandOption: true })
      .option("layer", { alias: "l", type: "number", describe: "Layer index (0-based)", demandOption: true })
      .option("neurons", {
        alias: "n",
        type: "string",
        describe: "Neuron ids in the order wanted, comma-separated (e.g. 3,17,5); duplicates allowed",
        demandOption: true,
      })
      .option("out", { alias: "o", type: "string", describe: "Output .npy: k neurons x p projections (gate, up, down or fc1, fc2) x d", demandOption: true })
      .example("colink read model.colink --layer 0 --neurons 3,17,5 --out rows.npy", "rows.npy: float32 [3, 3, d] for a Llama-family image"),
  handler: async (argv) => {
    const a = argv as unknown as Common & { image: string; layer: number; neurons: string | number; out: string };
    const { readNeurons, parseNeuronList } = await import("./read.js");
    const { report } = await import("@colink/core");
    const r = await readNeurons({ image: a.image, layer: a.layer, neurons: parseNeuronList(String(a.neurons)), out: a.out });
    report(a, r, () => `${r.out}: float32 [${r.shape.join(", ")}] (${r.projections.join(", ")}) from layer ${r.layer} of ${r.image}`);
  },
};

const replayCommand: CommandModule = {
  command: "replay",
  describe: "Load every held-out token's active neurons layer by layer through the real loader, and report I/O per token",
  builder: (y: Argv) =>
    y
      .option("image", { type: "string", array: true, describe: "A .colink image; give two to compare them side by side", demandOption: true })
      .option("traces", { alias: "t", type: "string", describe: "Activation traces (.arrow) of the same model", demandOption: true })
      .option("device", { alias: "d", type: "string", default: "ufs40", describe: "Device profile: ufs31, ufs40, nvme, or a profile JSON file" })
      .option("cache-mib", {
        type: "number",
        describe: "DRAM cache budget in MiB for all layers, split evenly across them (default: what the image declares; 0 if it declares none)",
      })
      .option("policy", {
        choices: ["declared", "lru", "pin", "none"],
        default: "declared",
        describe: "Cache policy; declared = the image's cache (lru where it declares none)",
      })
      .option("split", { choices: ["heldout", "fit", "all"], default: "heldout", describe: "Which trace tokens to replay" })
      .option("max-tokens", { type: "number", describe: "Stop after this many tokens" })
      .option("queue-depth", { type: "number", describe: "Reads in flight (default: the device profile's)" })
      .option("direct", { type: "boolean", default: false, describe: "Bypass the page cache with O_DIRECT where possible" })
      .example("colink replay --image model.colink --traces traces.arrow --device ufs40 --cache-mib 4", "reads, bytes, hit rate, simulated and real time per token")
      .example("colink replay --image identity.colink --image colink.colink --traces traces.arrow --json", "two placements side by side with ratios"),
  handler: async (argv) => {
    const a = argv as unknown as Common & {
      image: string[];
      traces: string;
      device: string;
      cacheMib?: number;
      policy: "declared" | "lru" | "pin" | "none";
      split: "heldout" | "fit" | "all";
      maxTokens?: number;
      queueDepth?: number;
      direct: boolean;
    };
    const { replayCli } = await import("./replay-cli.js");
    await replayCli(a);
  },
};

const probeCommand: CommandModule = {
  command: "probe <path>",
  describe: "Measure read latency and bandwidth of real storage against request size and queue depth; write a device profile",
  builder: (y: Argv) =>
    y
      .positional("path", { type: "string", describe: "A large existing file on the storage to measure (read only)", demandOption: true })
      .option("out", { alias: "o", type: "string", describe: "Write the fitted profile here (usable as --device FILE)" })
      .option("direct", { type: "boolean", default: true, describe: "Use O_DIRECT where possible so the page cache does not answer" })
      .option("seconds", { type: "number", default: 0.3, describe: "Measuring time per (size, depth) point" })
      .option("seed", { type: "number", default: 1, describe: "Seed of the random offsets" })
      .example("colink device probe /data/big.bin --out phone.json", "then: colink replay --device phone.json ...")
      .example("colink device probe model.colink --json", "the raw table as JSON"),
  handler: async (argv) => {
    const a = argv as unknown as Common & { path: string; out?: string; direct: boolean; seconds: number; seed: number };
    const { probeCli } = await import("./probe.js");
    await probeCli(a);
  },
};

const deviceCommand: CommandModule = {
  command: "device <command>",
  describe: "Storage device profiles: probe real storage",
  builder: (y: Argv) => y.command(probeCommand).demandCommand(1, "device: expected a subcommand (probe)"),
  handler: () => {},
};

/** The CLI subcommands this stage registers (see packages/cli). */
export const commands: CommandModule[] = [readCommand, replayCommand, deviceCommand];
