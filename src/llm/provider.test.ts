import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../errors.js";
import {
  complete,
  type LlmChunk,
  type LlmProvider,
  LlmProviderError,
  type LlmRequest,
  validateRequest,
} from "./provider.js";

const valid: LlmRequest = {
  model: "m",
  messages: [
    { role: "system", content: "be brief" },
    { role: "user", content: "hi" },
    { role: "assistant", content: "" },
  ],
  temperature: 0.7,
  maxTokens: 100,
  signal: new AbortController().signal,
};

function scripted(chunks: LlmChunk[]): LlmProvider {
  return {
    name: "scripted",
    async *stream() {
      yield* chunks;
    },
  };
}

const readFile = {
  name: "read_file",
  description: "Reads a file",
  inputSchema: { type: "object", properties: { path: { type: "string" } }, required: ["path"] },
};

describe("validateRequest", () => {
  it("accepts a well-formed request with every optional field", () => {
    assert.doesNotThrow(() => validateRequest(valid));
  });

  it("accepts tools, an assistant message calling them and the results", () => {
    const request: LlmRequest = {
      model: "m",
      tools: [readFile],
      messages: [
        { role: "user", content: "read a" },
        {
          role: "assistant",
          content: "",
          toolCalls: [{ id: "c1", name: "read_file", input: { path: "a" } }],
        },
        { role: "tool", toolCallId: "c1", toolName: "read_file", content: "text of a" },
      ],
    };
    assert.doesNotThrow(() => validateRequest(request));
  });

  it("accepts temperatures 0 and 2, the ends of the range", () => {
    assert.doesNotThrow(() => validateRequest({ ...valid, temperature: 0 }));
    assert.doesNotThrow(() => validateRequest({ ...valid, temperature: 2 }));
  });

  const malformed: [string, string, unknown][] = [
    ["request", "a request that is not an object", null],
    ["request.model", "an empty model", { ...valid, model: "" }],
    ["request.model", "a missing model", { ...valid, model: undefined }],
    ["request.messages", "no messages", { ...valid, messages: [] }],
    ["request.messages", "messages that are not an array", { ...valid, messages: "hi" }],
    [
      "request.messages[1].role",
      "a message with an unknown role",
      { ...valid, messages: [valid.messages[0], { role: "robot", content: "x" }] },
    ],
    [
      "request.messages[1].toolCallId",
      "a tool result that names no call",
      { ...valid, messages: [valid.messages[0], { role: "tool", toolName: "t", content: "x" }] },
    ],
    [
      "request.messages[0].content",
      "a message whose content is not text",
      { ...valid, messages: [{ role: "user", content: 42 }] },
    ],
    ["request.messages[0]", "a message that is null", { ...valid, messages: [null] }],
    ["request.temperature", "a temperature below 0", { ...valid, temperature: -0.1 }],
    ["request.temperature", "a temperature above 2", { ...valid, temperature: 2.1 }],
    ["request.temperature", "a temperature given as text", { ...valid, temperature: "1" }],
    ["request.temperature", "a NaN temperature", { ...valid, temperature: Number.NaN }],
    ["request.maxTokens", "maxTokens of 0", { ...valid, maxTokens: 0 }],
    ["request.maxTokens", "fractional maxTokens", { ...valid, maxTokens: 1.5 }],
    ["request.signal", "a signal that is not an AbortSignal", { ...valid, signal: { aborted: false } }],
    ["request.tools", "tools that are not an array", { ...valid, tools: {} }],
    [
      "request.tools[0].name",
      "a tool name with a space",
      { ...valid, tools: [{ ...readFile, name: "read file" }] },
    ],
  ];
  for (const [field, what, request] of malformed) {
    it(`rejects ${what}, naming ${field}`, () => {
      assert.throws(
        () => validateRequest(request as LlmRequest),
        (e: unknown) => e instanceof InvalidArgumentError && e.argument === field,
      );
    });
  }
});

describe("complete", () => {
  it("joins the deltas and returns the done chunk's stop reason and usage", async () => {
    const usage = { inputTokens: 3, outputTokens: 2 };
    const provider = scripted([
      { type: "delta", text: "hel" },
      { type: "delta", text: "lo" },
      { type: "done", stopReason: "max_tokens", usage },
    ]);
    assert.deepEqual(await complete(provider, valid), {
      text: "hello",
      toolCalls: [],
      stopReason: "max_tokens",
      usage,
    });
  });

  it("gathers the tool calls in the order they came", async () => {
    const usage = { inputTokens: 3, outputTokens: 2 };
    const provider = scripted([
      { type: "delta", text: "Reading." },
      { type: "tool_call", id: "c1", name: "read_file", input: { path: "a" } },
      { type: "tool_call", id: "c2", name: "read_file", input: { path: "b" } },
      { type: "done", stopReason: "tool_calls", usage },
    ]);
    const result = await complete(provider, valid);
    assert.deepEqual(result.toolCalls, [
      { id: "c1", name: "read_file", input: { path: "a" } },
      { id: "c2", name: "read_file", input: { path: "b" } },
    ]);
    assert.equal(result.stopReason, "tool_calls");
  });

  it("fails with LlmProviderError when the stream ends without a done chunk", async () => {
    await assert.rejects(
      complete(scripted([{ type: "delta", text: "cut off" }]), valid),
      (e: unknown) =>
        e instanceof LlmProviderError && e.provider === "scripted" && /without a done/.test(e.message),
    );
  });
});

describe("LlmProviderError", () => {
  it("carries its code, the provider, whether to retry, and the cause", () => {
    const cause = new Error("HTTP 429");
    const error = new LlmProviderError("openai", "rate limited", { retryable: true, cause });
    assert.equal(error.code, "llm_provider_error");
    assert.equal(error.provider, "openai");
    assert.equal(error.retryable, true);
    assert.equal(error.cause, cause);
    assert.match(error.message, /openai.*rate limited/);
  });

  it("is not retryable unless told so", () => {
    assert.equal(new LlmProviderError("openai", "bad key").retryable, false);
  });
});
