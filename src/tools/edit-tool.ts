import { z } from "zod";
import { EditMatchError } from "./errors.js";
import { commitChange, type FileChange, refuseProtected, textReadBefore } from "./file-changes.js";
import { defineTool } from "./tool.js";

/** Occurrences of `needle`, overlapping ones included (any ambiguity counts). */
function occurrences(text: string, needle: string): { count: number; first: number } {
  let count = 0;
  let first = -1;
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + 1)) {
    if (count === 0) first = at;
    count++;
  }
  return { count, first };
}

export const editTool = defineTool({
  name: "edit",
  description:
    "Replace one exact piece of text in a file of the project (read it with read_file first). oldString must " +
    "occur exactly once, whitespace and line endings included; add surrounding lines to make it unique. " +
    "The change is applied whole or not at all. Returns a unified diff.",
  kind: "write",
  input: z
    .strictObject({
      path: z.string().min(1).describe("The file, relative to the project root"),
      oldString: z.string().min(1).describe("The exact text to replace; must occur exactly once"),
      newString: z.string().describe("The text to put in its place"),
    })
    .refine((value) => value.oldString !== value.newString, {
      path: ["newString"],
      message: "is the same as oldString; there is nothing to change",
    }),
  async execute({ path, oldString, newString }, context): Promise<FileChange> {
    const target = await context.project.resolve(path);
    refuseProtected(target.relative, path);
    return context.withFileLock(target.absolute, async () => {
      const before = await textReadBefore(context, path);
      const { count, first } = occurrences(before, oldString);
      if (count !== 1) throw new EditMatchError(path, count);
      const after = before.slice(0, first) + newString + before.slice(first + oldString.length);
      return commitChange(context, path, before, after);
    });
  },
});
