import { createTwoFilesPatch, FILE_HEADERS_ONLY } from "diff";

/** A git-style unified diff of one file's change (3 lines of context); `before` undefined for a new file. */
export function unifiedDiff(path: string, before: string | undefined, after: string): string {
  return createTwoFilesPatch(
    before === undefined ? "/dev/null" : `a/${path}`,
    `b/${path}`,
    before ?? "",
    after,
    undefined,
    undefined,
    { context: 3, headerOptions: FILE_HEADERS_ONLY },
  );
}
