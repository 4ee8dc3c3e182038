// A real project directory for the tools' tests: files written into a fresh temp directory,
// a Project opened on it, contexts made for it, and the whole directory removed in teardown.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Project, ToolContext, type ToolContextOptions } from "../../src/index.js";
import type { ProjectHooks } from "../../src/tools/project.js";

export interface ProjectFixture {
  /** The temp directory that holds the project (and room beside it for things outside it). */
  readonly outside: string;
  /** The project root (real path). */
  readonly root: string;
  readonly project: Project;
  /** A context on the project; options as ToolContext's, the project already given. */
  context(options?: Omit<ToolContextOptions, "project">): ToolContext;
  /** Writes a file under the root, creating directories. */
  write(path: string, content: string | Buffer): string;
  read(path: string): string;
  /** The absolute path of a project-relative one. */
  at(path: string): string;
  /** Every name in a directory of the project (hidden ones included). */
  names(dir?: string): string[];
  remove(): void;
}

export async function projectFixture(
  files: Record<string, string> = {},
  hooks: ProjectHooks = {},
): Promise<ProjectFixture> {
  const outside = mkdtempSync(join(tmpdir(), "sessionvisor-tools-"));
  const rootDir = join(outside, "project");
  mkdirSync(rootDir);
  const project = await Project.openWithHooks(rootDir, hooks);
  const at = (path: string) => join(project.root, path);
  const write = (path: string, content: string | Buffer) => {
    mkdirSync(dirname(at(path)), { recursive: true });
    writeFileSync(at(path), content);
    return at(path);
  };
  for (const [path, content] of Object.entries(files)) write(path, content);
  return {
    outside,
    root: project.root,
    project,
    context: (options = {}) => new ToolContext({ ...options, project }),
    write,
    read: (path) => readFileSync(at(path), "utf8"),
    at,
    names: (dir = ".") => readdirSync(at(dir)).sort(),
    remove: () => rmSync(outside, { recursive: true, force: true }),
  };
}

/** Whether a process is gone for good (no such process, or a zombie waiting to be reaped). */
export function processGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}
