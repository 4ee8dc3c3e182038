import { InvalidArgumentError, SessionvisorError } from "../runtime/index.js";

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

export type LlmChunk =
  | { type: "delta"; text: string }
  | { type: "done"; stopReason: "end" | "max_tokens"; usage: LlmUsage };

/** The port every model backend implements: stream deltas, then exactly one `done`. */
export interface LlmProvider {
  readonly name: string;
  stream(request: LlmRequest): AsyncIterable<LlmChunk>;
}

/** A provider failed; `retryable` says whether the same request may succeed later. */
export class LlmProviderError extends SessionvisorError {
  readonly provider: string;
  readonly retryable: boolean;

  constructor(provider: string, message: string, retryable = false, cause?: unknown) {
    super("llm_provider_error", `${provider}: ${message}`, { cause });
    this.provider = provider;
    this.retryable = retryable;
  }
}

export class LlmAbortedError extends SessionvisorError {
  constructor(provider: string) {
    super("llm_aborted", `${provider}: the request was aborted`);
  }
}

const ROLES = new Set(["system", "user", "assistant"]);

export function validateRequest(request: LlmRequest): void {
  if (typeof request !== "object" || request === null)
    throw new InvalidArgumentError("request", "must be an object");
  if (typeof request.model !== "string" || request.model.length === 0) {
    throw new InvalidArgumentError("request.model", "must be a non-empty string");
  }
  if (!Array.isArray(request.messages) || request.messages.length === 0) {
    throw new InvalidArgumentError("request.messages", "must be a non-empty array");
  }
  request.messages.forEach((message, i) => {
    if (!message || !ROLES.has(message.role) || typeof message.content !== "string") {
      throw new InvalidArgumentError(
        `request.messages[${i}]`,
        "must have a role (system, user, assistant) and string content",
      );
    }
  });
  if (request.temperature !== undefined && !(request.temperature >= 0 && request.temperature <= 2)) {
    throw new InvalidArgumentError("request.temperature", "must be between 0 and 2");
  }
  if (request.maxTokens !== undefined && !(Number.isInteger(request.maxTokens) && request.maxTokens > 0)) {
    throw new InvalidArgumentError("request.maxTokens", "must be a positive whole number");
  }
}

export interface Completion {
  text: string;
  stopReason: "end" | "max_tokens";
  usage: LlmUsage;
}

/** Drains a stream into one completion. */
export async function complete(provider: LlmProvider, request: LlmRequest): Promise<Completion> {
  let text = "";
  for await (const chunk of provider.stream(request)) {
    if (chunk.type === "delta") text += chunk.text;
    else return { text, stopReason: chunk.stopReason, usage: chunk.usage };
  }
  throw new LlmProviderError(provider.name, "the stream ended without a done chunk");
}
