import type pg from "pg";
import { PostgresDriverMissingError, StoreUnavailableError } from "./postgres-errors.js";

export type PgModule = typeof pg;

let driver: Promise<PgModule> | undefined;

/**
 * pg is an optional peer dependency, imported when the first Postgres store opens: a program
 * that keeps its sessions in SQLite or in memory never loads it. `specifier` is for the test
 * that shows what happens when the package is missing.
 */
export function loadPgDriver(specifier = "pg"): Promise<PgModule> {
  if (specifier !== "pg") return importDriver(specifier);
  driver ??= importDriver(specifier).catch((error: unknown) => {
    driver = undefined;
    throw error;
  });
  return driver;
}

async function importDriver(specifier: string): Promise<PgModule> {
  try {
    const module = (await import(specifier)) as { default?: PgModule } & PgModule;
    return module.default ?? module;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (
      (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") &&
      String((error as Error).message).includes(`'${specifier}'`)
    )
      throw new PostgresDriverMissingError(error);
    throw error;
  }
}

// Errors that say the connection (or the server) went away, not that the statement was wrong.
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);
// SQLSTATEs of a server that is shutting down, restarting, full, or killed our backend.
const RETRYABLE_STATES = new Set(["57P01", "57P02", "57P03", "53300", "53400"]);
// The server answered and refused us for good: wrong credentials, no such database.
const REFUSED_STATES = new Set(["28000", "28P01", "3D000"]);
const CONNECTION_MESSAGES =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed|Query read timeout|timeout expired)/;

/** Whether the error is the connection's or the server's availability, and if so whether a retry can help. */
export function connectionProblem(error: unknown): "retryable" | "refused" | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") {
    if (NETWORK_CODES.has(code) || RETRYABLE_STATES.has(code) || code.startsWith("08")) return "retryable";
    if (REFUSED_STATES.has(code)) return "refused";
  }
  if (CONNECTION_MESSAGES.test(error.message)) return "retryable";
  return undefined;
}

/** The error as the store's callers see it: a connection problem becomes StoreUnavailableError. */
export function storeError(error: unknown, where: string): unknown {
  const problem = connectionProblem(error);
  return problem === undefined ? error : new StoreUnavailableError(where, problem === "retryable", error);
}
