/** The bounds every tool keeps to; each may be overridden per context. */
export interface ToolLimits {
  /** Bytes of file text read_file returns at most (a truncation marker follows). */
  maxReadBytes: number;
  /** Largest file read_file reads whole (and so remembers for a later edit) and write_file/edit change. */
  maxEditableBytes: number;
  /** Entries list_files returns at most. */
  maxListEntries: number;
  /** Matches search returns at most. */
  maxSearchMatches: number;
  /** Files larger than this are skipped by search. */
  maxSearchFileBytes: number;
  /** Characters of a line search looks at (and shows); the rest of a longer line is ignored. */
  maxSearchLineLength: number;
  /** Wall time a search may take before it stops with what it found. */
  searchTimeoutMs: number;
  /** Wall time a command may run before its process group is killed. */
  commandTimeoutMs: number;
  /** Bytes of stdout, and separately of stderr, kept from a command (its start and its end). */
  maxCommandOutputBytes: number;
  /** Between SIGTERM and SIGKILL when a command's process group is stopped. */
  killGraceMs: number;
}

export const DEFAULT_TOOL_LIMITS: Readonly<ToolLimits> = Object.freeze({
  maxReadBytes: 256 * 1024,
  maxEditableBytes: 4 * 1024 * 1024,
  maxListEntries: 1000,
  maxSearchMatches: 200,
  maxSearchFileBytes: 1024 * 1024,
  maxSearchLineLength: 2000,
  searchTimeoutMs: 5000,
  commandTimeoutMs: 120_000,
  maxCommandOutputBytes: 64 * 1024,
  killGraceMs: 2000,
});
