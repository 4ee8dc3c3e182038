/**
 * How the chat shows a session's tool calls: one line per call and per result, the diff of a
 * file change under its result, and the question of an approval. Colours (ANSI) only when asked
 * for, which the chat does on a terminal.
 */

import type { SessionEvent } from "../session/index.js";

const ESC = String.fromCharCode(27);
const paint = (code: number) => (text: string) => `${ESC}[${code}m${text}${ESC}[0m`;
const green = paint(32);
const red = paint(31);
const cyan = paint(36);
const dim = paint(2);

const MAX_SUMMARY = 80;

/** The argument that says most about a call: its path, command or pattern, else its input as JSON. */
export function describeInput(input: unknown): string {
  if (typeof input === "object" && input !== null) {
    const fields = input as Record<string, unknown>;
    for (const key of ["command", "path", "pattern", "query", "url"]) {
      const value = fields[key];
      if (typeof value === "string") return shorten(value);
    }
  }
  if (input === undefined) return "";
  let json: string | undefined;
  try {
    json = JSON.stringify(input);
  } catch {
    json = undefined;
  }
  return shorten(json ?? String(input));
}

/** `→ read_file README.md` */
export function callLine(name: string, input: unknown, colors: boolean): string {
  const what = describeInput(input);
  const line = `→ ${name}${what ? ` ${what}` : ""}`;
  return colors ? dim(line) : line;
}

/** `✓ read_file (1.2 KB)`, `✓ run_command (exit 0, 80 B)`, `✓ edit (+2 −1)` or `✗ run_command: denied (the user denied it)` */
export function resultLine(
  result: Omit<
    Extract<SessionEvent, { type: "tool_result" }>,
    "type" | "sessionId" | "turnId" | "callId" | "seq"
  >,
  colors: boolean,
): string {
  if (result.ok) {
    const facts: string[] = [];
    const value = result.result as Record<string, unknown> | undefined;
    if (typeof value === "object" && value !== null && typeof value.exitCode === "number")
      facts.push(`exit ${value.exitCode}`);
    const size = sizeOf(result.result);
    if (result.diff) facts.push(diffStat(result.diff));
    else if (size !== undefined) facts.push(formatBytes(size));
    else if (result.truncated) facts.push("over 4 KB");
    const line = `✓ ${result.name}${facts.length ? ` (${facts.join(", ")})` : ""}`;
    return colors ? green(line) : line;
  }
  const line = `✗ ${result.name}: ${failure(result.error)}`;
  return colors ? red(line) : line;
}

function failure(error: { code: string; message: string } | undefined): string {
  if (!error) return "failed";
  if (error.code === "tool_denied" || error.code === "denied") {
    // "run_command was not allowed: the user denied it" → "denied (the user denied it)"
    const why = /not allowed: (.*)$/s.exec(error.message)?.[1] ?? "";
    return why ? `denied (${oneLine(why)})` : "denied";
  }
  return oneLine(error.message || error.code);
}

/** The unified diff, + lines green and - lines red when colours are on. */
export function diffLines(diff: string, colors: boolean): string {
  const lines = diff.replace(/\n$/, "").split("\n");
  if (!colors) return lines.join("\n");
  return lines
    .map((line) => {
      if (line.startsWith("+++") || line.startsWith("---")) return dim(line);
      if (line.startsWith("+")) return green(line);
      if (line.startsWith("-")) return red(line);
      if (line.startsWith("@@")) return cyan(line);
      return line;
    })
    .join("\n");
}

/** `+2 −1`: the lines a diff adds and removes. */
export function diffStat(diff: string): string {
  let added = 0;
  let removed = 0;
  for (const line of diff.split("\n")) {
    if (line.startsWith("+") && !line.startsWith("+++")) added++;
    else if (line.startsWith("-") && !line.startsWith("---")) removed++;
  }
  return `+${added} −${removed}`;
}

/** `Allow run_command "ls -la"? [y/N] ` */
export function approvalQuestion(name: string, input: unknown): string {
  const what = describeInput(input);
  return `Allow ${name}${what ? ` ${JSON.stringify(what)}` : ""}? [y/N] `;
}

/** y or yes (any case) approves; anything else, an empty line included, denies. */
export function isYes(answer: string): boolean {
  return /^y(es)?$/i.test(answer.trim());
}

/** The bytes of what a call gave back: a file's content where there is one, else the whole result. */
function sizeOf(result: unknown): number | undefined {
  if (result === undefined) return undefined;
  if (typeof result === "string") return Buffer.byteLength(result);
  const content = (result as Record<string, unknown> | null)?.content;
  if (typeof content === "string") return Buffer.byteLength(content);
  try {
    const json = JSON.stringify(result);
    return json === undefined ? undefined : Buffer.byteLength(json);
  } catch {
    return undefined;
  }
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

function shorten(text: string): string {
  const line = oneLine(text);
  return line.length > MAX_SUMMARY ? `${line.slice(0, MAX_SUMMARY - 1)}…` : line;
}

function oneLine(text: string): string {
  return text.trim().replace(/\s+/g, " ");
}
