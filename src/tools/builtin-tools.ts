import { editTool } from "./edit-tool.js";
import { listFilesTool } from "./list-files-tool.js";
import { readFileTool } from "./read-file-tool.js";
import { runCommandTool } from "./run-command-tool.js";
import { searchTool } from "./search-tool.js";
import type { AnyTool } from "./tool.js";
import { ToolSet } from "./tool-set.js";
import { writeFileTool } from "./write-file-tool.js";

/** The coding tools every project-bound session has, in the order a model is shown them. */
export const BUILTIN_TOOLS: readonly AnyTool[] = Object.freeze([
  listFilesTool,
  readFileTool,
  searchTool,
  writeFileTool,
  editTool,
  runCommandTool,
]);

/** A ToolSet of the built-in tools, plus any given. */
export function builtinToolSet(extra: Iterable<AnyTool> = []): ToolSet {
  return new ToolSet([...BUILTIN_TOOLS, ...extra]);
}
