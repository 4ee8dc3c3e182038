import { InvalidArgumentError, SessionvisorError } from "../runtime/index.js";
import { OfflineProvider } from "./offline-provider.js";
import type { LlmProvider } from "./provider.js";

export interface ProviderConfig {
  provider: string;
  model: string;
  [option: string]: unknown;
}

export type ProviderFactory = (config: ProviderConfig) => LlmProvider;

export class UnknownProviderError extends SessionvisorError {
  readonly provider: string;

  constructor(provider: string, known: string[]) {
    super(
      "unknown_provider",
      `no LLM provider ${JSON.stringify(provider)}; known: ${known.join(", ") || "none"}`,
    );
    this.provider = provider;
  }
}

const NAME = /^[a-z][a-z0-9_-]{0,63}$/;

/** Provider names to factories: how a program plugs in its own model backend. */
export class ProviderRegistry {
  private readonly factories = new Map<string, ProviderFactory>();

  register(name: string, factory: ProviderFactory): this {
    if (typeof name !== "string" || !NAME.test(name)) {
      throw new InvalidArgumentError("provider name", "must be lowercase letters, digits, '_' or '-'");
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

  names(): string[] {
    return [...this.factories.keys()];
  }

  create(config: ProviderConfig): LlmProvider {
    const factory = this.factories.get(config.provider);
    if (!factory) throw new UnknownProviderError(config.provider, this.names());
    return factory(config);
  }
}

/** A registry with the offline provider, the embedded default. */
export function defaultProviders(
  offline: ConstructorParameters<typeof OfflineProvider>[0] = {},
): ProviderRegistry {
  return new ProviderRegistry().register("offline", () => new OfflineProvider(offline));
}
