import { InvalidArgumentError } from "../errors.js";
import { checkMessages, checkTools } from "./checked-messages.js";
import { LlmAbortedError, LlmProviderError } from "./errors.js";

export { LlmAbortedError, LlmProviderError };

/** A call of a tool the model asked for. `input` is JSON data, normally an object. */
export interface LlmToolCall {
  /** The model's id for the call; the result sent back names it. */
  id: string;
  name: string;
  input: unknown;
}

/** A tool as the model is told about it. */
export interface LlmToolDefinition {
  name: string;
  description: string;
  /** JSON Schema of the input the model must send. */
  inputSchema: Record<string, unknown>;
}

/**
 * One message of a conversation as a model sees it. An assistant message may ask for tool
 * calls; each is answered by a `tool` message naming its id, before the next assistant message.
 */
export type LlmMessage =
  | { role: "system" | "user"; content: string }
  | { role: "assistant"; content: string; toolCalls?: readonly LlmToolCall[] }
  | {
      role: "tool";
      toolCallId: string;
      toolName: string;
      /** The result as text (JSON for structured results). */
      content: string;
      /** True when the call failed: `content` is the error the model reads. */
      isError?: boolean;
    };

export interface LlmRequest {
  model: string;
  messages: readonly LlmMessage[];
  temperature?: number;
  maxTokens?: number;
  /** Tools the model may call; none means a plain reply. */
  tools?: readonly LlmToolDefinition[];
  signal?: AbortSignal;
}

export interface LlmUsage {
  inputTokens: number;
  outputTokens: number;
}

/** `tool_calls`: the reply asked for tool calls, whose results the model expects next. */
export type LlmStopReason = "end" | "max_tokens" | "tool_calls";

export type LlmChunk =
  | { type: "delta"; text: string }
  /** A whole tool call (arguments streamed by the backend are gathered first). */
  | { type: "tool_call"; id: string; name: string; input: unknown }
  | { type: "done"; stopReason: LlmStopReason; usage: LlmUsage };

/**
 * The port every model backend implements. A stream yields deltas and tool calls, then exactly
 * one `done` (`tool_calls` when it asked for any), and nothing after it. Every failure, a malformed request included, is thrown from the
 * iterator rather than from `stream()` itself, so a caller handles them all in one place.
 * Once `request.signal` is aborted, the next chunk asked for is an `LlmAbortedError`.
 */
export interface LlmProvider {
  readonly name: string;
  stream(request: LlmRequest): AsyncIterable<LlmChunk>;
}

/**
 * Throws InvalidArgumentError naming the first bad field (`request.temperature`,
 * `request.messages[2].toolCallId`, `request.tools[0].name`).
 */
export function validateRequest(request: LlmRequest): void {
  if (typeof request !== "object" || request === null)
    throw new InvalidArgumentError("request", "must be an object");
  if (typeof request.model !== "string" || request.model.length === 0) {
    throw new InvalidArgumentError("request.model", "must be a non-empty string");
  }
  if (!Array.isArray(request.messages) || request.messages.length === 0) {
    throw new InvalidArgumentError("request.messages", "must be a non-empty array");
  }
  checkMessages(request.messages);
  const { temperature, maxTokens, tools, signal } = request;
  if (tools !== undefined) checkTools(tools);
  if (
    temperature !== undefined &&
    !(typeof temperature === "number" && temperature >= 0 && temperature <= 2)
  ) {
    throw new InvalidArgumentError("request.temperature", "must be a number from 0 to 2");
  }
  if (maxTokens !== undefined && !(Number.isInteger(maxTokens) && maxTokens > 0)) {
    throw new InvalidArgumentError("request.maxTokens", "must be a positive whole number");
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidArgumentError("request.signal", "must be an AbortSignal");
  }
}

export interface Completion {
  text: string;
  toolCalls: LlmToolCall[];
  stopReason: LlmStopReason;
  usage: LlmUsage;
}

/** Drains a stream into one completion; for callers that do not show the reply as it arrives. */
export async function complete(provider: LlmProvider, request: LlmRequest): Promise<Completion> {
  let text = "";
  const toolCalls: LlmToolCall[] = [];
  for await (const chunk of provider.stream(request)) {
    if (chunk.type === "delta") text += chunk.text;
    else if (chunk.type === "tool_call")
      toolCalls.push({ id: chunk.id, name: chunk.name, input: chunk.input });
    else return { text, toolCalls, stopReason: chunk.stopReason, usage: chunk.usage };
  }
  throw new LlmProviderError(provider.name, "the stream ended without a done chunk");
}
