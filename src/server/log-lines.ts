import { pino } from "pino";
import { InvalidArgumentError } from "../errors.js";

/** How the command line writes its log records: lines for people, or pino's JSON for machines. */
export type LogFormat = "pretty" | "json";

export const LOG_FORMATS: readonly LogFormat[] = ["pretty", "json"];

/** `--log-format`'s value, checked; undefined is the default, `pretty`. */
export function parseLogFormat(value: string | undefined): LogFormat {
  if (value === undefined) return "pretty";
  if ((LOG_FORMATS as readonly string[]).includes(value)) return value as LogFormat;
  throw new InvalidArgumentError("--log-format", `must be pretty or json, not ${JSON.stringify(value)}`);
}

const LEVEL_NAMES: Record<number, string> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO",
  40: "WARN",
  50: "ERROR",
  60: "FATAL",
};
const LEVEL_COLOURS: Record<number, string> = { 40: "\x1b[33m", 50: "\x1b[31m", 60: "\x1b[31m" };
/** pino's own fields, said by the line's head rather than repeated as `key=value`. */
const HEAD_FIELDS = new Set(["level", "time", "pid", "hostname", "name", "msg"]);

/** One field as `key=value`: strings bare when they have no space, everything else as JSON. */
function field(key: string, value: unknown): string {
  if (typeof value === "string") return `${key}=${/^[^\s"=]*$/.test(value) ? value : JSON.stringify(value)}`;
  return `${key}=${JSON.stringify(value)}`;
}

/**
 * One pino JSON record as a line a person reads: `14:02:11 WARN  message key=value …`, an
 * error's stack indented below it. Colour only when asked (a TTY). A line that is not a pino
 * record is passed on as it is, so nothing written is lost.
 */
export function prettyLine(json: string, colour = false): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith("\n") ? json : `${json}\n`;
  }
  if (typeof record !== "object" || record === null) return `${json.trimEnd()}\n`;
  const level = typeof record.level === "number" ? record.level : 30;
  const time =
    typeof record.time === "number" ? new Date(record.time).toISOString().slice(11, 19) : "--:--:--";
  const name = (LEVEL_NAMES[level] ?? String(level)).padEnd(5);
  const tint = colour ? LEVEL_COLOURS[level] : undefined;
  const head = tint ? `${tint}${name}\x1b[0m` : name;
  const parts = [time, head];
  if (typeof record.msg === "string" && record.msg !== "") parts.push(record.msg);
  let stack: string | undefined;
  for (const [key, value] of Object.entries(record)) {
    if (HEAD_FIELDS.has(key)) continue;
    if (key === "err" && typeof value === "object" && value !== null) {
      const error = value as { type?: string; message?: string; stack?: string };
      parts.push(field("err", `${error.type ?? "Error"}: ${error.message ?? ""}`));
      stack = error.stack;
      continue;
    }
    parts.push(field(key, value));
  }
  const line = parts.join(" ");
  const below = stack ? `\n${stack.split("\n").slice(1).join("\n")}` : "";
  return `${line}${below}\n`;
}

/**
 * The command line's logger: pino at `level`, writing to `out` (stderr) either its JSON lines
 * (`json`) or one readable line per record (`pretty`, coloured when `out` is a TTY).
 */
export function commandLogger(
  format: LogFormat,
  level: string,
  out: { write(text: string): unknown; isTTY?: boolean } = process.stderr,
): pino.Logger {
  const known = level === "silent" || Object.hasOwn(pino.levels.values, level);
  const options = { name: "sessionvisor", level: known ? level : "warn" };
  if (format === "json") return pino(options, { write: (line: string) => out.write(line) });
  const colour = out.isTTY === true;
  return pino(options, { write: (line: string) => out.write(prettyLine(line, colour)) });
}
