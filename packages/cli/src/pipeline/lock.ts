/**
 * One pipeline per run directory at a time: two runs writing the same stage
 * directories would wipe each other's half-written stages. The lock is a file
 * created exclusively (O_EXCL) holding the owner's pid and host; a lock left by a
 * process that no longer exists (killed, crashed) is stale and taken over, so a
 * rerun after SIGKILL is never blocked.
 */
import * as fs from "node:fs/promises";
import { hostname } from "node:os";
import * as path from "node:path";
import { ColinkError, fromSystemError } from "@colink/core";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Takes the lock of `runDir`; returns the function that releases it. */
export async function lockRunDir(runDir: string): Promise<() => Promise<void>> {
  const file = path.join(runDir, ".lock");
  const me = `${process.pid} ${hostname()}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await fs.writeFile(file, me, { flag: "wx" });
      return async () => {
        await fs.rm(file, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw fromSystemError(e, file, "create");
    }
    const text = await fs.readFile(file, "utf8").catch(() => "");
    const [pidText, host] = text.trim().split(" ");
    const pid = Number(pidText);
    if (Number.isInteger(pid) && pid > 0 && host === hostname() && alive(pid) && pid !== process.pid)
      throw new ColinkError(
        "BAD_ARGUMENT",
        `${runDir} is in use by another colink pipeline (pid ${pid}); wait for it, use another --name, or delete ${file} if that process is not colink`,
        file,
      );
    if (host !== undefined && host !== hostname() && Number.isInteger(pid))
      throw new ColinkError("BAD_ARGUMENT", `${runDir} is locked by a pipeline on host ${host} (pid ${pid}); delete ${file} if it is gone`, file);
    await fs.rm(file, { force: true }); // stale: its owner is gone
  }
  throw new ColinkError("IO", `${file}: could not take the run lock`, file);
}
