import { InvalidArgumentError } from "../runtime/index.js";

export const MAX_PATH_LENGTH = 4096;

/** A file path as a session refers to it: a key, never opened by the runtime itself. */
export function assertFilePath(path: unknown): asserts path is string {
  if (typeof path !== "string" || path.length === 0 || path.length > MAX_PATH_LENGTH || path.includes("\0")) {
    throw new InvalidArgumentError(
      "path",
      `must be a non-empty string of at most ${MAX_PATH_LENGTH} characters without NUL`,
    );
  }
}
