import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { LanguageModel } from "ai";
import { streamText } from "ai";
import { AiSdkProvider, streamTextArgsOf } from "./ai-sdk-provider.js";
import { LlmProviderError } from "./errors.js";
import type { LlmChunk, LlmRequest } from "./provider.js";

// The SDK warns (on the console) when it adapts a specification v2 model.
globalThis.AI_SDK_LOG_WARNINGS = false;

const request: LlmRequest = { model: "m", messages: [{ role: "user", content: "Hello" }] };

async function chunksOf(provider: AiSdkProvider, asked: LlmRequest = request): Promise<LlmChunk[]> {
  const chunks: LlmChunk[] = [];
  for await (const chunk of provider.stream(asked)) chunks.push(chunk);
  return chunks;
}

const text = [
  { type: "text-start", id: "t" },
  { type: "text-delta", id: "t", delta: "Hi " },
  { type: "text-delta", id: "t", delta: "there" },
  { type: "text-end", id: "t" },
];

/**
 * A model that streams `parts` then a finish with `finishReason`, in the shapes of the SDK's
 * provider specification `version`: v3 models (every backend shipped) are asked directly, any
 * other through the SDK's streamText.
 */
function model(version: "v2" | "v3", parts: object[], finishReason = "stop"): LanguageModel {
  const finish =
    version === "v2"
      ? { type: "finish", finishReason, usage: { inputTokens: 3, outputTokens: 2, totalTokens: 5 } }
      : {
          type: "finish",
          finishReason: { unified: finishReason, raw: finishReason },
          usage: { inputTokens: { total: 3 }, outputTokens: { total: 2 } },
        };
  const all = [{ type: "stream-start", warnings: [] }, ...parts, finish];
  return {
    specificationVersion: version,
    provider: "test",
    modelId: "m",
    supportedUrls: {},
    doGenerate: () => Promise.reject(new Error("not used")),
    doStream: async () => ({
      stream: new ReadableStream({
        start(controller) {
          for (const part of all) controller.enqueue(part);
          controller.close();
        },
      }),
    }),
  } as unknown as LanguageModel;
}

describe("AiSdkProvider", () => {
  for (const version of ["v2", "v3"] as const) {
    it(`streams a model of specification ${version}'s text and usage`, async () => {
      const chunks = await chunksOf(new AiSdkProvider("test", () => model(version, text)));
      assert.deepEqual(chunks, [
        { type: "delta", text: "Hi " },
        { type: "delta", text: "there" },
        { type: "done", stopReason: "end", usage: { inputTokens: 3, outputTokens: 2 } },
      ]);
    });
  }

  it("hands out a v3 model's calls with their input as streamText parses it", async () => {
    const calls = [
      ["valid", "lookup", '{"q":"a"}'],
      ["empty", "lookup", ""],
      ["not JSON", "lookup", '{"q":'],
      ["not offered", "nope", '{"a":1}'],
      ["__proto__", "lookup", '{"__proto__":{"x":1}}'],
      ["constructor.prototype", "lookup", '{"a":[{"constructor":{"prototype":{}}}]}'],
      ["constructor alone", "lookup", '{"constructor":"x"}'],
    ].map(([id, toolName, input]) => ({ type: "tool-call", toolCallId: id, toolName, input }));
    const asked: LlmRequest = {
      ...request,
      tools: [{ name: "lookup", description: "Looks up", inputSchema: { type: "object" } }],
    };
    const through = (version: "v2" | "v3") =>
      chunksOf(new AiSdkProvider("test", () => model(version, calls, "tool-calls")), asked);
    const direct = await through("v3");
    // The v2 model goes through streamText: the same calls come out of both.
    assert.deepEqual(direct, await through("v2"));
    assert.deepEqual(
      direct.map((c) => (c.type === "tool_call" ? [c.id, c.input] : c.type)),
      [
        ["valid", { q: "a" }],
        ["empty", {}],
        ["not JSON", '{"q":'],
        ["not offered", { a: 1 }],
        ["__proto__", '{"__proto__":{"x":1}}'],
        ["constructor.prototype", '{"a":[{"constructor":{"prototype":{}}}]}'],
        ["constructor alone", { constructor: "x" }],
        "done",
      ],
    );
  });

  it("refuses a v3 model's request with a call left unanswered, as streamText does", async () => {
    const asked: LlmRequest = {
      model: "m",
      messages: [
        { role: "user", content: "Hello" },
        { role: "assistant", content: "", toolCalls: [{ id: "c1", name: "lookup", input: {} }] },
        { role: "user", content: "Again" },
      ],
    };
    const failures = await Promise.all(
      (["v2", "v3"] as const).map((version) =>
        chunksOf(new AiSdkProvider("test", () => model(version, text)), asked).then(
          () => assert.fail("no failure"),
          (error: unknown) => error,
        ),
      ),
    );
    for (const failure of failures) {
      assert.ok(failure instanceof LlmProviderError);
      assert.match(failure.message, /c1/);
    }
    assert.equal((failures[0] as Error).message, (failures[1] as Error).message);
  });

  it("asks a v3 model with the options streamText would give it for the same request", async () => {
    // A guard against drift: should a new `ai` release change what streamText sends a model,
    // this fails, and the direct path (openModel) must follow.
    const asked: LlmRequest = {
      model: "m",
      temperature: 0.3,
      maxTokens: 200,
      messages: [
        { role: "system", content: "Be brief." },
        { role: "system", content: "Use tools." },
        { role: "user", content: "Look it up" },
        {
          role: "assistant",
          content: "Looking",
          toolCalls: [
            { id: "c1", name: "lookup", input: { q: "a" } },
            { id: "c2", name: "lookup", input: "not an object" },
          ],
        },
        { role: "tool", toolCallId: "c1", toolName: "lookup", content: "found a" },
        { role: "tool", toolCallId: "c2", toolName: "lookup", content: "bad input", isError: true },
        { role: "assistant", content: "Done." },
        { role: "user", content: "Thanks" },
      ],
      tools: [
        {
          name: "lookup",
          description: "Looks up",
          inputSchema: { type: "object", properties: { q: { type: "string" } }, required: ["q"] },
        },
      ],
    };
    const received: unknown[] = [];
    const recording = model("v3", text) as unknown as { doStream: (options: unknown) => Promise<unknown> };
    const stream = recording.doStream;
    recording.doStream = (options) => {
      received.push(options);
      return stream(options);
    };
    await chunksOf(new AiSdkProvider("test", () => recording as unknown as LanguageModel), asked);
    const sdk = streamText(await streamTextArgsOf(recording as unknown as LanguageModel, asked));
    for await (const _ of sdk.fullStream);
    assert.equal(received.length, 2);
    // Keys set to undefined are the same as absent to a model.
    const [direct, throughSdk] = received.map((options) => JSON.parse(JSON.stringify(options)));
    assert.deepEqual(direct, throughSdk);
  });
});
