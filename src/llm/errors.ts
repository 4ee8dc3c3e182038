import { registerRevivableError, SessionvisorError } from "../errors.js";

/** A provider failed; `retryable` says whether the same request may succeed later (rate limit, 5xx). */
export class LlmProviderError extends SessionvisorError {
  readonly provider: string;
  readonly retryable: boolean;

  constructor(provider: string, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super("llm_provider_error", `LLM provider ${provider} failed: ${message}`, { cause: options.cause });
    this.provider = provider;
    this.retryable = options.retryable ?? false;
  }
}

/** The request's signal was aborted; the stream ended early on the caller's wish, not a fault. */
export class LlmAbortedError extends SessionvisorError {
  readonly provider: string;

  constructor(provider: string, reason?: unknown) {
    super("llm_aborted", `LLM provider ${provider}: the request was aborted`, { cause: reason });
    this.provider = provider;
  }
}

export class UnknownProviderError extends SessionvisorError {
  readonly provider: string;
  readonly known: readonly string[];

  constructor(provider: string, known: readonly string[]) {
    super(
      "unknown_provider",
      `no LLM provider ${JSON.stringify(provider)}; known: ${known.join(", ") || "none"}`,
    );
    this.provider = provider;
    this.known = known;
  }
}

// A provider's errors keep their class when a hosted session's orchestrator passes them on.
for (const type of [LlmProviderError, LlmAbortedError, UnknownProviderError]) {
  registerRevivableError(type);
}
