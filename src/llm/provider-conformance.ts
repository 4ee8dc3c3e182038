import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LlmAbortedError, type LlmChunk, type LlmProvider, type LlmRequest } from "./provider.js";

const request: LlmRequest = {
  model: "conformance-1",
  messages: [
    { role: "system", content: "You are terse." },
    { role: "user", content: "Say something about supervisors." },
  ],
};

async function collect(provider: LlmProvider, req: LlmRequest): Promise<LlmChunk[]> {
  const chunks: LlmChunk[] = [];
  for await (const chunk of provider.stream(req)) chunks.push(chunk);
  return chunks;
}

/** The behaviour every LlmProvider must show; run it against each backend. */
export function describeProviderConformance(
  name: string,
  make: () => LlmProvider,
  options: { deterministic?: boolean } = {},
): void {
  describe(`LlmProvider conformance: ${name}`, () => {
    it("streams deltas and ends with exactly one done", async () => {
      const chunks = await collect(make(), request);
      assert.ok(chunks.some((c) => c.type === "delta"));
      assert.equal(chunks.filter((c) => c.type === "done").length, 1);
      assert.equal(chunks.at(-1)?.type, "done");
    });

    it("reports usage as non-negative whole numbers", async () => {
      const done = (await collect(make(), request)).at(-1);
      assert.ok(done?.type === "done");
      for (const n of [done.usage.inputTokens, done.usage.outputTokens])
        assert.ok(Number.isInteger(n) && n >= 0);
    });

    if (options.deterministic) {
      it("answers the same request with the same text", async () => {
        const text = async () =>
          (await collect(make(), request)).map((c) => (c.type === "delta" ? c.text : "")).join("");
        assert.equal(await text(), await text());
      });
    }

    it("ends with LlmAbortedError when the request is aborted", async () => {
      const controller = new AbortController();
      controller.abort();
      await assert.rejects(collect(make(), { ...request, signal: controller.signal }), LlmAbortedError);
    });

    it("rejects a malformed request", async () => {
      await assert.rejects(collect(make(), { ...request, messages: [] }), /request\.messages/);
      await assert.rejects(collect(make(), { ...request, temperature: 3 }), /request\.temperature/);
    });
  });
}
