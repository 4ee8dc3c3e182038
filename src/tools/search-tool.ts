import ignore from "ignore";
import { z } from "zod";
import { InvalidToolInputError, ToolAbortedError } from "./errors.js";
import type { Project } from "./project.js";
import { walkProject } from "./project-walk.js";
import { type LineMatches, RegexLineMatcher } from "./regex-matcher.js";
import { defineTool } from "./tool.js";

const SHOWN_LINE_CHARS = 300;

export interface SearchResult {
  /** `path:line:text`, path relative to the project root, line 1-based. */
  matches: string[];
  /** More matches existed than the cap. */
  truncated: boolean;
  /** The time limit (or a cancel) stopped the search; the matches so far are given. */
  timedOut: boolean;
  filesSearched: number;
  /** Files passed over: larger than the limit, binary, or unreadable. */
  filesSkipped: number;
}

interface LineFinder {
  find(text: string, deadline: number, signal: AbortSignal): Promise<LineMatches>;
  close(): Promise<void>;
}

function plainFinder(needle: string, caseSensitive: boolean, maxLineLength: number): LineFinder {
  const wanted = caseSensitive ? needle : needle.toLowerCase();
  return {
    async find(text) {
      const found: number[] = [];
      const lines = text.split("\n");
      for (let i = 0; i < lines.length; i++) {
        let line = lines[i]!.slice(0, maxLineLength);
        if (!caseSensitive) line = line.toLowerCase();
        if (line.includes(wanted)) found.push(i);
      }
      return found;
    },
    async close() {},
  };
}

function regexFinder(source: string, caseSensitive: boolean, maxLineLength: number): LineFinder {
  let matcher: RegexLineMatcher;
  try {
    matcher = new RegexLineMatcher(source, caseSensitive ? "" : "i", maxLineLength);
  } catch (error) {
    throw new InvalidToolInputError(
      "search",
      "pattern",
      error instanceof Error ? error.message : String(error),
    );
  }
  return {
    find: (text, deadline, signal) => matcher.match(text, deadline, signal),
    close: () => matcher.close(),
  };
}

function shown(line: string): string {
  const text = line.endsWith("\r") ? line.slice(0, -1) : line;
  return text.length > SHOWN_LINE_CHARS ? `${text.slice(0, SHOWN_LINE_CHARS)}…` : text;
}

export const searchTool = defineTool({
  name: "search",
  description:
    "Search the project's text files for a string, or a JavaScript regular expression with regex: true, line " +
    "by line. Skips .git, what .gitignore ignores, binary and very large files. Returns path:line:text for " +
    "each matching line, up to a cap, within a time limit.",
  kind: "read",
  input: z.strictObject({
    pattern: z.string().min(1).describe("The text (or regular expression) to look for"),
    regex: z.boolean().default(false).describe("Treat pattern as a JavaScript regular expression"),
    caseSensitive: z.boolean().default(true),
    path: z
      .string()
      .min(1)
      .default(".")
      .describe("A directory or file to search, relative to the project root"),
    include: z
      .string()
      .min(1)
      .optional()
      .describe("Only files matching this .gitignore-style pattern, e.g. *.ts or src/**/*.test.ts"),
    maxMatches: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe("At most this many matches (capped by the session)"),
  }),
  async execute(args, context): Promise<SearchResult> {
    const { project, limits, signal } = context;
    const deadline = Date.now() + limits.searchTimeoutMs;
    const cap = Math.min(args.maxMatches ?? Number.POSITIVE_INFINITY, limits.maxSearchMatches);
    const target = await project.resolve(args.path);
    const files: AsyncIterable<string> | string[] =
      target.exists &&
      (await project.regularFile(args.path).then(
        () => true,
        () => false,
      ))
        ? [target.relative]
        : filesUnder(project, args.path, signal, args.include);
    const finder = args.regex
      ? regexFinder(args.pattern, args.caseSensitive, limits.maxSearchLineLength)
      : plainFinder(args.pattern, args.caseSensitive, limits.maxSearchLineLength);
    const result: SearchResult = {
      matches: [],
      truncated: false,
      timedOut: false,
      filesSearched: 0,
      filesSkipped: 0,
    };
    try {
      search: for await (const file of files) {
        if (signal.aborted) throw new ToolAbortedError("search", signal.reason);
        if (Date.now() >= deadline) {
          result.timedOut = true;
          break;
        }
        const text = await searchableText(context.project, file, limits.maxSearchFileBytes);
        if (text === undefined) {
          result.filesSkipped++;
          continue;
        }
        result.filesSearched++;
        const found = await finder.find(text, deadline, signal);
        if (found === "timeout") {
          if (signal.aborted) throw new ToolAbortedError("search", signal.reason);
          result.timedOut = true;
          break;
        }
        const lines = found.length > 0 ? text.split("\n") : [];
        for (const index of found) {
          if (result.matches.length === cap) {
            result.truncated = true;
            break search;
          }
          result.matches.push(`${file}:${index + 1}:${shown(lines[index]!)}`);
        }
      }
    } catch (error) {
      if (signal.aborted) throw new ToolAbortedError("search", signal.reason);
      throw error;
    } finally {
      await finder.close();
    }
    return result;
  },
});

async function* filesUnder(
  project: Project,
  dir: string,
  signal: AbortSignal,
  include: string | undefined,
): AsyncGenerator<string> {
  // A gitignore matcher of the one pattern: "ignored" here means "included".
  const included = include === undefined ? undefined : ignore().add(include);
  for await (const entry of walkProject(project, dir, { recursive: true, signal })) {
    if (entry.type === "file" && (included === undefined || included.ignores(entry.path))) yield entry.path;
  }
}

/** A file's text, or undefined if it is too large, binary, or cannot be read. */
async function searchableText(project: Project, file: string, maxBytes: number): Promise<string | undefined> {
  try {
    const read = await project.readFile(file, maxBytes);
    if (read.truncated || read.bytes.subarray(0, 8192).includes(0)) return undefined;
    return read.bytes.toString("utf8");
  } catch {
    return undefined;
  }
}
