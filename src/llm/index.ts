// The llm layer's public API. The conformance suite (provider-conformance.ts) is left out on
// purpose: it imports node:test, which a program using sessionvisor should not load.
export {
  API_KEY_VARIABLES,
  MODEL_BACKENDS,
  type ModelBackend,
  type ModelBackendOptions,
  registerModelBackends,
} from "./ai-sdk-backends.js";
export { AiSdkProvider, type AiSdkProviderOptions, type ModelFactory } from "./ai-sdk-provider.js";
export { LlmAbortedError, LlmProviderError, UnknownProviderError } from "./errors.js";
export { OfflineProvider, type OfflineProviderOptions } from "./offline-provider.js";
export {
  type Completion,
  complete,
  type LlmChunk,
  type LlmMessage,
  type LlmProvider,
  type LlmRequest,
  type LlmStopReason,
  type LlmToolCall,
  type LlmToolDefinition,
  type LlmUsage,
  validateRequest,
} from "./provider.js";
export {
  defaultProviders,
  type ProviderConfig,
  type ProviderFactory,
  ProviderRegistry,
} from "./provider-registry.js";
export {
  ESTIMATE,
  encodingFor,
  TOKENIZERS,
  type TokenCounter,
  type TokenizerChoice,
  tokenCounterFor,
} from "./tokenizer.js";
export { estimateTokens } from "./tokens.js";
