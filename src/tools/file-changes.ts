import type { ToolContext } from "./context.js";
import { FileTooLargeError, ToolError } from "./errors.js";
import { unifiedDiff } from "./unified-diff.js";

/** What write_file and edit return: the change, as a unified diff. */
export interface FileChange {
  path: string;
  created: boolean;
  bytes: number;
  diff: string;
}

/**
 * Refuses a change inside a `.git` directory: a hook written there would run code at the user's
 * next git command, outside the approval policy for commands.
 */
export function refuseProtected(relative: string, shown: string): void {
  if (relative.split("/").includes(".git")) {
    throw new ToolError(
      "protected_path",
      `${JSON.stringify(shown)} is inside .git, which the file tools do not change`,
    );
  }
}

/** The current text of an existing file, refused unless it was read whole in this very state. */
export async function textReadBefore(context: ToolContext, path: string): Promise<string> {
  const { project, limits } = context;
  const read = await project.readFile(path, limits.maxEditableBytes);
  if (read.truncated) throw new FileTooLargeError(path, read.size, limits.maxEditableBytes, "change it");
  context.checkUnchanged(read.path.absolute, path, read.bytes);
  const text = read.bytes.toString("utf8");
  // Rewriting bytes that are not UTF-8 through a string would corrupt them.
  if (!Buffer.from(text, "utf8").equals(read.bytes)) {
    throw new ToolError(
      "not_text",
      `${JSON.stringify(path)} is not UTF-8 text; it cannot be changed with this tool`,
    );
  }
  return text;
}

/** Writes the new text whole (temp file, sync, rename), remembers it as read, and says what changed. */
export async function commitChange(
  context: ToolContext,
  path: string,
  before: string | undefined,
  after: string,
): Promise<FileChange> {
  const bytes = Buffer.byteLength(after);
  if (bytes > context.limits.maxEditableBytes) {
    throw new FileTooLargeError(path, bytes, context.limits.maxEditableBytes, "write it");
  }
  const written = await context.project.writeFileAtomic(path, after);
  context.rememberRead(written.absolute, after);
  return {
    path: written.relative,
    created: before === undefined,
    bytes,
    diff: unifiedDiff(written.relative, before, after),
  };
}
