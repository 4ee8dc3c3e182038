import assert from "node:assert/strict";
import { after, beforeEach, describe, it } from "node:test";
import { ARGUMENT_PIECES, startModelServer } from "../../test/support/model-server.js";
import { InvalidArgumentError } from "../errors.js";
import { type ModelBackend, registerModelBackends } from "./ai-sdk-backends.js";
import { LlmAbortedError, LlmProviderError } from "./errors.js";
import {
  type Completion,
  complete,
  type LlmChunk,
  type LlmRequest,
  type LlmToolDefinition,
} from "./provider.js";
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
    toolCallPrompt: 'tool lookup {"query": "supervisors"}',
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

const READ_FILE: LlmToolDefinition = {
  name: "read_file",
  description: "Reads a file of the project",
  inputSchema: {
    type: "object",
    properties: { path: { type: "string" }, maxBytes: { type: "integer" } },
    required: ["path"],
  },
};

/** A request offering read_file whose user message scripts the server (see model-server.ts). */
const scripted = (script: string): LlmRequest => ({
  model: "test-model",
  tools: [READ_FILE],
  messages: [
    { role: "system", content: "You are terse." },
    { role: "user", content: script },
  ],
});

/** `request` followed by the reply's calls and a result for each, as a tool loop sends it. */
function withResults(
  request: LlmRequest,
  reply: Completion,
  results: { content: string; isError?: boolean }[],
) {
  return {
    ...request,
    messages: [
      ...request.messages,
      { role: "assistant" as const, content: reply.text, toolCalls: reply.toolCalls },
      ...reply.toolCalls.map((call, i) => ({
        role: "tool" as const,
        toolCallId: call.id,
        toolName: call.name,
        ...results[i]!,
      })),
    ],
  };
}

/** Every chunk read before the stream ended, and the error it ended with (if any). */
async function readAll(chunks: AsyncIterable<LlmChunk>): Promise<{ seen: LlmChunk[]; error?: unknown }> {
  const seen: LlmChunk[] = [];
  try {
    for await (const chunk of chunks) seen.push(chunk);
    return { seen };
  } catch (error) {
    return { seen, error };
  }
}

/** `actual` cut down to the keys (and array lengths) `expected` has, so a diff shows only those. */
function shapeOf(actual: unknown, expected: unknown): unknown {
  if (Array.isArray(expected)) {
    return Array.isArray(actual)
      ? actual.map((item, i) => (i < expected.length ? shapeOf(item, expected[i]) : item))
      : actual;
  }
  if (typeof expected !== "object" || expected === null || typeof actual !== "object" || actual === null)
    return actual;
  return Object.fromEntries(
    Object.keys(expected).map((key) => [
      key,
      shapeOf((actual as Record<string, unknown>)[key], (expected as Record<string, unknown>)[key]),
    ]),
  );
}

/** Asserts `actual` has every key and value `expected` has (arrays: the same length too). */
const assertShape = (actual: unknown, expected: unknown) =>
  assert.deepEqual(shapeOf(actual, expected), expected);

const bodyAt = (index: number) => server.requests[index]!.body as Record<string, unknown[]>;

for (const backend of ["openai-compatible", "openai", "anthropic"] as const) {
  const vendor = backend === "anthropic" ? "anthropic" : "openai";

  describe(`${backend} backend over HTTP: tool calls`, { timeout: 10_000 }, () => {
    it("hands out a call whose arguments came in pieces as one tool_call with the parsed input, then done", async () => {
      const servedBefore = server.servedCalls.length;
      const { seen, error } = await readAll(
        provider(backend).stream(scripted('tool read_file {"path": "README.md"}')),
      );
      assert.equal(error, undefined);
      const served = server.servedCalls[servedBefore]!;
      assert.deepEqual(seen, [
        { type: "tool_call", id: served.id, name: "read_file", input: { path: "README.md" } },
        { type: "done", stopReason: "tool_calls", usage: { inputTokens: 21, outputTokens: ARGUMENT_PIECES } },
      ]);
    });

    it("sends the tools with their JSON schema as the vendor documents them", async () => {
      const before = server.requests.length;
      await complete(provider(backend), scripted("tool read_file {}"));
      const tools = bodyAt(before).tools;
      const expected =
        vendor === "anthropic"
          ? { name: "read_file", description: READ_FILE.description, input_schema: READ_FILE.inputSchema }
          : {
              type: "function",
              function: {
                name: "read_file",
                description: READ_FILE.description,
                parameters: READ_FILE.inputSchema,
              },
            };
      assert.equal(tools?.length, 1);
      assertShape(tools?.[0], expected);
    });

    it("streams the text first, then parallel calls in their order with distinct ids and usage summed", async () => {
      const reply = await complete(
        provider(backend),
        scripted(
          'Reading both.\ntool read_file {"path": "a.txt"}\ntool read_file {"path": "b.txt", "maxBytes": 10}',
        ),
      );
      assert.equal(reply.text, "Reading both.");
      assert.deepEqual(
        reply.toolCalls.map((call) => call.input),
        [{ path: "a.txt" }, { path: "b.txt", maxBytes: 10 }],
      );
      assert.notEqual(reply.toolCalls[0]!.id, reply.toolCalls[1]!.id);
      assert.equal(reply.stopReason, "tool_calls");
      // Two text words and each call's pieces.
      assert.deepEqual(reply.usage, { inputTokens: 21, outputTokens: 2 + 2 * ARGUMENT_PIECES });
    });

    it("sends the calls and their results back in the vendor's format, and gets the answer", async () => {
      const request = scripted('tool read_file {"path": "a.txt"}\ntool read_file {"path": "b.txt"}');
      const reply = await complete(provider(backend), request);
      const [a, b] = reply.toolCalls as [Completion["toolCalls"][0], Completion["toolCalls"][0]];
      const before = server.requests.length;
      const answer = await complete(
        provider(backend),
        withResults(request, reply, [{ content: "text of a" }, { content: "no such file", isError: true }]),
      );
      assert.deepEqual([answer.text, answer.stopReason, answer.toolCalls], [server.reply, "end", []]);
      const messages = bodyAt(before).messages as Record<string, unknown>[];
      if (vendor === "anthropic") {
        assertShape(messages.slice(-2), [
          {
            role: "assistant",
            content: [
              { type: "tool_use", id: a.id, name: "read_file", input: { path: "a.txt" } },
              { type: "tool_use", id: b.id, name: "read_file", input: { path: "b.txt" } },
            ],
          },
          {
            role: "user",
            content: [
              { type: "tool_result", tool_use_id: a.id, content: "text of a" },
              { type: "tool_result", tool_use_id: b.id, content: "no such file", is_error: true },
            ],
          },
        ]);
      } else {
        assertShape(messages.slice(-3), [
          {
            role: "assistant",
            tool_calls: [
              { id: a.id, type: "function", function: { name: "read_file", arguments: '{"path":"a.txt"}' } },
              { id: b.id, type: "function", function: { name: "read_file", arguments: '{"path":"b.txt"}' } },
            ],
          },
          { role: "tool", tool_call_id: a.id, content: "text of a" },
          { role: "tool", tool_call_id: b.id, content: "no such file" },
        ]);
      }
    });

    it("retries a 429 with retry-after that came before the first chunk, then hands out the call", async () => {
      server.failNext({ status: 429, headers: { "retry-after": "0" } });
      const before = server.requests.length;
      const reply = await complete(
        provider(backend, "fail", 2),
        scripted('tool read_file {"path": "a.txt"}'),
      );
      assert.deepEqual(
        reply.toolCalls.map((call) => call.input),
        [{ path: "a.txt" }],
      );
      assert.equal(server.requests.length - before, 2);
    });

    for (const [mode, how] of [
      ["cut", "the connection is reset"],
      ["unfinished", "the stream ends without a finish"],
    ] as const) {
      it(`fails with LlmProviderError and hands out no half call when ${how} after the first argument piece`, async () => {
        const { seen, error } = await readAll(
          provider(backend, mode).stream(scripted('tool read_file {"path": "a-rather-long-name.txt"}')),
        );
        assert.ok(error instanceof LlmProviderError, `the stream ended with ${String(error)}`);
        assert.deepEqual(seen, []);
      });
    }

    it("fails with LlmProviderError after the text it handed out when the stream ends without a finish", async () => {
      const { seen, error } = await readAll(provider(backend, "unfinished").stream(request));
      assert.ok(error instanceof LlmProviderError, `the stream ended with ${String(error)}`);
      assert.deepEqual(seen, [{ type: "delta", text: `${server.reply.split(" ")[0]} ` }]);
    });

    it("hands out a call whose arguments are not JSON with their text as the input", async () => {
      const reply = await complete(provider(backend), scripted('tool read_file {"path": '));
      assert.deepEqual(
        reply.toolCalls.map((call) => [call.name, call.input]),
        [["read_file", '{"path":']],
      );
      assert.equal(reply.stopReason, "tool_calls");
    });

    it("sends a call whose arguments were not JSON back with {} as its input", async () => {
      const request = scripted('tool read_file {"path": ');
      const reply = await complete(provider(backend), request);
      const before = server.requests.length;
      await complete(
        provider(backend),
        withResults(request, reply, [{ content: "the input is not JSON", isError: true }]),
      );
      const messages = bodyAt(before).messages as Record<string, unknown>[];
      const id = reply.toolCalls[0]!.id;
      const sent =
        vendor === "anthropic"
          ? { role: "assistant", content: [{ type: "tool_use", id, input: {} }] }
          : { role: "assistant", tool_calls: [{ id, function: { arguments: "{}" } }] };
      assertShape(messages.at(-2), sent);
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
