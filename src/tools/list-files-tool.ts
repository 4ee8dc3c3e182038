import { z } from "zod";
import { ToolAbortedError } from "./errors.js";
import { type WalkEntry, walkProject } from "./project-walk.js";
import { defineTool } from "./tool.js";

export interface ListFilesResult {
  path: string;
  entries: WalkEntry[];
  /** True when there were more entries than the cap. */
  truncated: boolean;
}

export const listFilesTool = defineTool({
  name: "list_files",
  description:
    "List a directory of the project (default its root), optionally recursively. Skips .git and what " +
    ".gitignore ignores; symbolic links are listed, not followed. Paths are relative to the project root.",
  kind: "read",
  input: z.strictObject({
    path: z.string().min(1).default(".").describe("The directory, relative to the project root"),
    recursive: z.boolean().default(false).describe("List subdirectories too"),
    maxEntries: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe("At most this many entries (capped by the session)"),
  }),
  async execute({ path, recursive, maxEntries }, context): Promise<ListFilesResult> {
    const cap = Math.min(maxEntries ?? Number.POSITIVE_INFINITY, context.limits.maxListEntries);
    const dir = await context.project.directory(path);
    const entries: WalkEntry[] = [];
    let truncated = false;
    try {
      for await (const entry of walkProject(context.project, path, { recursive, signal: context.signal })) {
        if (entries.length === cap) {
          truncated = true;
          break;
        }
        entries.push(entry);
      }
    } catch (error) {
      if (context.signal.aborted) throw new ToolAbortedError("list_files", context.signal.reason);
      throw error;
    }
    return { path: dir.relative, entries, truncated };
  },
});
