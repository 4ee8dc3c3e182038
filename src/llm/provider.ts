import { InvalidArgumentError } from "../errors.js";
import { checkMessages } from "./checked-messages.js";
import { LlmAbortedError, LlmProviderError } from "./errors.js";

export { LlmAbortedError, LlmProviderError };

export interface LlmMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface LlmRequest {
  model: string;
  messages: LlmMessage[];
  temperature?: number;
  maxTokens?: number;
  signal?: AbortSignal;
}

export interface LlmUsage {
  inputTokens: number;
  outputTokens: number;
}

export type LlmStopReason = "end" | "max_tokens";

export type LlmChunk =
  | { type: "delta"; text: string }
  | { type: "done"; stopReason: LlmStopReason; usage: LlmUsage };

/**
 * The port every model backend implements. A stream yields deltas, then exactly one `done`,
 * and nothing after it. Every failure, a malformed request included, is thrown from the
 * iterator rather than from `stream()` itself, so a caller handles them all in one place.
 * Once `request.signal` is aborted, the next chunk asked for is an `LlmAbortedError`.
 */
export interface LlmProvider {
  readonly name: string;
  stream(request: LlmRequest): AsyncIterable<LlmChunk>;
}

/** Throws InvalidArgumentError naming the first bad field (`request.temperature`, `request.messages[2]`). */
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
  const { temperature, maxTokens, signal } = request;
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
  stopReason: LlmStopReason;
  usage: LlmUsage;
}

/** Drains a stream into one completion; for callers that do not show the reply as it arrives. */
export async function complete(provider: LlmProvider, request: LlmRequest): Promise<Completion> {
  let text = "";
  for await (const chunk of provider.stream(request)) {
    if (chunk.type === "delta") text += chunk.text;
    else return { text, stopReason: chunk.stopReason, usage: chunk.usage };
  }
  throw new LlmProviderError(provider.name, "the stream ended without a done chunk");
}
