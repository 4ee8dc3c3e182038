import { SessionvisorError } from "../runtime/index.js";

/** The store file is damaged or is not a sessionvisor store: refused rather than replaced. */
export class StoreCorruptError extends SessionvisorError {
  readonly path: string;

  constructor(path: string, cause: unknown) {
    super(
      "store_corrupt",
      `the session store ${path} cannot be read (${cause instanceof Error ? cause.message : String(cause)}); ` +
        "it was left untouched: restore it from a backup or move it away to start afresh",
      { cause },
    );
    this.path = path;
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
