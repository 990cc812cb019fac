/**
 * How commands report: a human-readable text on stdout by default, or one JSON
 * document on stdout with --json (for scripts and CI). Notes and warnings go to
 * stderr, silenced by --quiet, so stdout stays parseable.
 */

export interface CommonArgs {
  json?: boolean;
  quiet?: boolean;
}

/** Prints a command's result: `value` as JSON with --json, else `text()`. */
export function report(args: CommonArgs, value: unknown, text: () => string): void {
  if (args.json) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  else {
    const t = text();
    if (t.length > 0) process.stdout.write(t.endsWith("\n") ? t : `${t}\n`);
  }
}

/** A note for the user on stderr (not with --quiet). */
export function note(args: CommonArgs, message: string): void {
  if (!args.quiet) process.stderr.write(`${message}\n`);
}

/** Formats rows as an aligned text table; numbers right-aligned. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => String(c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === "number" || /^[-+]?[\d.]+(x|%)?$/.test(String(r[i]))));
  const line = (r: string[]) =>
    r.map((c, i) => (numeric[i] ? (c ?? "").padStart(widths[i]) : (c ?? "").padEnd(widths[i]))).join("  ").trimEnd();
  return [line(cells[0]), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n");
}
