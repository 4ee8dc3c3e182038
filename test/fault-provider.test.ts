// The fault provider the isolation and turn-ending tests use keeps the provider contract too,
// aborting included: a test of the turn deadline relies on it (and on STALL_DEAF not doing so).

import type { LlmProvider, LlmRequest } from "../src/index.js";
import { describeProviderConformance } from "../src/llm/provider-conformance.js";
import { faultProviders } from "./fixtures/fault-provider.js";

const fault = (): LlmProvider => faultProviders().create("fault", { model: "fault-1" });

/** The fault provider, asked to stall (it never answers STALL until aborted). */
function stalled(): LlmProvider {
  const provider = fault();
  return {
    name: provider.name,
    stream: (request: LlmRequest) =>
      provider.stream({ ...request, messages: [...request.messages, { role: "user", content: "STALL" }] }),
  };
}

describeProviderConformance("fault (test fixture)", fault, { makeStalledProvider: stalled });
