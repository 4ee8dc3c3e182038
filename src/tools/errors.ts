import { registerRevivableError, SessionvisorError } from "../errors.js";

/**
 * A tool call failed in a way the model should be told about: its message is written for the
 * model to read and act on (read the file first, pick a path inside the project, …).
 */
export class ToolError extends SessionvisorError {}

/** The project directory could not be opened (missing, or not a directory). */
export class ProjectOpenError extends ToolError {
  readonly path: string;

  constructor(path: string, problem: string) {
    super("project_open_failed", `cannot open project ${JSON.stringify(path)}: ${problem}`);
    this.path = path;
  }
}

/** A path resolves (after symlinks) outside the project, or names a place tools never touch. */
export class PathOutsideProjectError extends ToolError {
  readonly path: string;

  constructor(path: string, why: string) {
    super(
      "path_outside_project",
      `${JSON.stringify(path)} is outside the project (${why}); use a path inside the project directory`,
    );
    this.path = path;
  }
}

/** The path is a directory, device, socket or FIFO where a regular file was needed (or the reverse). */
export class NotARegularFileError extends ToolError {
  readonly path: string;

  constructor(path: string, what: string, code = "not_a_regular_file") {
    super(code, `${JSON.stringify(path)} is ${what}`);
    this.path = path;
  }
}

export class FileNotFoundError extends ToolError {
  readonly path: string;

  constructor(path: string) {
    super("file_not_found", `${JSON.stringify(path)} does not exist in the project`);
    this.path = path;
  }
}

export class FileTooLargeError extends ToolError {
  readonly path: string;

  constructor(path: string, size: number, limit: number, doing: string) {
    super(
      "file_too_large",
      `${JSON.stringify(path)} is ${size} bytes, over the ${limit}-byte limit to ${doing}`,
    );
    this.path = path;
  }
}

/** A write or edit of an existing file that was not read first, or changed since it was read. */
export class ReadBeforeWriteError extends ToolError {
  readonly path: string;

  constructor(path: string, reason: "not_read" | "changed") {
    super(
      "read_before_write",
      reason === "not_read"
        ? `${JSON.stringify(path)} exists and has not been read; read it with read_file before changing it`
        : `${JSON.stringify(path)} changed since it was last read; read it again with read_file before changing it`,
    );
    this.path = path;
  }
}

/** An edit's oldString was not found, or found more than once. */
export class EditMatchError extends ToolError {
  readonly path: string;
  readonly matches: number;

  constructor(path: string, matches: number) {
    super(
      matches === 0 ? "edit_not_found" : "edit_not_unique",
      matches === 0
        ? `oldString was not found in ${JSON.stringify(path)}; it must match the file's text exactly (whitespace included)`
        : `oldString matches ${matches} places in ${JSON.stringify(path)}; include more surrounding text so it matches exactly once`,
    );
    this.path = path;
    this.matches = matches;
  }
}

/** A tool's input did not satisfy its schema; `field` names the first bad field. */
export class InvalidToolInputError extends ToolError {
  readonly tool: string;
  readonly field: string;

  constructor(tool: string, field: string, problem: string) {
    super("invalid_tool_input", `invalid input to ${tool}: ${field}: ${problem}`);
    this.tool = tool;
    this.field = field;
  }
}

export class UnknownToolError extends ToolError {
  readonly tool: string;

  constructor(tool: string, known: readonly string[]) {
    super("unknown_tool", `no tool ${JSON.stringify(tool)}; available: ${known.join(", ") || "none"}`);
    this.tool = tool;
  }
}

/** The approval policy refused the call (policy `deny`, or the approver said no). */
export class ToolDeniedError extends ToolError {
  readonly tool: string;

  constructor(tool: string, why: string) {
    super("tool_denied", `${tool} was not allowed: ${why}`);
    this.tool = tool;
  }
}

/** The call's signal fired (the turn was cancelled) before or while it ran. */
export class ToolAbortedError extends ToolError {
  readonly tool: string;

  constructor(tool: string, reason?: unknown) {
    super("tool_aborted", `${tool} was cancelled`, { cause: reason });
    this.tool = tool;
  }
}

for (const type of [
  ToolError,
  ProjectOpenError,
  PathOutsideProjectError,
  NotARegularFileError,
  FileNotFoundError,
  FileTooLargeError,
  ReadBeforeWriteError,
  EditMatchError,
  InvalidToolInputError,
  UnknownToolError,
  ToolDeniedError,
  ToolAbortedError,
]) {
  registerRevivableError(type);
}
