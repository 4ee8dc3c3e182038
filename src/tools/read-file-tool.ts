import { z } from "zod";
import { ToolError } from "./errors.js";
import { defineTool } from "./tool.js";

const input = z
  .strictObject({
    path: z.string().min(1).describe("The file, relative to the project root"),
    startLine: z.number().int().min(1).optional().describe("First line to return (1-based); default 1"),
    endLine: z.number().int().min(1).optional().describe("Last line to return (inclusive); default the last"),
  })
  .refine(
    (value) =>
      value.startLine === undefined || value.endLine === undefined || value.endLine >= value.startLine,
    {
      path: ["endLine"],
      message: "must not be before startLine",
    },
  );

export interface ReadFileResult {
  path: string;
  content: string;
  startLine: number;
  endLine: number;
  /** Lines in the file; absent when it was too large to read whole. */
  totalLines?: number;
  size: number;
  truncated: boolean;
  binary?: true;
}

/** Splits keeping each line's own ending, so that joined lines give back the exact text. */
function linesOf(text: string): string[] {
  return text === "" ? [] : text.split(/(?<=\n)/);
}

export const readFileTool = defineTool({
  name: "read_file",
  description:
    "Read a text file of the project, whole or a range of lines (startLine, endLine; 1-based, inclusive). " +
    "The content is returned exactly, without line numbers. Long output is cut with a marker that says which " +
    "startLine to continue from. A file must be read before write_file or edit may change it.",
  kind: "read",
  input,
  async execute(args, context): Promise<ReadFileResult> {
    const { limits, project } = context;
    const read = await project.readFile(args.path, limits.maxEditableBytes);
    const path = read.path.relative;
    if (read.bytes.subarray(0, 8192).includes(0)) {
      return { path, content: "", startLine: 0, endLine: 0, size: read.size, truncated: false, binary: true };
    }
    // Only a file seen whole may later be changed: the memory holds the hash of all of it.
    if (!read.truncated) context.rememberRead(read.path.absolute, read.bytes);
    const lines = linesOf(read.bytes.toString("utf8"));
    const startLine = args.startLine ?? 1;
    if (startLine > Math.max(lines.length, 1)) {
      throw new ToolError(
        "line_out_of_range",
        `startLine ${startLine} is past the end of ${JSON.stringify(path)} (${lines.length} lines)`,
      );
    }
    const endLine = Math.min(args.endLine ?? lines.length, lines.length);
    let shown = lines.slice(startLine - 1, endLine);
    let bytes = 0;
    let cut = shown.length;
    for (let i = 0; i < shown.length; i++) {
      bytes += Buffer.byteLength(shown[i]!);
      if (bytes > limits.maxReadBytes) {
        cut = i;
        break;
      }
    }
    const totals = read.truncated ? {} : { totalLines: lines.length };
    if (cut === shown.length && !read.truncated) {
      return {
        path,
        content: shown.join(""),
        startLine,
        endLine,
        ...totals,
        size: read.size,
        truncated: false,
      };
    }
    // A first line longer than the cap is shown cut; otherwise whole lines up to the cap.
    let content: string;
    let lastShown: number;
    if (cut === 0) {
      content = Buffer.from(shown[0]!).subarray(0, limits.maxReadBytes).toString("utf8");
      lastShown = startLine;
    } else {
      shown = shown.slice(0, cut);
      content = shown.join("");
      lastShown = startLine + cut - 1;
    }
    const of = read.truncated
      ? `the first ${read.bytes.length} of ${read.size} bytes`
      : `${lines.length} lines`;
    const next =
      cut === 0 ? "the rest of this line is too long to show" : `continue with startLine ${lastShown + 1}`;
    content += `${content.endsWith("\n") ? "" : "\n"}[truncated: lines ${startLine}-${lastShown} of ${of} shown; ${next}]`;
    return { path, content, startLine, endLine: lastShown, ...totals, size: read.size, truncated: true };
  },
});
