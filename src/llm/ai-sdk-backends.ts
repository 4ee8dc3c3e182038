import type { LanguageModel } from "ai";
import { InvalidArgumentError } from "../errors.js";
import { AiSdkProvider, type AiSdkProviderOptions } from "./ai-sdk-provider.js";
import { LlmProviderError } from "./errors.js";
import type { ProviderConfig, ProviderRegistry } from "./provider-registry.js";

/** The remote backends sessionvisor ships, each an adapter over the Vercel AI SDK. */
export const MODEL_BACKENDS = ["openai-compatible", "openai", "anthropic"] as const;
export type ModelBackend = (typeof MODEL_BACKENDS)[number];

/** The environment variable each backend reads its API key from. */
export const API_KEY_VARIABLES: Readonly<Record<ModelBackend, string>> = {
  "openai-compatible": "OPENAI_COMPATIBLE_API_KEY",
  openai: "OPENAI_API_KEY",
  anthropic: "ANTHROPIC_API_KEY",
};

/** Retries (`maxRetries`, `initialDelayMs`, `maxDelayMs`) as AiSdkProviderOptions documents them. */
export interface ModelBackendOptions extends AiSdkProviderOptions {
  /** Where API keys are read from; default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Keys given by the program (from its own config file, say); they win over `env`. */
  apiKeys?: Partial<Record<ModelBackend, string>>;
}

/**
 * Registers the AI SDK backends under their names, so a session's `llm.provider` can pick one.
 * A session's config names the model and, where it differs from the backend's default, the
 * `baseURL`; the API key never is part of it (it would be stored with the session): it comes
 * from `options.apiKeys` or the environment, read when a session starts.
 */
export function registerModelBackends(
  registry: ProviderRegistry,
  options: ModelBackendOptions = {},
): ProviderRegistry {
  for (const backend of MODEL_BACKENDS) {
    registry.register(backend, (config) => createBackend(backend, config, options));
  }
  return registry;
}

function createBackend(backend: ModelBackend, config: ProviderConfig, options: ModelBackendOptions) {
  if ("apiKey" in config) {
    throw new InvalidArgumentError(
      "llm.apiKey",
      `an API key is not part of a session's config (it would be stored with it); set ${API_KEY_VARIABLES[backend]} or pass apiKeys when registering the backends`,
    );
  }
  const baseURL = baseUrlOf(config);
  const apiKey = options.apiKeys?.[backend] ?? (options.env ?? process.env)[API_KEY_VARIABLES[backend]];
  const { env: _env, apiKeys: _keys, ...settings } = options;
  switch (backend) {
    case "openai-compatible": {
      if (baseURL === undefined) {
        throw new InvalidArgumentError(
          "llm.baseURL",
          "the openai-compatible backend needs the server's address (Ollama: http://127.0.0.1:11434/v1)",
        );
      }
      return new AiSdkProvider(
        backend,
        (model) =>
          sharedModel([backend, baseURL, apiKey ?? "", model].join("\n"), async () => {
            const { createOpenAICompatible } = await import("@ai-sdk/openai-compatible");
            return createOpenAICompatible({
              name: backend,
              baseURL,
              includeUsage: true,
              ...(apiKey ? { apiKey } : {}),
            }).chatModel(model);
          }),
        settings,
      );
    }
    case "openai":
      return new AiSdkProvider(
        backend,
        (model) =>
          sharedModel([backend, baseURL ?? "", apiKey ?? "", model].join("\n"), async () => {
            const { createOpenAI } = await import("@ai-sdk/openai");
            return createOpenAI({
              apiKey: requireKey(backend, apiKey),
              ...(baseURL ? { baseURL } : {}),
            }).chat(model);
          }),
        settings,
      );
    case "anthropic":
      return new AiSdkProvider(
        backend,
        (model) =>
          sharedModel([backend, baseURL ?? "", apiKey ?? "", model].join("\n"), async () => {
            const { createAnthropic } = await import("@ai-sdk/anthropic");
            return createAnthropic({ apiKey: requireKey(backend, apiKey), ...(baseURL ? { baseURL } : {}) })(
              model,
            );
          }),
        settings,
      );
  }
}

/** How many SDK models are kept for reuse (the least recently made goes first). */
const KEPT_MODELS = 64;
const keptModels = new Map<string, Promise<LanguageModel>>();

/**
 * The SDK model for these settings, made once and shared by every session that uses them:
 * making one builds the SDK's request and response schemas, about half a millisecond, and holds
 * some 80 KB, so one per request (or per session) costs every turn (or every idle session). A
 * model is a stateless description of how to call the backend, safe to share. A failure (no API
 * key) is not kept.
 */
function sharedModel(key: string, make: () => Promise<LanguageModel>): Promise<LanguageModel> {
  let model = keptModels.get(key);
  if (model) return model;
  model = make();
  keptModels.set(key, model);
  model.catch(() => keptModels.delete(key));
  if (keptModels.size > KEPT_MODELS) keptModels.delete(keptModels.keys().next().value as string);
  return model;
}

function baseUrlOf(config: ProviderConfig): string | undefined {
  const value = config.baseURL;
  if (value === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = typeof value === "string" ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw new InvalidArgumentError("llm.baseURL", "must be an http or https URL");
  }
  return value as string;
}

/**
 * Checked at each request rather than at the session's start: a session restored on a machine
 * without the key still starts, and each turn fails with this error until the key is set.
 */
function requireKey(backend: ModelBackend, key: string | undefined): string {
  if (!key) {
    throw new LlmProviderError(
      backend,
      `no API key: set ${API_KEY_VARIABLES[backend]} or pass apiKeys to registerModelBackends`,
    );
  }
  return key;
}
