/**
 * The code caches hosts sent their parent (host-code.ts), kept for the hosts started after them.
 * A thread shares its parent's V8 flags; a process's include its heap limit
 * (`--max-old-space-size`), and V8 refuses a cache made under other flags, so a process's cache
 * is kept per heap limit. A process inherits its cache as an open file that has no name (written,
 * opened, unlinked), so nothing is left on disk whatever ends the parent.
 */
import { closeSync, openSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { type CodeCache, encodeCodeCache } from "./host-code.js";
import type { HostKind, HostLimits } from "./limits.js";

/** The descriptor a process host finds its code cache on (the fifth entry of its stdio). */
export const PROCESS_CODE_CACHE_FD = 4;
/** A cache bigger than this is not kept (the host's chunks make ~170 KB). */
const MAX_CODE_CACHE_BYTES = 16 * 1024 * 1024;

let threadCache: CodeCache | undefined;
/** Open descriptors of the process caches, by heap limit. */
const processCaches = new Map<number, number>();

/** Keeps what a host sent as its cache, if it is one: an object of byte arrays, not too big. */
export function keepCodeCache(kind: HostKind, limits: HostLimits, cache: unknown): void {
  if (typeof cache !== "object" || cache === null) return;
  let bytes = 0;
  for (const value of Object.values(cache)) {
    if (!(value instanceof Uint8Array)) return;
    bytes += value.byteLength;
  }
  if (bytes === 0 || bytes > MAX_CODE_CACHE_BYTES) return;
  if (kind === "thread") {
    threadCache = cache as CodeCache;
    return;
  }
  const file = join(tmpdir(), `sessionvisor-code-${process.pid}-${limits.maxHeapMb}-${performance.now()}`);
  let fd: number | undefined;
  try {
    writeFileSync(file, encodeCodeCache(cache as CodeCache), { mode: 0o600, flag: "wx" });
    fd = openSync(file, "r");
  } catch {
    // No cache: the next process compiles the library, as the first one did.
  } finally {
    try {
      unlinkSync(file);
    } catch {}
  }
  if (fd === undefined) return;
  const old = processCaches.get(limits.maxHeapMb);
  processCaches.set(limits.maxHeapMb, fd);
  if (old !== undefined) closeSync(old);
}

/** A thread's cache, to pass in its `workerData`. */
export function threadCodeCache(): CodeCache | undefined {
  return threadCache;
}

/** The open file of a process's cache, to pass as its PROCESS_CODE_CACHE_FD. */
export function processCodeCacheFile(limits: HostLimits): number | undefined {
  return processCaches.get(limits.maxHeapMb);
}
