import ignore, { type Ignore } from "ignore";
import type { Project } from "./project.js";

/** One thing found under a directory, path relative to the project root with `/` separators. */
export interface WalkEntry {
  path: string;
  type: "file" | "directory" | "symlink" | "other";
}

interface Rules {
  /** The directory the .gitignore sits in, relative to the root ("" for the root). */
  base: string;
  matcher: Ignore;
}

const GITIGNORE_MAX_BYTES = 256 * 1024;

/**
 * Walks a directory of the project in name order, depth first, skipping `.git` and whatever the
 * .gitignore files (of the root, of the directories down to `start`, and of each directory
 * walked) ignore; a later (deeper) file's `!pattern` re-includes, as in git. Symlinks are
 * reported, never followed, so a walk cannot leave the project.
 */
export async function* walkProject(
  project: Project,
  start: string,
  options: { recursive: boolean; signal?: AbortSignal },
): AsyncGenerator<WalkEntry> {
  const startDir = await project.directory(start);
  const rules: Rules[] = [];
  const parts = startDir.relative === "." ? [] : startDir.relative.split("/");
  for (let depth = 0; depth <= parts.length; depth++) {
    const base = parts.slice(0, depth).join("/");
    if (depth > 0 && isIgnored(rules, base, true)) return;
    await addRules(project, base, rules);
  }
  yield* walkDirectory(project, startDir.relative === "." ? "" : startDir.relative, rules, options);
}

async function* walkDirectory(
  project: Project,
  dir: string,
  rules: Rules[],
  options: { recursive: boolean; signal?: AbortSignal },
): AsyncGenerator<WalkEntry> {
  options.signal?.throwIfAborted();
  const entries = await project.readDirectory(dir === "" ? "." : dir);
  for (const entry of entries) {
    if (entry.name === ".git") continue;
    const path = dir === "" ? entry.name : `${dir}/${entry.name}`;
    const type: WalkEntry["type"] = entry.isFile()
      ? "file"
      : entry.isDirectory()
        ? "directory"
        : entry.isSymbolicLink()
          ? "symlink"
          : "other";
    if (isIgnored(rules, path, type === "directory")) continue;
    yield { path, type };
    if (type === "directory" && options.recursive) {
      const inner = [...rules];
      await addRules(project, path, inner);
      yield* walkDirectory(project, path, inner, options);
    }
  }
}

async function addRules(project: Project, base: string, rules: Rules[]): Promise<void> {
  const path = base === "" ? ".gitignore" : `${base}/.gitignore`;
  try {
    const read = await project.readFile(path, GITIGNORE_MAX_BYTES);
    rules.push({ base, matcher: ignore().add(read.bytes.toString("utf8")) });
  } catch {
    // No .gitignore here, or one that is not a readable file of the project: no rules from it.
  }
}

/** Whether the rules (root first) leave `path` ignored; the deepest rule that decides wins. */
function isIgnored(rules: readonly Rules[], path: string, isDirectory: boolean): boolean {
  let ignored = false;
  for (const { base, matcher } of rules) {
    if (base !== "" && !path.startsWith(`${base}/`)) continue;
    const inner = base === "" ? path : path.slice(base.length + 1);
    const verdict = matcher.test(isDirectory ? `${inner}/` : inner);
    if (verdict.ignored) ignored = true;
    else if (verdict.unignored) ignored = false;
  }
  return ignored;
}
