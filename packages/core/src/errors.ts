/**
 * Errors are values with a code and a one-line message that names the file, the
 * field and what was expected. The CLI prints `colink: <message>` and exits 1 for a
 * ColinkError (a user mistake or bad input), 2 for anything else (a bug in colink).
 */

export type ErrorCode =
  | "BAD_ARGUMENT" // a CLI option or API argument is out of range or inconsistent
  | "NOT_FOUND" // a file, tensor or layer that should exist does not
  | "BAD_FORMAT" // a file exists but is not what it should be (truncated, corrupt, wrong schema)
  | "BAD_VERSION" // a file of ours, written by an unsupported format version
  | "CHECKSUM" // a checksum did not match: the data is corrupt
  | "UNSUPPORTED" // valid input that colink does not handle (architecture, dtype)
  | "MISMATCH" // two inputs that must agree do not (trace shape vs image shape)
  | "IO"; // the operating system refused a read or write

export const EXIT_OK = 0;
export const EXIT_USER = 1;
export const EXIT_INTERNAL = 2;

export class ColinkError extends Error {
  readonly code: ErrorCode;
  /** The file the error is about, when there is one. */
  readonly file: string | undefined;

  constructor(code: ErrorCode, message: string, file?: string) {
    super(file !== undefined && !message.includes(file) ? `${file}: ${message}` : message);
    this.name = "ColinkError";
    this.code = code;
    this.file = file;
  }
}

/** Throws a ColinkError; for one-line guards: `ok || fail("BAD_FORMAT", "...", file)`. */
export function fail(code: ErrorCode, message: string, file?: string): never {
  throw new ColinkError(code, message, file);
}

export function isColinkError(e: unknown): e is ColinkError {
  return e instanceof ColinkError;
}

/**
 * Turns an operating-system error on `file` into a ColinkError with a readable
 * message (ENOENT → NOT_FOUND, others → IO); passes anything else through.
 */
export function fromSystemError(e: unknown, file: string, doing = "read"): unknown {
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === "string") {
    if (err.code === "ENOENT") return new ColinkError("NOT_FOUND", `${file}: no such file or directory`, file);
    if (err.code === "EISDIR") return new ColinkError("BAD_ARGUMENT", `${file}: is a directory, expected a file`, file);
    if (err.code === "ENOTDIR") return new ColinkError("BAD_ARGUMENT", `${file}: is not a directory`, file);
    if (err.code === "EACCES" || err.code === "EPERM")
      return new ColinkError("IO", `${file}: permission denied (could not ${doing})`, file);
    if (err.code === "ENOSPC") return new ColinkError("IO", `${file}: no space left on device (could not ${doing})`, file);
    return new ColinkError("IO", `${file}: could not ${doing} (${err.code})`, file);
  }
  return e;
}
