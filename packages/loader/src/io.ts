/**
 * The I/O engine: positional reads (FileHandle.read at an offset) with a bounded
 * number in flight (the queue depth), into a fixed pool of staging buffers so that
 * steady state allocates nothing, with optional O_DIRECT.
 *
 * Every read is given the byte range it may touch ([lo, hi), e.g. a layer's region);
 * it never reads outside that range nor past the end of the file. With O_DIRECT the
 * kernel wants the buffer address, file offset and length aligned to the logical
 * block size: offsets and lengths are rounded out to 4 KiB *within* the allowed range
 * (regions are 4 KiB aligned and padded by the packer); when rounding would leave the
 * range, or the platform refuses O_DIRECT, the read goes through the page cache and
 * `directNote` says why.
 */
import { constants } from "node:fs";
import * as fs from "node:fs/promises";
import { ColinkError, fromSystemError } from "@colink/core";

export const DIRECT_ALIGN = 4096;

/** A leased staging buffer holding the bytes of one read; give it back with release(). */
export interface ReadLease {
  /** Exactly the requested bytes [offset, offset + length). Valid until release(). */
  bytes: Uint8Array;
  release(): void;
}

export interface PositionalReaderOptions {
  /** Reads in flight at once (>= 1). */
  queueDepth: number;
  /** Largest single read, bytes; staging buffers are this size (plus alignment slack). */
  maxReadBytes: number;
  /** Try O_DIRECT (bypass the page cache) where the platform allows it. */
  direct?: boolean;
}

/**
 * Finds an offset inside `buf` where the kernel accepts an O_DIRECT read. JS cannot
 * see buffer addresses, so we try offsets in steps of 16 bytes until one works; the
 * backing store of an ArrayBuffer never moves, so the answer holds for its lifetime.
 */
async function findAlignedStart(fd: fs.FileHandle, buf: Uint8Array): Promise<number> {
  for (let a = 0; a < DIRECT_ALIGN; a += 16) {
    try {
      await fd.read(buf, a, DIRECT_ALIGN, 0);
      return a;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EINVAL") throw e;
    }
  }
  return -1;
}

/** A file opened for concurrent positional reads. */
export class PositionalReader {
  readonly file: string;
  readonly size: number;
  readonly queueDepth: number;
  readonly maxReadBytes: number;
  /** Whether reads bypass the page cache. */
  readonly direct: boolean;
  /** Why O_DIRECT was not used although asked for, if so. */
  readonly directNote: string | undefined;
  private readonly fd: fs.FileHandle;
  private readonly directFd: fs.FileHandle | null;
  private readonly buffers: Uint8Array[];
  /** Per buffer: start offset at which O_DIRECT reads are accepted. */
  private readonly alignedStart: Int32Array;
  private readonly free: number[];
  private readonly waiters: ((slot: number) => void)[] = [];
  private closed = false;
  /** Counters since open. */
  reads = 0;
  bytesRead = 0;
  directReads = 0;

  private constructor(
    file: string,
    fd: fs.FileHandle,
    directFd: fs.FileHandle | null,
    size: number,
    opts: PositionalReaderOptions,
    buffers: Uint8Array[],
    alignedStart: Int32Array,
    directNote: string | undefined,
  ) {
    this.file = file;
    this.fd = fd;
    this.directFd = directFd;
    this.size = size;
    this.queueDepth = opts.queueDepth;
    this.maxReadBytes = opts.maxReadBytes;
    this.buffers = buffers;
    this.alignedStart = alignedStart;
    this.free = buffers.map((_, i) => buffers.length - 1 - i);
    this.direct = directFd !== null;
    this.directNote = directNote;
  }

  static async open(file: string, opts: PositionalReaderOptions): Promise<PositionalReader> {
    if (!(Number.isInteger(opts.queueDepth) && opts.queueDepth >= 1))
      throw new ColinkError("BAD_ARGUMENT", `queue depth must be an integer >= 1, got ${opts.queueDepth}`);
    if (!(Number.isInteger(opts.maxReadBytes) && opts.maxReadBytes >= 1))
      throw new ColinkError("BAD_ARGUMENT", `maximum read size must be an integer >= 1, got ${opts.maxReadBytes}`);
    let fd: fs.FileHandle;
    try {
      fd = await fs.open(file, "r");
    } catch (e) {
      throw fromSystemError(e, file);
    }
    const size = (await fd.stat()).size;
    // Slack for aligning the start and rounding both ends out to a block.
    const bufBytes = opts.maxReadBytes + (opts.direct ? 3 * DIRECT_ALIGN : 0);
    const buffers = Array.from({ length: opts.queueDepth }, () => new Uint8Array(new ArrayBuffer(bufBytes)));
    const alignedStart = new Int32Array(opts.queueDepth).fill(-1);
    let directFd: fs.FileHandle | null = null;
    let note: string | undefined;
    if (opts.direct) {
      const flag = (constants as Record<string, number>).O_DIRECT;
      if (flag === undefined) note = `O_DIRECT is not available on ${process.platform}; reading through the page cache`;
      else if (size < DIRECT_ALIGN) note = "file smaller than one block; reading through the page cache";
      else {
        try {
          directFd = await fs.open(file, constants.O_RDONLY | flag);
          for (let i = 0; i < buffers.length && directFd; i++) {
            alignedStart[i] = await findAlignedStart(directFd, buffers[i]);
            if (alignedStart[i] < 0) {
              note = "the filesystem refused every aligned O_DIRECT read; reading through the page cache";
              await directFd.close();
              directFd = null;
            }
          }
        } catch (e) {
          note = `O_DIRECT open failed (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); reading through the page cache`;
          await directFd?.close().catch(() => {});
          directFd = null;
        }
      }
    }
    return new PositionalReader(file, fd, directFd, size, opts, buffers, alignedStart, note);
  }

  private acquire(): Promise<number> | number {
    const slot = this.free.pop();
    if (slot !== undefined) return slot;
    return new Promise<number>((resolve) => this.waiters.push(resolve));
  }

  private releaseSlot(slot: number): void {
    const w = this.waiters.shift();
    if (w) w(slot);
    else this.free.push(slot);
  }

  /**
   * Reads [offset, offset + length), which must lie inside [lo, hi) and the file.
   * Waits while `queueDepth` reads hold buffers. The caller must release() the lease.
   */
  async read(offset: number, length: number, lo = 0, hi = this.size): Promise<ReadLease> {
    if (this.closed) throw new ColinkError("BAD_ARGUMENT", `${this.file}: read after close()`, this.file);
    const end = offset + length;
    if (!(offset >= lo && end <= hi && end <= this.size && length >= 0))
      throw new ColinkError(
        "BAD_FORMAT",
        `${this.file}: read of [${offset}, ${end}) leaves its region [${lo}, ${Math.min(hi, this.size)}) (truncated or corrupt image)`,
        this.file,
      );
    if (length > this.maxReadBytes)
      throw new ColinkError("BAD_ARGUMENT", `read of ${length} bytes exceeds the ${this.maxReadBytes}-byte staging buffers`);
    const got = this.acquire();
    const slot = typeof got === "number" ? got : await got;
    const buf = this.buffers[slot];
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.releaseSlot(slot);
    };
    try {
      let bytes: Uint8Array;
      const aLo = Math.floor(offset / DIRECT_ALIGN) * DIRECT_ALIGN;
      const aHi = Math.ceil(end / DIRECT_ALIGN) * DIRECT_ALIGN;
      const limit = Math.min(hi, this.size);
      if (this.directFd && aLo >= lo && (aHi <= limit || limit === this.size)) {
        // Past the end of the file an O_DIRECT read simply returns fewer bytes.
        const start = this.alignedStart[slot];
        await this.readFully(this.directFd, buf, start, aHi - aLo, aLo, end - aLo);
        bytes = buf.subarray(start + (offset - aLo), start + (offset - aLo) + length);
        this.directReads++;
      } else {
        await this.readFully(this.fd, buf, 0, length, offset, length);
        bytes = buf.subarray(0, length);
      }
      this.reads++;
      this.bytesRead += length;
      return { bytes, release };
    } catch (e) {
      release();
      throw e;
    }
  }

  /** Reads until `need` bytes arrived (short reads happen on some filesystems). */
  private async readFully(
    fd: fs.FileHandle,
    buf: Uint8Array,
    at: number,
    length: number,
    position: number,
    need: number,
  ): Promise<void> {
    let done = 0;
    while (done < need) {
      let n: number;
      try {
        ({ bytesRead: n } = await fd.read(buf, at + done, length - done, position + done));
      } catch (e) {
        throw fromSystemError(e, this.file);
      }
      if (n === 0)
        throw new ColinkError("BAD_FORMAT", `${this.file}: file ends at byte ${position + done}, expected data up to ${position + need} (truncated image)`, this.file);
      done += n;
      if (this.directFd === fd && done % DIRECT_ALIGN !== 0) break; // short tail at end of file
    }
    if (done < need)
      throw new ColinkError("BAD_FORMAT", `${this.file}: file ends at byte ${position + done}, expected data up to ${position + need} (truncated image)`, this.file);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fd.close().catch(() => {});
    await this.directFd?.close().catch(() => {});
  }
}
