import type { LanguageModel } from "ai";
import { LlmAbortedError, LlmProviderError } from "./errors.js";
import {
  type LlmChunk,
  type LlmProvider,
  type LlmRequest,
  type LlmStopReason,
  validateRequest,
} from "./provider.js";

/** Builds the AI SDK model for a model id; called once per request. */
export type ModelFactory = (modelId: string) => LanguageModel | Promise<LanguageModel>;

export interface AiSdkProviderOptions {
  /**
   * Retries of a request that failed before its first token with a 429 or a 5xx, by the AI SDK
   * (exponential backoff, honouring `retry-after`). Default 2; 0 turns them off.
   */
  maxRetries?: number;
}

/**
 * An LlmProvider backed by any Vercel AI SDK language model: the SDK speaks the backend's HTTP
 * and stream format, this class maps its stream parts onto our chunks and its errors onto ours.
 * The SDK is imported on the first request, so a session that never calls a remote model (and
 * every host isolate that starts one) does not load it.
 */
export class AiSdkProvider implements LlmProvider {
  readonly name: string;
  private readonly makeModel: ModelFactory;
  private readonly maxRetries: number;

  constructor(name: string, makeModel: ModelFactory, options: AiSdkProviderOptions = {}) {
    this.name = name;
    this.makeModel = makeModel;
    this.maxRetries = options.maxRetries ?? 2;
  }

  async *stream(request: LlmRequest): AsyncIterable<LlmChunk> {
    validateRequest(request);
    const { signal } = request;
    if (signal?.aborted) throw new LlmAbortedError(this.name, signal.reason);
    const { streamText } = await import("ai");
    const system = request.messages
      .filter((m) => m.role === "system")
      .map((m) => m.content)
      .join("\n\n");
    const result = streamText({
      model: await this.makeModel(request.model),
      ...(system ? { system } : {}),
      messages: request.messages
        .filter((m) => m.role !== "system")
        .map((m) => ({ role: m.role as "user" | "assistant", content: m.content })),
      ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
      ...(request.maxTokens !== undefined ? { maxOutputTokens: request.maxTokens } : {}),
      ...(signal ? { abortSignal: signal } : {}),
      maxRetries: this.maxRetries,
      // Failures reach the caller as the stream's error part; the SDK's default prints them.
      onError: () => {},
    });
    for await (const part of result.fullStream) {
      // Once aborted, nothing more is handed out, whatever the SDK still had buffered.
      if (signal?.aborted) throw new LlmAbortedError(this.name, signal.reason);
      switch (part.type) {
        case "text-delta":
          if (part.text.length > 0) yield { type: "delta", text: part.text };
          break;
        case "finish":
          yield {
            type: "done",
            stopReason: stopReasonOf(part.finishReason),
            usage: {
              inputTokens: part.totalUsage.inputTokens ?? 0,
              outputTokens: part.totalUsage.outputTokens ?? 0,
            },
          };
          return;
        case "abort":
          throw new LlmAbortedError(this.name, signal?.reason ?? part.reason);
        case "error":
          throw this.failure(part.error, signal);
      }
    }
    if (signal?.aborted) throw new LlmAbortedError(this.name, signal.reason);
    throw new LlmProviderError(this.name, "the model's stream ended without finishing");
  }

  private failure(error: unknown, signal: AbortSignal | undefined): Error {
    if (signal?.aborted) return new LlmAbortedError(this.name, signal.reason);
    return new LlmProviderError(this.name, describeFailure(error), {
      retryable: isRetryable(error),
      cause: error,
    });
  }
}

function stopReasonOf(reason: string): LlmStopReason {
  return reason === "length" ? "max_tokens" : "end";
}

/** The SDK's APICallError (status, retryable) and RetryError (the last attempt's) without importing them. */
function lastAttempt(error: unknown): unknown {
  const errors = (error as { errors?: unknown[] } | undefined)?.errors;
  return Array.isArray(errors) && errors.length > 0 ? errors.at(-1) : error;
}

function isRetryable(error: unknown): boolean {
  return (lastAttempt(error) as { isRetryable?: unknown } | undefined)?.isRetryable === true;
}

function describeFailure(error: unknown): string {
  const last = lastAttempt(error) as { statusCode?: unknown; message?: unknown } | undefined;
  const message = error instanceof Error ? error.message : String(error);
  return typeof last?.statusCode === "number" ? `HTTP ${last.statusCode}: ${message}` : message;
}
