/**
 * Progress on stderr for long work: a bar redrawn in place, only when stderr is a
 * TTY and the user did not ask for --quiet; otherwise silent, so logs and pipes stay
 * clean. Redraws are rate-limited to ~10 per second.
 */

export interface Progress {
  /** Advances by `n` units (tokens, layers, bytes). */
  tick(n?: number): void;
  /** Sets the absolute position. */
  update(done: number): void;
  /** Clears the bar and prints nothing else. */
  done(): void;
}

export interface ProgressOptions {
  label: string;
  total: number;
  /** Unit for the rate, e.g. "tok", "MB". */
  unit?: string;
  /** Scale applied to the count before display (e.g. 1e-6 for bytes → MB). */
  scale?: number;
  quiet?: boolean;
  stream?: NodeJS.WriteStream;
}

const SILENT: Progress = { tick() {}, update() {}, done() {} };

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return "--";
  if (s < 60) return `${s.toFixed(0)}s`;
  return `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, "0")}s`;
}

export function progress(opts: ProgressOptions): Progress {
  const stream = opts.stream ?? process.stderr;
  if (opts.quiet || !stream.isTTY || opts.total <= 0) return SILENT;
  const start = performance.now();
  const scale = opts.scale ?? 1;
  const unit = opts.unit ?? "";
  let done = 0;
  let last = 0;
  const draw = (force: boolean): void => {
    const now = performance.now();
    if (!force && now - last < 100) return;
    last = now;
    const frac = Math.min(1, done / opts.total);
    const width = 24;
    const filled = Math.round(frac * width);
    const secs = (now - start) / 1000;
    const rate = secs > 0 ? (done * scale) / secs : 0;
    const eta = done > 0 ? (secs * (opts.total - done)) / done : Number.POSITIVE_INFINITY;
    const line = `${opts.label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${(frac * 100).toFixed(0)}% ${rate.toFixed(rate < 10 ? 1 : 0)} ${unit}/s ETA ${fmtTime(eta)}`;
    stream.write(`\r${line.slice(0, (stream.columns ?? 100) - 1)}\x1b[K`);
  };
  return {
    tick(n = 1) {
      done += n;
      draw(false);
    },
    update(d) {
      done = d;
      draw(false);
    },
    done() {
      stream.write("\r\x1b[K");
    },
  };
}
