import { closeSync, fdatasyncSync, fstatSync, openSync, writeSync } from "node:fs";
import type BetterSqlite3 from "better-sqlite3";

/** Frames written past the autocheckpoint size: the commit that crosses it adds a few more. */
const SLACK_FRAMES = 100;
const WAL_HEADER_BYTES = 32;
const FRAME_HEADER_BYTES = 24;
const CHUNK_BYTES = 256 * 1024;

/**
 * The bytes a WAL reaches between two automatic checkpoints: a single connection's WAL restarts
 * from its start after each one, so it never grows past this, and SQLite never truncates it
 * while the file is open (no `journal_size_limit` is set). 0 when automatic checkpoints are off.
 */
export function walWorkingSize(db: BetterSqlite3.Database): number {
  const autocheckpoint = db.pragma("wal_autocheckpoint", { simple: true }) as number;
  if (autocheckpoint <= 0) return 0;
  const pageSize = db.pragma("page_size", { simple: true }) as number;
  return WAL_HEADER_BYTES + (autocheckpoint + SLACK_FRAMES) * (pageSize + FRAME_HEADER_BYTES);
}

/**
 * Writes zeros past the end of the WAL file up to its working size and flushes them once, as
 * PostgreSQL fills a WAL segment with zeros before using it (`wal_init_zero`). A commit that
 * appends to a file makes its fsync also commit the new blocks and the new size to the file
 * system's journal; a commit written over blocks already on the disk flushes only its own
 * data. On ext4 here, a durable `createSession` ran at ~1,800–2,700/s while a new WAL grew
 * and ~4,300/s once it had its full size — a state a store otherwise reaches only after ~1,000
 * pages written since it opened (the WAL is deleted when the last connection closes).
 *
 * Safe by construction: only bytes past the file's end are written, while this connection holds
 * the WAL's write lock, so no other connection can be appending there; SQLite reads a WAL frame
 * by frame and stops at the first one whose salt and checksum do not match, which zeros never
 * do. An optimisation, so it gives up rather than fails: when another connection holds the
 * write lock, when there is no WAL file to extend, or when the file system refuses the write.
 * Returns the bytes written.
 */
export function preallocateWal(db: BetterSqlite3.Database, bytes: number): number {
  const file = (db.pragma("database_list") as { name: string; file: string }[]).find(
    (d) => d.name === "main",
  )?.file;
  if (!file || bytes <= 0 || db.pragma("journal_mode", { simple: true }) !== "wal") return 0;
  const busyTimeout = db.pragma("busy_timeout", { simple: true }) as number;
  db.pragma("busy_timeout = 0");
  try {
    db.exec("BEGIN IMMEDIATE");
  } catch {
    return 0; // Another connection is writing: it is not worth waiting for.
  } finally {
    db.pragma(`busy_timeout = ${busyTimeout}`);
  }
  try {
    return zeroFillPastEnd(`${file}-wal`, bytes);
  } finally {
    db.exec("COMMIT");
  }
}

function zeroFillPastEnd(path: string, bytes: number): number {
  let fd: number;
  try {
    fd = openSync(path, "r+");
  } catch {
    return 0;
  }
  try {
    const from = fstatSync(fd).size;
    if (from >= bytes) return 0;
    const zeros = Buffer.alloc(Math.min(CHUNK_BYTES, bytes - from));
    for (let at = from; at < bytes; at += zeros.length) {
      writeSync(fd, zeros, 0, Math.min(zeros.length, bytes - at), at);
    }
    fdatasyncSync(fd);
    return bytes - from;
  } catch {
    return 0; // A full or read-only disk: the store's own writes will say so.
  } finally {
    closeSync(fd);
  }
}
