import type { CommandModule } from "yargs";

/** The CLI subcommands this stage registers (see packages/cli). */
export const commands: CommandModule[] = [];
