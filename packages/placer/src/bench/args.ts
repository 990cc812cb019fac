/** `--name value` from the command line, or `dflt` (the benches' one option parser), and their stopwatch. */
export function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

/**
 * A stopwatch for the benches' step tables: `lap()` returns the seconds since the
 * previous lap (or since it was made), `line(what, s)` prints one row padded to `width`.
 */
export function stopwatch(width: number): { lap: () => number; line: (what: string, s: number) => void } {
  let t = performance.now();
  return {
    lap: () => {
      const now = performance.now();
      const s = (now - t) / 1000;
      t = now;
      return s;
    },
    line: (what, s) => {
      process.stdout.write(`${what.padEnd(width)} ${s.toFixed(2)} s\n`);
    },
  };
}
