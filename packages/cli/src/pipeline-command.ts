import type { CommandModule } from "yargs";

/** `colink pipeline`: profile → place → pack → verify → replay → report (issue #7). */
export const pipelineCommand: CommandModule = {
  command: "pipeline",
  describe: "Run the whole job on a model and corpus: profile, place, pack, verify, replay, report",
  handler: async () => {
    const { ColinkError } = await import("@colink/core");
    throw new ColinkError("UNSUPPORTED", "colink pipeline is not built yet; run the stages one by one");
  },
};
