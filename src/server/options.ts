import { isIP } from "node:net";
import { InvalidArgumentError } from "../errors.js";

/** What one client may ask of the server at once. */
export interface ServerLimits {
  /** Largest request body, in bytes, but for an import (default 1 MiB): past it, 413. */
  maxBodyBytes: number;
  /** Largest session document `POST /v1/sessions/import` takes, in bytes (default 16 MiB). */
  maxImportBytes: number;
  /** SSE streams (events and streamed turns) one owner may hold open at once (default 16): past it, 429. */
  maxStreamsPerOwner: number;
  /** Messages one owner may send a minute, all sessions together (default 600; a burst may use a whole minute's): past it, 429 with Retry-After. */
  maxMessagesPerMinute: number;
  /** Sessions a list answers with when the request gives no `limit` (default 50). */
  defaultPageSize: number;
  /** Most sessions one list answers with (default 500). */
  maxPageSize: number;
  /** A comment line sent on an idle SSE stream this often, so proxies keep it (ms, default 15,000). */
  heartbeatMs: number;
  /** Events waiting for a slow SSE client at most; past it the stream is closed and the client resumes by Last-Event-ID (default 10,000). */
  maxQueuedEvents: number;
  /** Newest events of all sessions kept in memory for the global streams to resume from (default 10,000); older cursors get `events_lost`. */
  keptGlobalEvents: number;
}

export const DEFAULT_SERVER_LIMITS: Readonly<ServerLimits> = {
  maxBodyBytes: 1024 * 1024,
  maxImportBytes: 16 * 1024 * 1024,
  maxStreamsPerOwner: 16,
  maxMessagesPerMinute: 600,
  defaultPageSize: 50,
  maxPageSize: 500,
  heartbeatMs: 15_000,
  maxQueuedEvents: 10_000,
  keptGlobalEvents: 10_000,
};

/** The limits with defaults filled in; each must be a positive whole number (InvalidArgumentError naming it). */
export function resolveServerLimits(given: Partial<ServerLimits> | undefined): ServerLimits {
  const limits = { ...DEFAULT_SERVER_LIMITS };
  if (given === undefined) return limits;
  if (typeof given !== "object" || given === null) {
    throw new InvalidArgumentError("limits", "must be an object");
  }
  for (const [key, value] of Object.entries(given)) {
    if (!(key in DEFAULT_SERVER_LIMITS))
      throw new InvalidArgumentError(`limits.${key}`, "is not a known limit");
    if (value === undefined) continue;
    if (!(Number.isSafeInteger(value) && (value as number) > 0)) {
      throw new InvalidArgumentError(`limits.${key}`, "must be a positive whole number");
    }
    limits[key as keyof ServerLimits] = value as number;
  }
  if (limits.defaultPageSize > limits.maxPageSize) {
    throw new InvalidArgumentError("limits.defaultPageSize", "must not be above limits.maxPageSize");
  }
  return limits;
}

/**
 * Whether a listening address only this machine can reach: `localhost`, 127.0.0.0/8, `::1`
 * (and 127.x written as an IPv4-mapped IPv6 address). `0.0.0.0`, `::` and any other address or
 * name are not.
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (bare.toLowerCase() === "localhost") return true;
  if (isIP(bare) === 4) return bare.startsWith("127.");
  if (isIP(bare) === 6) {
    const lower = bare.toLowerCase();
    if (lower === "::1" || lower === "0:0:0:0:0:0:0:1") return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
    return mapped !== null && (mapped[1] as string).startsWith("127.");
  }
  return false;
}
