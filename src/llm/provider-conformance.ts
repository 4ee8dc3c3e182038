import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../runtime/index.js";
import { LlmAbortedError, type LlmChunk, type LlmProvider, type LlmRequest } from "./provider.js";

export interface ProviderConformanceOptions {
  /** The provider promises the same text for the same request (the offline one does; a remote model need not). */
  deterministic?: boolean;
  /** The model to ask for; a remote backend needs one it serves. */
  model?: string;
}

async function collect(chunks: AsyncIterable<LlmChunk>): Promise<LlmChunk[]> {
  const seen: LlmChunk[] = [];
  for await (const chunk of chunks) seen.push(chunk);
  return seen;
}

const textOf = (chunks: LlmChunk[]) => chunks.map((c) => (c.type === "delta" ? c.text : "")).join("");

/**
 * The behaviour every LlmProvider must show, as node:test blocks; call it from a test file
 * once per backend. `makeProvider` is called afresh for each test.
 */
export function describeProviderConformance(
  name: string,
  makeProvider: () => LlmProvider,
  options: ProviderConformanceOptions = {},
): void {
  const request: LlmRequest = {
    model: options.model ?? "conformance-1",
    messages: [
      { role: "system", content: "You are terse." },
      { role: "user", content: "Say something about supervisors." },
    ],
  };

  describe(`LlmProvider conformance: ${name}`, () => {
    it("streams at least one delta, then exactly one done as the last chunk", async () => {
      const chunks = await collect(makeProvider().stream(request));
      assert.equal(chunks[0]?.type, "delta");
      assert.equal(chunks.filter((c) => c.type === "done").length, 1);
      assert.equal(chunks.at(-1)?.type, "done");
    });

    it("reports usage as non-negative whole numbers", async () => {
      const done = (await collect(makeProvider().stream(request))).at(-1);
      assert.ok(done?.type === "done", "the stream ends with done");
      for (const n of [done.usage.inputTokens, done.usage.outputTokens]) {
        assert.ok(Number.isInteger(n) && n >= 0, `usage ${n} is a non-negative integer`);
      }
    });

    if (options.deterministic) {
      it("answers the same request with the same text", async () => {
        const first = textOf(await collect(makeProvider().stream(request)));
        const second = textOf(await collect(makeProvider().stream(request)));
        assert.equal(second, first);
      });
    }

    it("ends with LlmAbortedError, before any chunk, when the signal is already aborted", async () => {
      const controller = new AbortController();
      controller.abort();
      const seen: LlmChunk[] = [];
      const reading = (async () => {
        for await (const chunk of makeProvider().stream({ ...request, signal: controller.signal }))
          seen.push(chunk);
      })();
      await assert.rejects(reading, LlmAbortedError);
      assert.deepEqual(seen, []);
    });

    it("ends with LlmAbortedError, and no further chunk, when aborted mid-stream", async () => {
      const controller = new AbortController();
      const afterAbort: LlmChunk[] = [];
      const reading = (async () => {
        for await (const chunk of makeProvider().stream({ ...request, signal: controller.signal })) {
          if (controller.signal.aborted) afterAbort.push(chunk);
          else controller.abort();
        }
      })();
      await assert.rejects(reading, LlmAbortedError);
      assert.deepEqual(afterAbort, []);
    });

    it("reports a malformed request from the iterator as InvalidArgumentError naming the field", async () => {
      const malformed: [string, LlmRequest][] = [
        ["request.model", { ...request, model: "" }],
        ["request.messages", { ...request, messages: [] }],
        ["request.messages[0]", { ...request, messages: [{ role: "robot", content: "hi" } as never] }],
        ["request.temperature", { ...request, temperature: 3 }],
        ["request.maxTokens", { ...request, maxTokens: 0 }],
      ];
      for (const [field, bad] of malformed) {
        let chunks: AsyncIterable<LlmChunk> | undefined;
        assert.doesNotThrow(() => {
          chunks = makeProvider().stream(bad);
        }, `stream() itself must not throw for a bad ${field}`);
        await assert.rejects(
          collect(chunks!),
          (e: unknown) => e instanceof InvalidArgumentError && e.argument === field,
          `a bad ${field} is rejected naming ${field}`,
        );
      }
    });
  });
}
