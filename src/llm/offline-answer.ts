import type { LlmMessage, LlmToolCall, LlmToolDefinition } from "./provider.js";

/** Above this, `repeat` refuses: a reply that large would only hold up the event loop. */
export const MAX_REPEAT = 1000;

const QUOTE_LENGTH = 80;

/**
 * The offline model's reply: a pure function of the model name and the messages, so the same
 * request always gets the same answer. Commands give tests and demos a reply they can predict;
 * anything else is acknowledged with a description of the context the model was given, which
 * is what a person watching a session wants to check.
 */
export function offlineAnswer(model: string, messages: readonly LlmMessage[]): string {
  const lastUserIndex = messages.findLastIndex((m) => m.role === "user");
  // Only the message's surrounding whitespace is dropped, so `echo` stays verbatim inside.
  const said = messages[lastUserIndex]?.content.trim() ?? "";
  if (said.startsWith("echo ")) return said.slice("echo ".length);
  if (said === "repeat" || said.startsWith("repeat ")) return repeat(said.slice("repeat".length));
  // Only these two read the earlier messages: an echo does not copy the whole context.
  const earlier = messages.slice(0, Math.max(lastUserIndex, 0));
  if (said === "recall") return recall(earlier);
  return acknowledge(model, said, earlier, messages);
}

/** How much of each tool result the reply to the results quotes. */
export const RESULT_QUOTE_LENGTH = 200;

/** What the offline model says: text, and the tool calls it asks for (none for a plain reply). */
export interface OfflineReply {
  text: string;
  toolCalls: LlmToolCall[];
}

/** A script line: `tool <name> <args>` (call once) or `loop <name> <args>` (call after every result). */
const SCRIPT_LINE = /^\s*(tool|loop)\s+(\S+)(?:[ \t]+(.*?))?\s*$/;

/**
 * The offline model's reply to a request that may offer tools, scripted so that a tool loop can
 * be tested without a network (the README documents the syntax):
 * - When tools are offered and the last message is the user's, each of its lines
 *   `tool <name> <args>` is a call (several lines: parallel calls, in order), and its other
 *   lines are the reply's text. `<args>` is a JSON object, or else text laid onto the tool's
 *   properties (see `inputFor`). A line `loop <name> <args>` is a call too, asked again after
 *   every result, forever.
 * - When the last messages are tool results, the reply sums them up, one line each
 *   (`name: <result>` or `name failed: <error>`), or asks the `loop` calls again.
 * - Anything else is `offlineAnswer`'s.
 * Call ids are `call_<n>_<i>`: n the number of messages in the request, i counting from 1.
 */
export function offlineReply(
  model: string,
  messages: readonly LlmMessage[],
  tools: readonly LlmToolDefinition[] = [],
): OfflineReply {
  const last = messages.at(-1);
  const calling = tools.length > 0;
  if (last?.role === "tool") {
    const loops = calling ? scriptOf(lastUserContent(messages)).loops : [];
    if (loops.length > 0) return { text: "", toolCalls: callsFor(loops, tools, messages.length) };
    return { text: summarizeResults(messages), toolCalls: [] };
  }
  if (calling && last?.role === "user" && !isCommand(last.content)) {
    const script = scriptOf(last.content);
    if (script.calls.length > 0) {
      return { text: script.text, toolCalls: callsFor(script.calls, tools, messages.length) };
    }
  }
  return { text: offlineAnswer(model, messages), toolCalls: [] };
}

interface ScriptedCall {
  name: string;
  args: string;
}

/** `echo` and `repeat` say their text verbatim: their lines are never read as calls. */
function isCommand(content: string): boolean {
  const said = content.trim();
  return said.startsWith("echo ") || said === "repeat" || said.startsWith("repeat ");
}

function lastUserContent(messages: readonly LlmMessage[]): string {
  const user = messages.findLast((m) => m.role === "user");
  return user && !isCommand(user.content) ? user.content : "";
}

function scriptOf(content: string): { calls: ScriptedCall[]; loops: ScriptedCall[]; text: string } {
  const calls: ScriptedCall[] = [];
  const loops: ScriptedCall[] = [];
  const text: string[] = [];
  for (const line of content.split("\n")) {
    const match = SCRIPT_LINE.exec(line);
    if (!match) {
      text.push(line);
      continue;
    }
    const call = { name: match[2] as string, args: match[3] ?? "" };
    calls.push(call);
    if (match[1] === "loop") loops.push(call);
  }
  return { calls, loops, text: text.join("\n").trim() };
}

function callsFor(
  calls: readonly ScriptedCall[],
  tools: readonly LlmToolDefinition[],
  messageCount: number,
): LlmToolCall[] {
  return calls.map((call, i) => ({
    id: `call_${messageCount}_${i + 1}`,
    name: call.name,
    input: inputFor(
      call.args,
      tools.find((t) => t.name === call.name),
    ),
  }));
}

/**
 * A call's input from its script text: a JSON object as it is; else the text's words laid onto
 * the tool's required properties (all its properties when none is required), in the order of
 * `properties`, one word each and the rest of the line to the last. A word for an `integer`,
 * `number` or `boolean` property becomes one when it reads as one. `{}` when the tool is not
 * offered, has no properties, or the text is empty.
 */
export function inputFor(args: string, tool: LlmToolDefinition | undefined): Record<string, unknown> {
  const text = args.trim();
  if (text.startsWith("{")) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
        return parsed as Record<string, unknown>;
      }
    } catch {
      // Not JSON: laid onto the properties as text, as any other text.
    }
  }
  const names = tool ? propertyNames(tool.inputSchema) : [];
  if (text.length === 0 || names.length === 0) return {};
  const schemaOf = (name: string) =>
    (tool?.inputSchema.properties as Record<string, { type?: unknown }> | undefined)?.[name]?.type;
  const input: Record<string, unknown> = {};
  let rest = text;
  for (let i = 0; i < names.length && rest.length > 0; i++) {
    const name = names[i] as string;
    let word = rest;
    if (i < names.length - 1) {
      const match = /^(\S+)\s*([\s\S]*)$/.exec(rest) as RegExpExecArray;
      word = match[1] as string;
      rest = match[2] as string;
    } else {
      rest = "";
    }
    input[name] = typed(word, schemaOf(name));
  }
  return input;
}

function propertyNames(schema: Record<string, unknown>): string[] {
  const properties = schema.properties;
  const all =
    typeof properties === "object" && properties !== null && !Array.isArray(properties)
      ? Object.keys(properties)
      : [];
  const required = Array.isArray(schema.required)
    ? schema.required.filter((name): name is string => typeof name === "string")
    : [];
  if (required.length === 0) return all;
  return [
    ...all.filter((name) => required.includes(name)),
    ...required.filter((name) => !all.includes(name)),
  ];
}

function typed(word: string, type: unknown): unknown {
  if ((type === "integer" || type === "number") && /^-?\d+(\.\d+)?$/.test(word)) return Number(word);
  if (type === "boolean" && (word === "true" || word === "false")) return word === "true";
  return word;
}

/** One line per result after the last assistant message: `name: <result>` or `name failed: <error>`. */
function summarizeResults(messages: readonly LlmMessage[]): string {
  const from = messages.findLastIndex((m) => m.role === "assistant") + 1;
  const lines: string[] = [];
  for (const message of messages.slice(from)) {
    if (message.role !== "tool") continue;
    const quoted = message.content.slice(0, RESULT_QUOTE_LENGTH);
    lines.push(`${message.toolName}${message.isError ? " failed" : ""}: ${quoted}`);
  }
  return lines.join("\n");
}

function repeat(args: string): string {
  const match = /^\s+(\d+)\s+(\S[\s\S]*)$/.exec(args);
  const count = match ? Number(match[1]) : 0;
  if (!match || count < 1 || count > MAX_REPEAT) {
    return `repeat needs a count from 1 to ${MAX_REPEAT} and some text, for example "repeat 3 hello".`;
  }
  return Array.from({ length: count }, () => match[2]).join(" ");
}

function recall(earlier: readonly LlmMessage[]): string {
  const yours = earlier.filter((m) => m.role === "user");
  if (yours.length === 0) return "You have said nothing before this in the context I was given.";
  const lines = yours.map((m, i) => `${i + 1}. "${quote(m.content)}"`);
  return `Earlier in the context I was given, you said:\n${lines.join("\n")}`;
}

function acknowledge(
  model: string,
  said: string,
  earlier: readonly LlmMessage[],
  messages: readonly LlmMessage[],
): string {
  const turns = earlier.filter((m) => m.role !== "system").length;
  const system = messages.filter((m) => m.role === "system");
  const files = system.reduce((sum, m) => sum + listedFiles(m.content), 0);
  const heard = said.length > 0 ? `You said: "${quote(said)}".` : "I see no message from you yet.";
  return (
    `(offline ${model}) ${heard} ` +
    `I see ${count(turns, "earlier turn")}, ${count(system.length, "context message")} and ${count(files, "file")}. ` +
    'Try "echo <text>", "repeat <n> <text>" or "recall". ' +
    "I run without a network, so this answer is deterministic."
  );
}

/** The list items of a context message about files, e.g. "Active files:\n- a.ts\n- b.ts" → 2. */
function listedFiles(content: string): number {
  const [heading = "", ...lines] = content.split("\n");
  if (!/\bfiles?\b/i.test(heading)) return 0;
  return lines.filter((line) => /^\s*[-*]\s+\S/.test(line)).length;
}

function quote(text: string): string {
  const oneLine = text.trim().replace(/\s+/g, " ");
  return oneLine.length > QUOTE_LENGTH ? `${oneLine.slice(0, QUOTE_LENGTH - 3)}...` : oneLine;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
