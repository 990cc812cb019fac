/**
 * The `colink` CLI: one yargs program; each stage registers its own subcommands.
 *
 * Conventions for every command: --help; --json for commands that report; --quiet
 * silences notes and progress; exit 0 on success, 1 on a user error (bad option,
 * bad or missing input) with one line naming the file and what was expected, 2 on an
 * internal error (a bug: the stack is printed with COLINK_DEBUG=1).
 */
import { EXIT_INTERNAL, EXIT_OK, EXIT_USER, isColinkError } from "@colink/core";
import { commands as loaderCommands } from "@colink/loader/commands";
import { commands as packerCommands } from "@colink/packer/commands";
import { commands as placerCommands } from "@colink/placer/commands";
import { commands as profilerCommands } from "@colink/profiler/commands";
import { readFileSync } from "node:fs";
import yargs from "yargs";
import { pipelineCommand } from "./pipeline-command.js";

const VERSION = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;

/** A usage mistake caught by yargs (unknown command or option, missing argument). */
class UsageError extends Error {}

/** The text given for `--key` on the command line (`--key v` or `--key=v`; undefined: given another way, e.g. by alias). */
function rawValue(argv: string[], key: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${key}`) return argv[i + 1];
    if (argv[i].startsWith(`--${key}=`)) return argv[i].slice(key.length + 3);
  }
  return undefined;
}

export async function main(argv: string[]): Promise<number> {
  const cli = yargs(argv)
    .scriptName("colink")
    .usage("colink <command> [options]\n\nCo-activation-aware neuron placement and loading for sparse LLM inference from flash.")
    .option("json", { type: "boolean", describe: "Print machine-readable JSON on stdout (commands that report)" })
    .option("quiet", { alias: "q", type: "boolean", describe: "No progress or notes on stderr" })
    .command(profilerCommands)
    .command(placerCommands)
    .command(packerCommands)
    .command(loaderCommands)
    .command(pipelineCommand)
    .check((args) => {
      // yargs turns a number option's non-numeric value into NaN: name the value given
      // (each option once: skip yargs' camelCase copies and one-letter aliases)
      for (const [key, v] of Object.entries(args)) {
        if (typeof v !== "number" || !Number.isNaN(v) || key.length === 1 || /[A-Z]/.test(key)) continue;
        const given = rawValue(argv, key);
        throw new UsageError(`--${key} must be a number${given === undefined ? "" : `, got ${JSON.stringify(given)}`}`);
      }
      return true;
    })
    .demandCommand(1, "no command given: run `colink --help` for the list")
    .recommendCommands()
    .strict()
    .help()
    .alias("help", "h")
    .version(VERSION)
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .epilogue("Docs: docs/ in the colink repository. Exit codes: 0 ok, 1 user error, 2 internal error.")
    .fail((msg, err) => {
      if (err) throw err;
      throw new UsageError(msg ?? "invalid usage");
    })
    .exitProcess(false);

  try {
    await cli.parseAsync();
    return EXIT_OK;
  } catch (e) {
    if (e instanceof UsageError) {
      // one line: yargs puts the detail of some errors (which value, which choices) on the next lines
      const line = e.message
        .split("\n")
        .map((x) => x.trim())
        .filter((x) => x.length > 0)
        .join(" ");
      process.stderr.write(`colink: ${line} (see colink --help)\n`);
      return EXIT_USER;
    }
    if (isColinkError(e)) {
      process.stderr.write(`colink: ${e.message}\n`);
      if (process.env.COLINK_DEBUG) process.stderr.write(`${e.stack}\n`);
      return EXIT_USER;
    }
    const err = e as Error;
    process.stderr.write(`colink: internal error: ${err?.message ?? String(e)}\n`);
    if (process.env.COLINK_DEBUG) process.stderr.write(`${err?.stack}\n`);
    else process.stderr.write("colink: this is a bug; rerun with COLINK_DEBUG=1 for details\n");
    return EXIT_INTERNAL;
  }
}
