import { InvalidArgumentError } from "../errors.js";

/**
 * Recently checked message lists, each keyed by its last message: a session's next request is
 * its last one plus the reply and the new user message, with the oldest turns perhaps dropped.
 * Every message of a list kept here was frozen (its tool calls too) and valid when checked, so
 * one found again by identity needs no second look: comparing two lists of references stays in
 * two arrays, where reading each message again would miss the cache once per message of the
 * history every turn. Weakly keyed: a list is kept only while its last message is alive (a
 * session's context holds it), so an ended conversation is not held here, and no bound is needed.
 */
const kept = new WeakMap<object, readonly unknown[]>();

/**
 * How far from the end a request's previous last message is looked for: a reply, its tool
 * results and the next user message come between two requests; a round of parallel calls adds
 * one result each, so the look reaches further than a plain turn needs.
 */
const LOOKBACK = 16;

/** Tool names as the vendors accept them (OpenAI's rule; Anthropic's is the same). */
export const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Throws InvalidArgumentError naming the first bad message or field of one: a message must be
 * system/user `{role, content}`, assistant `{role, content, toolCalls?}` or tool
 * `{role, toolCallId, toolName, content, isError?}`.
 */
export function checkMessages(messages: readonly unknown[]): void {
  const n = messages.length;
  // Which messages match a checked list, found by walking back from a message that ended one.
  let matchedFrom = n;
  let matchedTo = n;
  for (let end = n - 1; end >= 0 && end >= n - LOOKBACK; end--) {
    const key = messages[end];
    if (typeof key !== "object" || key === null) continue;
    const previous = kept.get(key);
    if (previous === undefined) continue;
    kept.delete(key);
    let i = end;
    let j = previous.length - 1;
    while (i >= 0 && j >= 0 && messages[i] === previous[j]) {
      i--;
      j--;
    }
    matchedFrom = i + 1;
    matchedTo = end + 1;
    break;
  }
  let allFrozen = true;
  for (let i = 0; i < n; i++) {
    if (i === matchedFrom) {
      i = matchedTo - 1;
      continue;
    }
    const message = messages[i];
    checkMessage(message, i);
    if (allFrozen && !isFrozenMessage(message as Record<string, unknown>)) allFrozen = false;
  }
  const last = messages[n - 1];
  if (!allFrozen || n === 0) return;
  kept.set(last as object, messages.slice());
}

/** Frozen, and so are its tool calls (their `input` is the model's data, never read here). */
function isFrozenMessage(message: Record<string, unknown>): boolean {
  if (!Object.isFrozen(message)) return false;
  const calls = message.toolCalls as readonly unknown[] | undefined;
  return calls === undefined || (Object.isFrozen(calls) && calls.every((call) => Object.isFrozen(call)));
}

const isNonEmptyString = (value: unknown): value is string => typeof value === "string" && value.length > 0;

function checkMessage(message: unknown, i: number): void {
  const at = `request.messages[${i}]`;
  if (typeof message !== "object" || message === null || Array.isArray(message)) {
    throw new InvalidArgumentError(at, "must be a message object");
  }
  const m = message as Record<string, unknown>;
  switch (m.role) {
    case "system":
    case "user":
      break;
    case "assistant":
      if (m.toolCalls !== undefined) checkToolCalls(m.toolCalls, `${at}.toolCalls`);
      break;
    case "tool":
      if (!isNonEmptyString(m.toolCallId))
        throw new InvalidArgumentError(`${at}.toolCallId`, "must be a non-empty string");
      if (!isNonEmptyString(m.toolName))
        throw new InvalidArgumentError(`${at}.toolName`, "must be a non-empty string");
      if (m.isError !== undefined && typeof m.isError !== "boolean")
        throw new InvalidArgumentError(`${at}.isError`, "must be a boolean");
      break;
    default:
      throw new InvalidArgumentError(`${at}.role`, "must be system, user, assistant or tool");
  }
  if (typeof m.content !== "string") throw new InvalidArgumentError(`${at}.content`, "must be a string");
}

function checkToolCalls(calls: unknown, at: string): void {
  if (!Array.isArray(calls)) throw new InvalidArgumentError(at, "must be an array of tool calls");
  for (let j = 0; j < calls.length; j++) {
    const call = calls[j] as Record<string, unknown> | null;
    if (typeof call !== "object" || call === null || Array.isArray(call)) {
      throw new InvalidArgumentError(`${at}[${j}]`, "must be a tool call {id, name, input}");
    }
    if (!isNonEmptyString(call.id))
      throw new InvalidArgumentError(`${at}[${j}].id`, "must be a non-empty string");
    if (!isNonEmptyString(call.name))
      throw new InvalidArgumentError(`${at}[${j}].name`, "must be a non-empty string");
    if (!("input" in call)) throw new InvalidArgumentError(`${at}[${j}].input`, "is missing");
  }
}

/** Throws InvalidArgumentError naming the first bad field of `request.tools`. */
export function checkTools(tools: unknown): void {
  if (!Array.isArray(tools)) throw new InvalidArgumentError("request.tools", "must be an array of tools");
  const seen = new Set<string>();
  for (let i = 0; i < tools.length; i++) {
    const at = `request.tools[${i}]`;
    const tool = tools[i] as Record<string, unknown> | null;
    if (typeof tool !== "object" || tool === null || Array.isArray(tool)) {
      throw new InvalidArgumentError(at, "must be a tool {name, description, inputSchema}");
    }
    if (typeof tool.name !== "string" || !TOOL_NAME.test(tool.name)) {
      throw new InvalidArgumentError(`${at}.name`, "must be 1 to 64 letters, digits, _ or -");
    }
    if (seen.has(tool.name)) {
      throw new InvalidArgumentError(`${at}.name`, `repeats the name ${JSON.stringify(tool.name)}`);
    }
    seen.add(tool.name);
    if (typeof tool.description !== "string")
      throw new InvalidArgumentError(`${at}.description`, "must be a string");
    if (!isPlainObject(tool.inputSchema))
      throw new InvalidArgumentError(`${at}.inputSchema`, "must be a JSON Schema object");
  }
}

function isPlainObject(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
