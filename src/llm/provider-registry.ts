import { InvalidArgumentError } from "../errors.js";
import { type ModelBackendOptions, registerModelBackends } from "./ai-sdk-backends.js";
import { UnknownProviderError } from "./errors.js";
import { OfflineProvider, type OfflineProviderOptions } from "./offline-provider.js";
import type { LlmProvider } from "./provider.js";

export { UnknownProviderError };

/** What a factory is given: the model, plus whatever options its backend takes (baseUrl, apiKey...). */
export interface ProviderConfig {
  model: string;
  [option: string]: unknown;
}

export type ProviderFactory = (config: ProviderConfig) => LlmProvider;

const PROVIDER_NAME = /^[a-z][a-z0-9_-]{0,63}$/;

/** Provider names to factories: how a program plugs in its own model backend. */
export class ProviderRegistry {
  private readonly factories = new Map<string, ProviderFactory>();

  register(name: string, factory: ProviderFactory): this {
    if (typeof name !== "string" || !PROVIDER_NAME.test(name)) {
      throw new InvalidArgumentError(
        "provider name",
        `${JSON.stringify(name)} must be 1 to 64 lowercase letters, digits, '_' or '-', starting with a letter`,
      );
    }
    if (typeof factory !== "function")
      throw new InvalidArgumentError("provider factory", "must be a function");
    if (this.factories.has(name))
      throw new InvalidArgumentError("provider name", `${name} is already registered`);
    this.factories.set(name, factory);
    return this;
  }

  has(name: string): boolean {
    return this.factories.has(name);
  }

  /** In registration order. */
  names(): string[] {
    return [...this.factories.keys()];
  }

  create(name: string, config: ProviderConfig): LlmProvider {
    if (typeof config !== "object" || config === null)
      throw new InvalidArgumentError("provider config", "must be an object");
    if (typeof config.model !== "string" || config.model.length === 0)
      throw new InvalidArgumentError("provider config.model", "must be a non-empty string");
    const factory = typeof name === "string" ? this.factories.get(name) : undefined;
    if (!factory) throw new UnknownProviderError(String(name), this.names());
    const provider = factory(config);
    // A plug-in's mistake shows up here, at session start, rather than at the first message.
    if (typeof provider?.stream !== "function" || typeof provider.name !== "string") {
      throw new InvalidArgumentError(
        `provider ${name}`,
        "its factory must return an LlmProvider (a name and a stream method)",
      );
    }
    return provider;
  }
}

/**
 * A registry with the offline provider, the embedded default, under the name `offline`, and the
 * remote backends `openai-compatible`, `openai` and `anthropic` (API keys from `backends.apiKeys`
 * or the environment; see registerModelBackends).
 */
export function defaultProviders(
  offline: OfflineProviderOptions = {},
  backends: ModelBackendOptions = {},
): ProviderRegistry {
  const registry = new ProviderRegistry().register("offline", () => new OfflineProvider(offline));
  return registerModelBackends(registry, backends);
}
