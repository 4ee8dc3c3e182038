import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { registerRevivableError, SessionvisorError } from "../errors.js";

/** The file a running `serve` keeps in its data directory: who holds it, and where it answers. */
export const LOCK_FILE = "serve.json";

export interface DataDirHolder {
  pid: number;
  url: string;
  startedAt: string;
}

/**
 * Another sessionvisor process runs a session system on this data directory. Two would each
 * restore and run every session of the same SQLite file without knowing of the other.
 */
export class DataDirInUseError extends SessionvisorError {
  readonly holder: DataDirHolder;

  constructor(dataDir: string, holder: DataDirHolder) {
    super(
      "data_dir_in_use",
      `${dataDir} is in use by sessionvisor serve (pid ${holder.pid}) at ${holder.url}: talk to it with --url ${holder.url}`,
    );
    this.holder = holder;
  }
}

registerRevivableError(DataDirInUseError);

/** The process holding `dataDir`, if its lock names one that is alive (a stale lock is ignored). */
export function dataDirHolder(dataDir: string): DataDirHolder | undefined {
  let holder: DataDirHolder;
  try {
    holder = JSON.parse(readFileSync(join(dataDir, LOCK_FILE), "utf8")) as DataDirHolder;
  } catch {
    return undefined;
  }
  // This very process counts too: another server of it holds the directory until it closes.
  if (!Number.isInteger(holder?.pid) || holder.pid <= 0) return undefined;
  try {
    process.kill(holder.pid, 0);
    return holder;
  } catch (error) {
    // EPERM: alive, someone else's; ESRCH: gone, the lock is stale.
    return (error as NodeJS.ErrnoException).code === "EPERM" ? holder : undefined;
  }
}

/** Throws DataDirInUseError when a living process holds `dataDir`. */
export function assertDataDirFree(dataDir: string): void {
  const holder = dataDirHolder(dataDir);
  if (holder) throw new DataDirInUseError(dataDir, holder);
}

/**
 * Claims `dataDir` for this process before its session system starts: the lock file is created
 * only if none exists (one claim wins however close two starts are); a lock left by a process
 * that is gone is replaced. Throws DataDirInUseError when a living process holds it.
 */
export function claimDataDir(dataDir: string): { setUrl(url: string): void; release(): void } {
  const path = join(dataDir, LOCK_FILE);
  const mine: DataDirHolder = { pid: process.pid, url: "", startedAt: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(path, `${JSON.stringify(mine)}\n`, { flag: "wx" });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw error;
      assertDataDirFree(dataDir);
      rmSync(path, { force: true });
    }
  }
  const ours = () => {
    try {
      return (JSON.parse(readFileSync(path, "utf8")) as DataDirHolder).pid === process.pid;
    } catch {
      return false;
    }
  };
  return {
    setUrl: (url) => {
      if (ours()) writeFileSync(path, `${JSON.stringify({ ...mine, url })}\n`);
    },
    release: () => {
      if (ours()) rmSync(path, { force: true });
    },
  };
}
