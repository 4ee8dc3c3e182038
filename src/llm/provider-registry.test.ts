import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../errors.js";
import { OfflineProvider } from "./offline-provider.js";
import { complete, type LlmProvider, LlmProviderError } from "./provider.js";
import {
  defaultProviders,
  type ProviderConfig,
  ProviderRegistry,
  UnknownProviderError,
} from "./provider-registry.js";

const offline = () => new OfflineProvider();

describe("ProviderRegistry", () => {
  it("hands the config to the factory of the named provider", () => {
    let given: ProviderConfig | undefined;
    const registry = new ProviderRegistry().register("mine", (config) => {
      given = config;
      return offline();
    });
    registry.create("mine", { model: "m1", apiKey: "k" });
    assert.deepEqual(given, { model: "m1", apiKey: "k" });
  });

  it("refuses an unknown name with UnknownProviderError listing the known ones", () => {
    const registry = new ProviderRegistry().register("a", offline).register("b", offline);
    assert.throws(
      () => registry.create("gpt", { model: "m" }),
      (e: unknown) =>
        e instanceof UnknownProviderError &&
        e.provider === "gpt" &&
        /known: a, b/.test(e.message) &&
        e.code === "unknown_provider",
    );
  });

  it("refuses to register a name twice", () => {
    const registry = new ProviderRegistry().register("mine", offline);
    assert.throws(
      () => registry.register("mine", offline),
      (e: unknown) => e instanceof InvalidArgumentError && /already registered/.test(e.message),
    );
  });

  for (const bad of ["", "Mine", "my provider", "1st", "x".repeat(65)]) {
    it(`refuses to register the malformed name ${JSON.stringify(bad.slice(0, 12))}`, () => {
      assert.throws(() => new ProviderRegistry().register(bad, offline), InvalidArgumentError);
    });
  }

  it("tells which names are registered, in registration order", () => {
    const registry = new ProviderRegistry().register("zeta", offline).register("alpha", offline);
    assert.deepEqual(registry.names(), ["zeta", "alpha"]);
    assert.equal(registry.has("alpha"), true);
    assert.equal(registry.has("beta"), false);
  });

  it("refuses a config without a model, naming the field", () => {
    assert.throws(
      () => defaultProviders().create("offline", { model: "" }),
      (e: unknown) => e instanceof InvalidArgumentError && e.argument === "provider config.model",
    );
  });

  it("refuses what a factory returns when it is not a provider", () => {
    const registry = new ProviderRegistry().register("broken", () => ({ name: "broken" }) as LlmProvider);
    assert.throws(() => registry.create("broken", { model: "m" }), /must return an LlmProvider/);
  });
});

describe("defaultProviders", () => {
  it("has the offline provider first, then the AI SDK backends", () => {
    const registry = defaultProviders();
    assert.deepEqual(registry.names(), ["offline", "openai-compatible", "openai", "anthropic"]);
    assert.equal(registry.create("offline", { model: "m" }).name, "offline");
  });

  it("gives the offline provider the options it was called with", async () => {
    const provider = defaultProviders({ failOn: () => new Error("injected") }).create("offline", {
      model: "m",
    });
    await assert.rejects(
      complete(provider, { model: "m", messages: [{ role: "user", content: "hi" }] }),
      LlmProviderError,
    );
  });
});
