import type { LlmMessage } from "./provider.js";

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
