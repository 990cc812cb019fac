/**
 * Output files are written to a temporary name beside the target and renamed into
 * place only when complete (after fsync), so a crash or a failed check never leaves
 * a half-written output under the real name.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { ColinkError, fail, fromSystemError } from "./errors.js";

let counter = 0;

/** A temporary path in the same directory as `target` (same filesystem, so rename is atomic). */
export function tempPathFor(target: string): string {
  const dir = path.dirname(target);
  const base = path.basename(target);
  return path.join(dir, `.${base}.tmp-${process.pid}-${Date.now().toString(36)}-${counter++}`);
}

/**
 * An output file under construction. Write through `handle` (positional or appending),
 * then `commit()` to fsync and rename, or `abort()` to delete the temporary file.
 */
export class AtomicFile {
  readonly target: string;
  readonly tempPath: string;
  handle!: fs.FileHandle;
  private done = false;

  private constructor(target: string) {
    this.target = target;
    this.tempPath = tempPathFor(target);
  }

  static async create(target: string): Promise<AtomicFile> {
    const f = new AtomicFile(target);
    try {
      await fs.mkdir(path.dirname(target), { recursive: true });
      f.handle = await fs.open(f.tempPath, "wx");
    } catch (e) {
      throw fromSystemError(e, target, "create");
    }
    return f;
  }

  async commit(): Promise<void> {
    if (this.done) return;
    this.done = true;
    try {
      await this.handle.sync();
      await this.handle.close();
      await fs.rename(this.tempPath, this.target);
    } catch (e) {
      await fs.rm(this.tempPath, { force: true });
      throw fromSystemError(e, this.target, "write");
    }
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.handle.close().catch(() => {});
    await fs.rm(this.tempPath, { force: true });
  }
}

/** Runs `body` with a fresh AtomicFile for `target`; commits on success, aborts on any error. */
export async function withAtomicFile<T>(target: string, body: (f: AtomicFile) => Promise<T>): Promise<T> {
  const f = await AtomicFile.create(target);
  try {
    const result = await body(f);
    await f.commit();
    return result;
  } catch (e) {
    await f.abort();
    throw e;
  }
}

/** Writes a whole file atomically. */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  await withAtomicFile(target, async (f) => {
    await f.handle.writeFile(data);
  });
}

/** Writes JSON with a trailing newline, atomically. */
export async function writeJsonAtomic(target: string, value: unknown): Promise<void> {
  await writeFileAtomic(target, `${JSON.stringify(value, null, 2)}\n`);
}

/** Reads and parses a JSON file; errors name the file. */
export async function readJsonFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (e) {
    throw fromSystemError(e, file);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ColinkError("BAD_FORMAT", `${file}: not valid JSON (${(e as Error).message})`, file);
  }
}

/** Opens `file` for reading; system errors become one-line ColinkErrors naming it. */
export async function openForRead(file: string): Promise<fs.FileHandle> {
  try {
    return await fs.open(file, "r");
  } catch (e) {
    throw fromSystemError(e, file);
  }
}

/**
 * Fills `buf` from byte `position` of an open file (a single read may be short). A
 * file that ends first is BAD_FORMAT naming the byte where it ended.
 */
export async function readFully(h: fs.FileHandle, file: string, buf: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    let n: number;
    try {
      ({ bytesRead: n } = await h.read(buf, done, Math.min(buf.length - done, 1 << 30), position + done));
    } catch (e) {
      throw fromSystemError(e, file);
    }
    if (n === 0) fail("BAD_FORMAT", `file ended early at byte ${position + done} (truncated?)`, file);
    done += n;
  }
}

/** SHA-256 of a file's bytes, streamed, as lowercase hex. */
export async function sha256File(file: string): Promise<string> {
  const h = createHash("sha256");
  try {
    for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  } catch (e) {
    throw fromSystemError(e, file);
  }
  return h.digest("hex");
}

/** SHA-256 of a string or bytes, as lowercase hex. */
export function sha256(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}
