import { z } from "zod";
import { NotARegularFileError } from "./errors.js";
import { commitChange, type FileChange, refuseProtected, textReadBefore } from "./file-changes.js";
import { defineTool } from "./tool.js";

export const writeFileTool = defineTool({
  name: "write_file",
  description:
    "Create a file of the project, or replace an existing one whole (read it with read_file first). " +
    "Missing directories are created. The file is replaced whole or not at all. Returns a unified diff.",
  kind: "write",
  input: z.strictObject({
    path: z.string().min(1).describe("The file, relative to the project root"),
    content: z.string().describe("The whole new content of the file"),
  }),
  async execute({ path, content }, context): Promise<FileChange> {
    if (path.endsWith("/")) throw new NotARegularFileError(path, "a directory name, not a file");
    const target = await context.project.resolve(path);
    refuseProtected(target.relative, path);
    return context.withFileLock(target.absolute, async () => {
      const exists = (await context.project.resolve(path)).exists;
      const before = exists ? await textReadBefore(context, path) : undefined;
      return commitChange(context, path, before, content);
    });
  },
});
