// The isolation bench's providers, plus "flood": answers "ok: <prompt>", except that "FLOOD"
// streams deltas for ever without yielding to the event loop — a session whose events flood
// its parent.
import type { LlmChunk, LlmRequest, ProviderRegistry } from "../src/llm/index.js";
import { runawayProviders } from "./runaway-provider.js";

export function floodingProviders(): ProviderRegistry {
  return runawayProviders().register("flood", () => ({ name: "flood", stream: floodStream }));
}

async function* floodStream(request: LlmRequest): AsyncGenerator<LlmChunk> {
  const last = request.messages.at(-1)?.content ?? "";
  if (last === "FLOOD") {
    const text = "x".repeat(100);
    for (;;) yield { type: "delta", text };
  }
  yield { type: "delta", text: `ok: ${last}` };
  yield { type: "done", stopReason: "end", usage: { inputTokens: 1, outputTokens: 1 } };
}
