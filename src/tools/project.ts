import { randomBytes } from "node:crypto";
import { constants, type Dirent, type Stats } from "node:fs";
import {
  type FileHandle,
  lstat,
  mkdir,
  open,
  opendir,
  readlink,
  realpath,
  rename,
  unlink,
} from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import {
  FileNotFoundError,
  NotARegularFileError,
  PathOutsideProjectError,
  ProjectOpenError,
  ToolError,
} from "./errors.js";

/** A path inside the project, after symlinks. */
export interface ResolvedPath {
  /** The real absolute path; for a path not there yet, its nearest existing ancestor's real path joined with the rest. */
  absolute: string;
  /** Relative to the project root with `/` separators; `.` for the root itself. */
  relative: string;
  exists: boolean;
}

/** What a confined read gave back. */
export interface FileRead {
  path: ResolvedPath;
  bytes: Buffer;
  /** The file's size when opened. */
  size: number;
  /** Whether bytes stop short of the end of the file. */
  truncated: boolean;
}

/** @internal Test hooks for the commit step of an atomic write. */
export interface ProjectHooks {
  /** Runs after the temp file is written and synced, before it is renamed over the target. */
  beforeRename?: (tempPath: string) => void | Promise<void>;
}

/**
 * A directory that tools may touch, and the only way they touch files: every path is resolved
 * after following symlinks and must stay under the root, and every open re-checks, through the
 * opened descriptor, that what was opened is still inside (a symlink swapped in between the check
 * and the open is caught). Only regular files are read or written: devices, FIFOs and sockets are
 * refused before they are opened.
 */
export class Project {
  readonly root: string;
  readonly #prefix: string;
  readonly #hooks: ProjectHooks;

  private constructor(root: string, hooks: ProjectHooks) {
    this.root = root;
    this.#prefix = root.endsWith(sep) ? root : root + sep;
    this.#hooks = hooks;
  }

  /** Opens an absolute directory (realpath'd now, so a symlinked project path is fixed at open). */
  static open(path: string): Promise<Project> {
    return Project.openWithHooks(path, {});
  }

  /** @internal Opens with test hooks in the write path. */
  static async openWithHooks(path: string, hooks: ProjectHooks): Promise<Project> {
    if (typeof path !== "string" || !isAbsolute(path)) {
      throw new ProjectOpenError(String(path), "the path must be absolute");
    }
    let root: string;
    try {
      root = await realpath(path);
    } catch (error) {
      throw new ProjectOpenError(path, errnoOf(error) === "ENOENT" ? "no such directory" : messageOf(error));
    }
    const info = await lstat(root);
    if (!info.isDirectory()) throw new ProjectOpenError(path, "not a directory");
    return new Project(root, hooks);
  }

  /** Whether a real absolute path lies under the root (or is it). */
  contains(absolute: string): boolean {
    return absolute === this.root || absolute.startsWith(this.#prefix);
  }

  /** The project-relative form of a real absolute path inside the project. */
  relativeOf(absolute: string): string {
    const rel = relative(this.root, absolute);
    return rel === "" ? "." : rel.split(sep).join("/");
  }

  /**
   * Resolves a path given by a model: relative to the root, or absolute inside it. Refuses
   * `..` escapes, absolute paths elsewhere, and symlinks (anywhere in the chain) that lead out.
   */
  async resolve(path: string): Promise<ResolvedPath> {
    if (typeof path !== "string" || path === "") throw new ToolError("invalid_path", "the path is empty");
    if (path.includes("\0"))
      throw new ToolError("invalid_path", `${JSON.stringify(path)} contains a NUL byte`);
    const lexical = resolve(this.root, path);
    if (!this.contains(lexical)) {
      throw new PathOutsideProjectError(
        path,
        isAbsolute(path) ? "an absolute path elsewhere" : "it climbs out of the project with ..",
      );
    }
    const { real, exists } = await this.#realOf(lexical, path);
    if (!this.contains(real)) throw new PathOutsideProjectError(path, "a symbolic link on the way leads out");
    return { absolute: real, relative: this.relativeOf(real), exists };
  }

  /** The real path of `lexical`, or for a missing one its nearest existing ancestor's joined with the rest. */
  async #realOf(lexical: string, shown: string): Promise<{ real: string; exists: boolean }> {
    try {
      return { real: await realpath(lexical), exists: true };
    } catch (error) {
      if (errnoOf(error) !== "ENOENT") throw fsToolError(error, shown);
    }
    const missing: string[] = [];
    let head = lexical;
    for (;;) {
      missing.unshift(basename(head));
      head = dirname(head);
      let realHead: string;
      try {
        realHead = await realpath(head);
      } catch (error) {
        if (errnoOf(error) === "ENOENT" && head !== dirname(head)) continue;
        throw fsToolError(error, shown);
      }
      // The first missing name may be a dangling symlink: writing through it would land wherever it points.
      const first = join(realHead, missing[0]!);
      const link = await lstat(first).catch(() => undefined);
      if (link?.isSymbolicLink()) {
        throw new PathOutsideProjectError(
          shown,
          "it goes through a symbolic link whose target does not exist",
        );
      }
      return { real: join(realHead, ...missing), exists: false };
    }
  }

  /** A resolved path that exists and is a regular file (its lstat is returned). */
  async regularFile(path: string): Promise<{ resolved: ResolvedPath; stats: Stats }> {
    const resolved = await this.resolve(path);
    if (!resolved.exists) throw new FileNotFoundError(path);
    const stats = await lstat(resolved.absolute).catch((error: unknown) => {
      throw fsToolError(error, path);
    });
    if (!stats.isFile()) throw new NotARegularFileError(path, describeKind(stats));
    return { resolved, stats };
  }

  /** A resolved path that exists and is a directory. */
  async directory(path: string): Promise<ResolvedPath> {
    const resolved = await this.resolve(path);
    if (!resolved.exists) throw new FileNotFoundError(path);
    const stats = await lstat(resolved.absolute).catch((error: unknown) => {
      throw fsToolError(error, path);
    });
    if (!stats.isDirectory()) {
      const what = stats.isFile()
        ? "a file, not a directory"
        : describeKind(stats).replace("regular file", "directory");
      throw new NotARegularFileError(path, what, "not_a_directory");
    }
    return resolved;
  }

  /** Reads at most `maxBytes` of a regular file inside the project. */
  async readFile(path: string, maxBytes: number): Promise<FileRead> {
    const { resolved, stats } = await this.regularFile(path);
    const handle = await this.#openChecked(resolved.absolute, path, constants.O_RDONLY, stats);
    try {
      const size = (await handle.stat()).size;
      const { bytes, truncated } = await readUpTo(handle, maxBytes);
      return { path: resolved, bytes, size, truncated };
    } finally {
      await handle.close();
    }
  }

  /** The entries of a directory inside the project, symlinks not followed. */
  async readDirectory(path: string): Promise<Dirent[]> {
    const resolved = await this.directory(path);
    const entries: Dirent[] = [];
    try {
      for await (const entry of await opendir(resolved.absolute)) entries.push(entry);
    } catch (error) {
      throw fsToolError(error, path);
    }
    // A directory swapped for a symlink between the check and the open shows here.
    if ((await realpath(resolved.absolute).catch(() => "")) !== resolved.absolute) {
      throw new PathOutsideProjectError(path, "it changed while being listed");
    }
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * Replaces (or creates) a regular file whole or not at all: the data goes to a temp file in
   * the same directory, is synced, and is renamed over the target. Missing parent directories
   * are created inside the project.
   */
  async writeFileAtomic(path: string, data: string | Buffer): Promise<ResolvedPath> {
    const resolved = await this.resolve(path);
    let mode = 0o666;
    if (resolved.exists) {
      const stats = await lstat(resolved.absolute);
      if (!stats.isFile()) throw new NotARegularFileError(path, describeKind(stats));
      mode = stats.mode & 0o7777;
    }
    const dir = dirname(resolved.absolute);
    await this.#makeDirectories(dir, path);
    const temp = join(dir, `.${basename(resolved.absolute)}.${randomBytes(6).toString("hex")}.tmp`);
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;
    let committed = false;
    try {
      const handle = await this.#openChecked(temp, path, flags, undefined, mode);
      try {
        if (resolved.exists) await handle.chmod(mode);
        await handle.writeFile(data);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await this.#hooks.beforeRename?.(temp);
      await rename(temp, resolved.absolute);
      committed = true;
    } catch (error) {
      throw fsToolError(error, path);
    } finally {
      if (!committed) await unlink(temp).catch(() => undefined);
    }
    await syncDirectory(dir);
    return { ...resolved, exists: true };
  }

  async #makeDirectories(dir: string, shown: string): Promise<void> {
    try {
      await mkdir(dir, { recursive: true });
    } catch (error) {
      throw fsToolError(error, shown);
    }
    // A component swapped for a symlink since resolve() shows as a different real path.
    if ((await realpath(dir)) !== dir || !this.contains(dir)) {
      throw new PathOutsideProjectError(shown, "its directory changed while being created");
    }
  }

  /**
   * Opens without following a final symlink, without blocking on a FIFO, and then checks the
   * descriptor itself: still the kind of file expected (the same one lstat saw, if given) and,
   * through /proc/self/fd on Linux, still inside the project.
   */
  async #openChecked(
    absolute: string,
    shown: string,
    flags: number,
    expected?: Stats,
    mode?: number,
  ): Promise<FileHandle> {
    let handle: FileHandle;
    try {
      handle = await open(absolute, flags | constants.O_NOFOLLOW | constants.O_NONBLOCK, mode);
    } catch (error) {
      if (errnoOf(error) === "ELOOP") throw new PathOutsideProjectError(shown, "it became a symbolic link");
      throw fsToolError(error, shown);
    }
    try {
      const stats = await handle.stat();
      if (!stats.isFile()) throw new NotARegularFileError(shown, describeKind(stats));
      if (expected !== undefined && (stats.ino !== expected.ino || stats.dev !== expected.dev)) {
        throw new PathOutsideProjectError(shown, "it was replaced while being opened");
      }
      const actual = await descriptorPath(handle);
      if (actual !== undefined && !this.contains(actual)) {
        throw new PathOutsideProjectError(shown, "it moved outside the project while being opened");
      }
      return handle;
    } catch (error) {
      await handle.close();
      throw error;
    }
  }
}

/** Where an open descriptor really points, from /proc on Linux; undefined where that is not available. */
async function descriptorPath(handle: FileHandle): Promise<string | undefined> {
  if (process.platform !== "linux") return undefined;
  try {
    return (await readlink(`/proc/self/fd/${handle.fd}`)).replace(/ \(deleted\)$/, "");
  } catch {
    return undefined;
  }
}

async function readUpTo(
  handle: FileHandle,
  maxBytes: number,
): Promise<{ bytes: Buffer; truncated: boolean }> {
  // One byte more than the cap tells a file of exactly maxBytes from a longer one.
  const buffer = Buffer.alloc(Math.min(maxBytes + 1, 1 << 20));
  const chunks: Buffer[] = [];
  let total = 0;
  while (total <= maxBytes) {
    const want = Math.min(buffer.length, maxBytes + 1 - total);
    const { bytesRead } = await handle.read(buffer, 0, want, null);
    if (bytesRead === 0) break;
    chunks.push(Buffer.from(buffer.subarray(0, bytesRead)));
    total += bytesRead;
  }
  const all = Buffer.concat(chunks);
  return all.length > maxBytes
    ? { bytes: all.subarray(0, maxBytes), truncated: true }
    : { bytes: all, truncated: false };
}

async function syncDirectory(dir: string): Promise<void> {
  // Makes the rename itself durable; some filesystems refuse fsync on a directory, which is fine.
  try {
    const handle = await open(dir, constants.O_RDONLY);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // best effort
  }
}

export function describeKind(stats: Stats): string {
  if (stats.isFile()) return "a regular file";
  if (stats.isDirectory()) return "a directory, not a file";
  if (stats.isSymbolicLink()) return "a symbolic link";
  if (stats.isFIFO()) return "a FIFO (named pipe), not a regular file";
  if (stats.isSocket()) return "a socket, not a regular file";
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return "a device, not a regular file";
  return "not a regular file";
}

function errnoOf(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error ? String(error.code) : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A filesystem failure as a tool error the model can read (paths shown as the model gave them). */
export function fsToolError(error: unknown, shown: string): ToolError {
  if (error instanceof ToolError) return error;
  const where = JSON.stringify(shown);
  switch (errnoOf(error)) {
    case "ENOENT":
      return new FileNotFoundError(shown);
    case "ENOTDIR":
      return new ToolError("not_a_directory", `a part of ${where} is a file, not a directory`);
    case "EISDIR":
      return new NotARegularFileError(shown, "a directory, not a file");
    case "ELOOP":
      return new ToolError("symlink_loop", `${where} goes through a loop of symbolic links`);
    case "EACCES":
    case "EPERM":
      return new ToolError("permission_denied", `permission denied for ${where}`);
    case "ENAMETOOLONG":
      return new ToolError("invalid_path", `${where} is too long`);
    case "ENOSPC":
      return new ToolError("no_space", `no space left to write ${where}`);
    default:
      return new ToolError("file_error", `${where}: ${messageOf(error)}`, { cause: error });
  }
}
