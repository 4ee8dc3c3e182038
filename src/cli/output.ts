/** How the commands print: aligned tables and colours for people, JSON for scripts, one-line errors. */

/** Where a command writes; a test or a caller gives its own. */
export interface Out {
  write(text: string): unknown;
  /** Colours and redraws only on a terminal. */
  isTTY?: boolean | undefined;
}

export interface CommandOutput {
  stdout: Out;
  stderr: Out;
  env: NodeJS.ProcessEnv;
}

/** The process's own streams and environment. */
export function processOutput(): CommandOutput {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env };
}

/**
 * A command that cannot do what it was asked: `exitCode` 2 for a usage problem (a bad flag, a
 * missing token file), 1 for a failure (an API error, a store that does not open). `code` is
 * the API's error code when there is one: the line reads `error: <code>: <message>`.
 */
export class CliError extends Error {
  constructor(
    readonly exitCode: 1 | 2,
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** A usage problem (exit 2). */
export function usageError(message: string): CliError {
  return new CliError(2, message);
}

/** The first line of an error's message (a native module's loader error can run to many). */
export function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0] ?? message;
}

/**
 * Writes the one line an error gets and returns the exit code: `error: <code>: <message>` for
 * an error with a code (ours, the API's), `sessionvisor <command>: <message>` for a usage error.
 */
export function reportError(error: unknown, command: string, stderr: Out): 1 | 2 {
  if (error instanceof CliError && error.exitCode === 2) {
    stderr.write(`sessionvisor ${command}: ${firstLine(error)}\n`);
    return 2;
  }
  const code = codeOf(error);
  stderr.write(code ? `error: ${code}: ${firstLine(error)}\n` : `error: ${firstLine(error)}\n`);
  return 1;
}

function codeOf(error: unknown): string | undefined {
  if (error instanceof CliError) return error.code;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[a-z_]+$/.test(code) ? code : undefined;
}

/** Colours, or none: only on a TTY, and never when NO_COLOR is set (https://no-color.org). */
export interface Palette {
  bold(text: string): string;
  dim(text: string): string;
  green(text: string): string;
  red(text: string): string;
  yellow(text: string): string;
}

export function paletteFor(out: Out, env: NodeJS.ProcessEnv): Palette {
  const on = out.isTTY === true && !env.NO_COLOR && env.TERM !== "dumb";
  const wrap = (open: number, close: number) => (text: string) =>
    on ? `\x1b[${open}m${text}\x1b[${close}m` : text;
  return {
    bold: wrap(1, 22),
    dim: wrap(2, 22),
    green: wrap(32, 39),
    red: wrap(31, 39),
    yellow: wrap(33, 39),
  };
}

const ESCAPES = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");

/** The width a cell takes on screen (colour escapes take none). */
function widthOf(text: string): number {
  return [...text.replace(ESCAPES, "")].length;
}

/**
 * Rows under a header, each column as wide as its widest cell, two spaces between columns; the
 * last column is not padded (no trailing blanks).
 */
export function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  palette: Palette,
): string {
  const widths = header.map((title, i) =>
    Math.max(widthOf(title), ...rows.map((row) => widthOf(row[i] ?? ""))),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell + " ".repeat((widths[i] ?? 0) - widthOf(cell))))
      .join("  ")
      .trimEnd();
  return [palette.bold(line(header)), ...rows.map(line)].map((l) => `${l}\n`).join("");
}

/** JSON as scripts read it: indented, one trailing newline. */
export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
