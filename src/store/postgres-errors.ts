import { registerRevivableError, SessionvisorError } from "../errors.js";

/**
 * The Postgres store needs the package pg, an optional peer dependency that is not installed.
 * Nothing else in sessionvisor needs it.
 */
export class PostgresDriverMissingError extends SessionvisorError {
  /** The package to install. */
  readonly packageName = "pg";

  constructor(cause: unknown) {
    super(
      "postgres_driver_missing",
      "the Postgres session store needs the package pg, which is not installed: run `npm install pg` " +
        "(or keep sessions in a SqliteSessionStore or MemorySessionStore)",
      { cause },
    );
  }
}

/**
 * The database could not be reached, or the connection broke during the call. The store itself
 * is fine: the next call takes a fresh connection, so a call may be retried once the database
 * answers again. A write that failed this way while it committed may or may not have been
 * applied; every write of the port can be repeated except `changeConversation`, whose caller
 * should read the conversation back before it repeats an append.
 */
export class StoreUnavailableError extends SessionvisorError {
  /** Whether trying again later can succeed (false: the server refused for good, e.g. a bad password). */
  readonly retryable: boolean;

  constructor(where: string, retryable: boolean, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      "store_unavailable",
      `the session store at ${where} is unavailable (${reason})${retryable ? "; the call can be retried once it answers again" : ""}`,
      { cause },
    );
    this.retryable = retryable;
  }
}

for (const type of [PostgresDriverMissingError, StoreUnavailableError]) registerRevivableError(type);
