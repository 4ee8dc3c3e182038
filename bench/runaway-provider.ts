// The bench's providers inside hosts: the built-in ones, plus "runaway", which answers "LOOP"
// by spinning forever — a session stuck in a synchronous loop. From the llm layer alone
// (`sessionvisor/llm`), as a provider module for hosts should: the package's index would load the
// whole library (zod, the tools, the store backends) into every host.
import { defaultProviders, type LlmChunk, type LlmRequest, type ProviderRegistry } from "../src/llm/index.js";

export function runawayProviders(): ProviderRegistry {
  return defaultProviders().register("runaway", () => ({
    name: "runaway",
    async *stream(request: LlmRequest): AsyncIterable<LlmChunk> {
      const last = request.messages.at(-1)?.content ?? "";
      if (last === "LOOP")
        setTimeout(() => {
          for (;;) {}
        }, 1);
      yield { type: "delta", text: `ok: ${last}` };
      yield { type: "done", stopReason: "end", usage: { inputTokens: 1, outputTokens: 1 } };
    },
  }));
}
