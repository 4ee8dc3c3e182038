// The client API's checks of its callers' arguments: anything a caller passes is refused here
// with a typed error naming the argument, before it reaches a process, a host or the store.
import { InvalidArgumentError } from "../runtime/index.js";
import { MAX_METADATA_LENGTH } from "./config.js";
import { assertFilePath } from "./file-path.js";
import { formatJsonPath, type JsonData, type JsonPath, toJsonData } from "./json-data.js";
import { MAX_MESSAGE_LENGTH, TURN_REPLY_GRACE_MS } from "./llm-orchestrator.js";

/** Most characters a file's `content` (kept in the session's context cache) may take as JSON (1 MiB). */
export const MAX_FILE_CONTENT_LENGTH = 1024 * 1024;
/** The longest `timeoutMs` a call accepts: what a Node timer can wait (about 24.8 days). */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** An options argument: an object, or left out. */
export function checkOptions(options: unknown, name: string): void {
  if (options === undefined) return;
  if (typeof options !== "object" || options === null || isArray(options, name)) {
    throw new InvalidArgumentError(name, "must be an object when given");
  }
}

/**
 * `SessionSystem.start`'s options, copied one level deep so that each is read once: not an
 * object, or one whose getters or Proxy traps throw, is an InvalidArgumentError.
 */
export function copyOptions<T extends object>(options: T | undefined): T {
  checkOptions(options, "options");
  try {
    return { ...options } as T;
  } catch {
    throw new InvalidArgumentError("options", "could not be read (a getter or Proxy trap threw)");
  }
}

/** One option of an options argument (an object, or left out), read once. */
export function optionOf(options: unknown, key: string): unknown {
  checkOptions(options, "options");
  return read(options, key);
}

/** A message's text and `sendMessage`'s options. */
export function checkSendArguments(
  text: unknown,
  options: unknown,
): { timeoutMs?: number; signal?: AbortSignal } {
  if (typeof text !== "string" || text.trim().length === 0 || text.length > MAX_MESSAGE_LENGTH) {
    throw new InvalidArgumentError(
      "message",
      `must be non-empty text of at most ${MAX_MESSAGE_LENGTH} characters`,
    );
  }
  checkOptions(options, "options");
  const timeoutMs = read(options, "timeoutMs");
  const signal = read(options, "signal");
  if (signal !== undefined && !(signal instanceof AbortSignal))
    throw new InvalidArgumentError("options.signal", "must be an AbortSignal");
  return {
    ...(timeoutMs === undefined ? {} : { timeoutMs: checkTurnTimeout(timeoutMs, "options.timeoutMs") }),
    ...(signal === undefined ? {} : { signal }),
  };
}

/**
 * A turn's deadline. The caller waits `TURN_REPLY_GRACE_MS` past it, and that wait too must fit
 * a Node timer (a longer one would fire at once).
 */
export function checkTurnTimeout(value: unknown, name: string): number {
  const max = MAX_TIMEOUT_MS - TURN_REPLY_GRACE_MS;
  if (typeof value !== "number" || !(value > 0 && value <= max)) {
    throw new InvalidArgumentError(name, `must be a number of ms above 0 and at most ${max}`);
  }
  return value;
}

/**
 * A file's path and `addFile`'s options, copied: `metadata` a JSON object of at most
 * MAX_METADATA_LENGTH characters, `content` any JSON value of at most MAX_FILE_CONTENT_LENGTH.
 */
export function checkAddFileArguments(
  path: unknown,
  options: unknown,
): { path: string; metadata?: Record<string, JsonData>; content?: JsonData } {
  assertFilePath(path);
  checkOptions(options, "options");
  const checked: { path: string; metadata?: Record<string, JsonData>; content?: JsonData } = { path };
  const metadata = read(options, "metadata");
  if (metadata !== undefined) {
    const copied = jsonArgument(metadata, ["metadata"], MAX_METADATA_LENGTH);
    if (typeof copied !== "object" || copied === null || Array.isArray(copied)) {
      throw new InvalidArgumentError("metadata", "must be an object");
    }
    checked.metadata = copied;
  }
  const content = read(options, "content");
  if (content !== undefined) checked.content = jsonArgument(content, ["content"], MAX_FILE_CONTENT_LENGTH);
  return checked;
}

export function checkFilePath(path: unknown): asserts path is string {
  assertFilePath(path);
}

export function checkListener(listener: unknown): void {
  if (typeof listener !== "function") throw new InvalidArgumentError("listener", "must be a function");
}

/** What `subscribe` returned: something with an `unsubscribe` function. */
export function checkSubscription(subscription: unknown): asserts subscription is { unsubscribe(): void } {
  const unsubscribe = read(subscription, "unsubscribe");
  if (typeof unsubscribe !== "function") {
    throw new InvalidArgumentError("subscription", "must be what subscribe returned");
  }
}

function jsonArgument(value: unknown, path: JsonPath, maxLength: number): JsonData {
  const copied = toJsonData(value, { maxLength });
  if (!copied.ok) throw new InvalidArgumentError(formatJsonPath([...path, ...copied.path]), copied.message);
  return copied.value;
}

/** Array.isArray, which throws for a revoked Proxy. */
function isArray(value: object, name: string): boolean {
  try {
    return Array.isArray(value);
  } catch {
    throw new InvalidArgumentError(name, "could not be read (a revoked Proxy)");
  }
}

/** One property of a caller's object, read once; a getter or a Proxy trap that throws is refused. */
function read(object: unknown, key: string): unknown {
  if (typeof object !== "object" || object === null) return undefined;
  try {
    return (object as Record<string, unknown>)[key];
  } catch {
    throw new InvalidArgumentError(key, "could not be read (a getter or Proxy trap threw)");
  }
}
