export { OfflineProvider, type OfflineProviderOptions } from "./offline-provider.js";
export {
  type Completion,
  complete,
  LlmAbortedError,
  type LlmChunk,
  type LlmMessage,
  type LlmProvider,
  LlmProviderError,
  type LlmRequest,
  type LlmUsage,
  validateRequest,
} from "./provider.js";
export {
  defaultProviders,
  type ProviderConfig,
  type ProviderFactory,
  ProviderRegistry,
  UnknownProviderError,
} from "./provider-registry.js";
export { estimateTokens } from "./tokens.js";
