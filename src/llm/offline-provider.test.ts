import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { OfflineProvider } from "./offline-provider.js";
import { complete, LlmProviderError } from "./provider.js";
import { describeProviderConformance } from "./provider-conformance.js";
import { defaultProviders, ProviderRegistry, UnknownProviderError } from "./provider-registry.js";

describeProviderConformance("offline", () => new OfflineProvider(), { deterministic: true });

const ask = (content: string, maxTokens?: number) => ({
  model: "offline-1",
  messages: [{ role: "user" as const, content }],
  maxTokens,
});

describe("OfflineProvider", () => {
  it("answers a message starting with 'echo ' with the rest verbatim", async () => {
    assert.equal((await complete(new OfflineProvider(), ask("echo hello  world"))).text, "hello  world");
  });

  it("stops at maxTokens with stopReason max_tokens", async () => {
    const result = await complete(new OfflineProvider(), ask("tell me a long story", 5));
    assert.equal(result.stopReason, "max_tokens");
    assert.ok(result.usage.outputTokens <= 5);
  });

  it("counts the active files and earlier messages it was given", async () => {
    const result = await complete(new OfflineProvider(), {
      model: "offline-1",
      messages: [
        { role: "system", content: "Active files (most recent first):\n- a.ts\n- b.ts" },
        { role: "user", content: "first" },
        { role: "assistant", content: "ok" },
        { role: "user", content: "second" },
      ],
    });
    assert.match(result.text, /1 earlier message from you and 2 active files/);
  });

  it("streams one word at a time with a delay between words", async () => {
    const started = Date.now();
    const deltas: string[] = [];
    for await (const chunk of new OfflineProvider({ chunkDelayMs: 5 }).stream(ask("echo a b c"))) {
      if (chunk.type === "delta") deltas.push(chunk.text);
    }
    assert.deepEqual(deltas, ["a ", "b ", "c"]);
    assert.ok(Date.now() - started >= 10);
  });

  it("fails with LlmProviderError when told to", async () => {
    const provider = new OfflineProvider({ failOn: () => new Error("rate limited") });
    await assert.rejects(
      complete(provider, ask("hi")),
      (e: unknown) => e instanceof LlmProviderError && /rate limited/.test(e.message),
    );
  });
});

describe("ProviderRegistry", () => {
  it("creates the offline provider by default", () => {
    assert.equal(defaultProviders().create({ provider: "offline", model: "m" }).name, "offline");
  });

  it("names the known providers when asked for an unknown one", () => {
    assert.throws(
      () => defaultProviders().create({ provider: "gpt", model: "m" }),
      (e: unknown) => e instanceof UnknownProviderError && /known: offline/.test(e.message),
    );
  });

  it("refuses to register a name twice", () => {
    const registry = new ProviderRegistry().register("mine", () => new OfflineProvider());
    assert.throws(() => registry.register("mine", () => new OfflineProvider()), /already registered/);
  });
});
