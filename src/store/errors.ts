import { registerRevivableError, SessionvisorError } from "../errors.js";

/**
 * An id that is not a session id. The store's guard and the client API throw this one class, so
 * a caller matches one `code` whichever layer refused the id first.
 */
export class InvalidSessionIdError extends SessionvisorError {
  constructor(value: unknown, expected = "session_<uuid>") {
    const shown = typeof value === "string" ? JSON.stringify(value.slice(0, 80)) : typeof value;
    super("invalid_session_id", `invalid session id ${shown}: expected ${expected}`);
  }
}

/** Which stored value of one session could not be read, and the first field that was wrong. */
export interface CorruptEntry {
  sessionId: string;
  part: "record" | "conversation" | "events";
  /** A dotted path such as `turns.3.role`; absent when the value is not JSON at all. */
  field?: string;
}

/**
 * What the store holds cannot be read: the whole file (damaged, or not a sessionvisor store), or
 * one session's record or conversation. It is refused rather than replaced.
 */
export class StoreCorruptError extends SessionvisorError {
  /** The store file, when the file itself is damaged. */
  readonly path: string | undefined;
  /** The session whose stored record or conversation cannot be read. */
  readonly sessionId: string | undefined;
  readonly part: CorruptEntry["part"] | undefined;
  readonly field: string | undefined;

  constructor(where: string | CorruptEntry, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      "store_corrupt",
      typeof where === "string"
        ? `the session store ${where} cannot be read (${reason}); it was left untouched: ` +
            "restore it from a backup or move it away to start afresh"
        : `the stored ${where.part} of session ${where.sessionId} cannot be read ` +
            `(${where.field ? `${where.field}: ` : ""}${reason}); it was left untouched in the store`,
      { cause },
    );
    this.path = typeof where === "string" ? where : undefined;
    this.sessionId = typeof where === "string" ? undefined : where.sessionId;
    this.part = typeof where === "string" ? undefined : where.part;
    this.field = typeof where === "string" ? undefined : where.field;
  }
}

/** The store file was written by a newer sessionvisor, whose schema this one does not know. */
export class StoreVersionError extends SessionvisorError {
  readonly found: number;
  readonly supported: number;

  constructor(path: string, found: number, supported: number) {
    super(
      "store_version",
      `the session store ${path} has schema version ${found}, newer than the ${supported} this version of sessionvisor understands`,
    );
    this.found = found;
    this.supported = supported;
  }
}

export class StoreClosedError extends SessionvisorError {
  constructor() {
    super("store_closed", "the session store is closed");
  }
}

/**
 * The SQLite store needs better-sqlite3, an optional peer dependency: it is not installed, or
 * its native module was never built (its install script was blocked, as npm 11 can do to
 * scripts not approved, or failed to compile).
 * Nothing else in sessionvisor needs it; MemorySessionStore does not.
 */
export class SqliteDriverMissingError extends SessionvisorError {
  /** The package to install. */
  readonly packageName = "better-sqlite3";

  constructor(problem: "not_installed" | "not_built", cause: unknown) {
    super(
      "sqlite_driver_missing",
      problem === "not_installed"
        ? "the SQLite session store needs the package better-sqlite3, which is not installed: " +
            "run `npm install better-sqlite3` (or keep sessions in a MemorySessionStore)"
        : "the SQLite session store needs better-sqlite3's native module, which was not built " +
            "(its install script did not run or failed): allow it (npm 11: `npm install-scripts approve " +
            "better-sqlite3`) and run `npm rebuild better-sqlite3`",
      { cause },
    );
  }
}

// A store's errors keep their class when a hosted session's agents throw them to a caller.
for (const type of [
  InvalidSessionIdError,
  StoreCorruptError,
  StoreVersionError,
  StoreClosedError,
  SqliteDriverMissingError,
]) {
  registerRevivableError(type);
}
