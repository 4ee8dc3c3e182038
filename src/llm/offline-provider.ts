import {
  LlmAbortedError,
  type LlmChunk,
  type LlmProvider,
  LlmProviderError,
  type LlmRequest,
  validateRequest,
} from "./provider.js";
import { estimateTokens } from "./tokens.js";

export interface OfflineProviderOptions {
  /** Delay between streamed words, so a person (or a test) can watch the stream. Default 0. */
  chunkDelayMs?: number;
  /** Injects a provider failure for a request, for testing callers. */
  failOn?: (request: LlmRequest) => Error | undefined;
}

/**
 * The embedded default model: no network, and the same request always gets the same answer.
 * It acknowledges the last user message and says what context it was given, which is enough
 * to watch a session work; a message starting with "echo " is answered with the rest verbatim.
 */
export class OfflineProvider implements LlmProvider {
  readonly name = "offline";
  private readonly chunkDelayMs: number;
  private readonly failOn: OfflineProviderOptions["failOn"];

  constructor(options: OfflineProviderOptions = {}) {
    this.chunkDelayMs = options.chunkDelayMs ?? 0;
    this.failOn = options.failOn;
  }

  async *stream(request: LlmRequest): AsyncGenerator<LlmChunk> {
    validateRequest(request);
    const failure = this.failOn?.(request);
    if (failure) throw new LlmProviderError(this.name, failure.message, false, failure);
    const words = answer(request).match(/\S+\s*/g) ?? [];
    const inputTokens = request.messages.reduce((sum, m) => sum + estimateTokens(m.content), 0);
    let outputTokens = 0;
    for (const word of words) {
      if (request.signal?.aborted) throw new LlmAbortedError(this.name);
      const tokens = estimateTokens(word);
      if (request.maxTokens !== undefined && outputTokens + tokens > request.maxTokens) {
        yield { type: "done", stopReason: "max_tokens", usage: { inputTokens, outputTokens } };
        return;
      }
      if (this.chunkDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.chunkDelayMs));
      if (request.signal?.aborted) throw new LlmAbortedError(this.name);
      outputTokens += tokens;
      yield { type: "delta", text: word };
    }
    yield { type: "done", stopReason: "end", usage: { inputTokens, outputTokens } };
  }
}

function answer(request: LlmRequest): string {
  const users = request.messages.filter((m) => m.role === "user");
  const last = users[users.length - 1]?.content.trim() ?? "";
  if (last.startsWith("echo ")) return last.slice(5);
  const earlier = users.length - 1;
  const fileContext = request.messages.find(
    (m) => m.role === "system" && m.content.startsWith("Active files"),
  );
  const files = fileContext ? fileContext.content.split("\n").length - 1 : 0;
  const quoted = last.length > 80 ? `${last.slice(0, 77)}...` : last;
  return (
    `(offline ${request.model}) You said: "${quoted}". ` +
    `I have ${earlier} earlier message${earlier === 1 ? "" : "s"} from you and ${files} active file${files === 1 ? "" : "s"} in context. ` +
    "I run without a network, so this answer is deterministic."
  );
}
