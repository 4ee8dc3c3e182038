import assert from "node:assert/strict";
import { after, beforeEach, describe, it } from "node:test";
import { startModelServer } from "../../test/support/model-server.js";
import { InvalidArgumentError } from "../errors.js";
import { type ModelBackend, registerModelBackends } from "./ai-sdk-backends.js";
import { LlmAbortedError, LlmProviderError } from "./errors.js";
import { complete, type LlmRequest } from "./provider.js";
import { describeProviderConformance } from "./provider-conformance.js";
import { ProviderRegistry } from "./provider-registry.js";

// The AI SDK prints its warnings (an unknown model's default token limit) to the console.
globalThis.AI_SDK_LOG_WARNINGS = false;
const server = await startModelServer();
after(() => server.close());
beforeEach(() => server.clearFailures());

const KEYS = { "openai-compatible": "sk-compat-test", openai: "sk-openai-test", anthropic: "sk-ant-test" };

function backends(maxRetries = 0) {
  return registerModelBackends(new ProviderRegistry(), {
    apiKeys: KEYS,
    env: {},
    maxRetries,
    initialDelayMs: 5,
    maxDelayMs: 2000,
  });
}

const provider = (backend: ModelBackend, mode = "ok", maxRetries = 0) =>
  backends(maxRetries).create(backend, { model: "test-model", baseURL: `${server.url}/${mode}/v1` });

const request: LlmRequest = {
  model: "test-model",
  messages: [
    { role: "system", content: "You are terse." },
    { role: "user", content: "Hello" },
  ],
};

for (const backend of ["openai-compatible", "openai", "anthropic"] as const) {
  describeProviderConformance(`${backend} (AI SDK, over HTTP)`, () => provider(backend), {
    model: "test-model",
    makeStalledProvider: () => provider(backend, "stall"),
  });

  describe(`${backend} backend over HTTP`, () => {
    it("streams the server's reply and its token usage", async () => {
      const done = await complete(provider(backend), request);
      assert.equal(done.text, server.reply);
      assert.deepEqual(done.usage, { inputTokens: 21, outputTokens: 4 });
      assert.equal(done.stopReason, "end");
    });

    it("reports a reply cut by the token limit as max_tokens", async () => {
      server.finishReason = "length";
      try {
        assert.equal((await complete(provider(backend), request)).stopReason, "max_tokens");
      } finally {
        server.finishReason = "stop";
      }
    });

    it("sends the system prompt, the model and the API key it was registered with", async () => {
      const before = server.requests.length;
      await complete(provider(backend), request);
      const sent = server.requests[before]!;
      assert.equal(sent.body.model, "test-model");
      assert.match(JSON.stringify(sent.body), /You are terse\./);
      const auth = backend === "anthropic" ? sent.headers["x-api-key"] : sent.headers.authorization;
      assert.match(String(auth), new RegExp(KEYS[backend]));
    });

    it("closes the HTTP connection when the request is aborted mid-stream", async () => {
      const closedBefore = server.closedEarly();
      const controller = new AbortController();
      const reading = (async () => {
        for await (const chunk of provider(backend, "stall").stream({
          ...request,
          signal: controller.signal,
        })) {
          if (chunk.type === "delta") controller.abort();
        }
      })();
      await assert.rejects(reading, LlmAbortedError);
      for (let i = 0; i < 100 && server.closedEarly() === closedBefore; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(server.closedEarly(), closedBefore + 1);
    });

    it("fails with a retryable LlmProviderError naming the status on a 5xx", async () => {
      server.failNext({ status: 503 });
      await assert.rejects(
        complete(provider(backend, "fail"), request),
        (e: unknown) => e instanceof LlmProviderError && e.retryable && /HTTP 503/.test(e.message),
      );
    });

    it("fails with a non-retryable LlmProviderError on a 401", async () => {
      server.failNext({ status: 401 });
      await assert.rejects(
        complete(provider(backend, "fail"), request),
        (e: unknown) => e instanceof LlmProviderError && !e.retryable && /HTTP 401/.test(e.message),
      );
    });

    it("retries 5xx answers with backoff until one succeeds", async () => {
      server.failNext({ status: 503 }, { status: 502 });
      const before = server.requests.length;
      const done = await complete(provider(backend, "fail", 2), request);
      assert.equal(done.text, server.reply);
      assert.equal(server.requests.length - before, 3);
    });

    it("gives up after maxRetries retries with the last failure", async () => {
      server.failNext({ status: 503 }, { status: 503 }, { status: 500 });
      const before = server.requests.length;
      await assert.rejects(
        complete(provider(backend, "fail", 2), request),
        (e: unknown) => e instanceof LlmProviderError && /HTTP 500/.test(e.message),
      );
      assert.equal(server.requests.length - before, 3);
    });

    it("does not wait when retry-after asks for longer than maxDelayMs, and fails at once", async () => {
      server.failNext({ status: 429, headers: { "retry-after": "120" } });
      const before = server.requests.length;
      await assert.rejects(complete(provider(backend, "fail", 2), request), LlmProviderError);
      assert.equal(server.requests.length - before, 1);
    });

    it("ends a retry's wait with LlmAbortedError when the signal is aborted", async () => {
      server.failNext({ status: 429, headers: { "retry-after": "1.9" } });
      const controller = new AbortController();
      const before = server.requests.length;
      const reading = complete(provider(backend, "fail", 2), { ...request, signal: controller.signal });
      // Aborted once the 429 has been answered, so that the abort ends the wait, not the request.
      await server.waitForRequests(before);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const startedAt = performance.now();
      controller.abort();
      await assert.rejects(reading, LlmAbortedError);
      assert.ok(performance.now() - startedAt < 1000, "the wait was cut short");
    });

    it("retries a 429 after its retry-after and then answers", async () => {
      server.failNext({ status: 429, headers: { "retry-after": "0" } });
      const before = server.requests.length;
      const done = await complete(provider(backend, "fail", 2), request);
      assert.equal(done.text, server.reply);
      assert.equal(server.requests.length - before, 2);
    });
  });
}

describe("model backend configuration", () => {
  it("refuses an API key in a session's config, naming llm.apiKey", () => {
    assert.throws(
      () => backends().create("openai", { model: "m", apiKey: "sk-leak" }),
      (e: unknown) => e instanceof InvalidArgumentError && e.argument === "llm.apiKey",
    );
  });

  it("refuses an openai-compatible backend without a baseURL", () => {
    assert.throws(
      () => backends().create("openai-compatible", { model: "m" }),
      (e: unknown) => e instanceof InvalidArgumentError && e.argument === "llm.baseURL",
    );
  });

  it("refuses a baseURL that is not http or https", () => {
    assert.throws(
      () => backends().create("anthropic", { model: "m", baseURL: "file:///etc/passwd" }),
      (e: unknown) => e instanceof InvalidArgumentError && e.argument === "llm.baseURL",
    );
  });

  it("reads the API key from the environment variable of its backend", async () => {
    const registry = registerModelBackends(new ProviderRegistry(), {
      env: { ANTHROPIC_API_KEY: "sk-from-env" },
      maxRetries: 0,
    });
    const before = server.requests.length;
    await complete(registry.create("anthropic", { model: "m", baseURL: `${server.url}/ok/v1` }), request);
    assert.equal(server.requests[before]?.headers["x-api-key"], "sk-from-env");
  });

  it("fails the request, not the session's start, when the key is missing, naming the variable", async () => {
    const registry = registerModelBackends(new ProviderRegistry(), { env: {}, maxRetries: 0 });
    const model = registry.create("openai", { model: "m", baseURL: `${server.url}/ok/v1` });
    await assert.rejects(
      complete(model, request),
      (e: unknown) => e instanceof LlmProviderError && /OPENAI_API_KEY/.test(e.message),
    );
  });
});
