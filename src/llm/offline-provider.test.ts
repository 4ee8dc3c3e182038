import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../errors.js";
import { OfflineProvider } from "./offline-provider.js";
import { complete, LlmAbortedError, type LlmChunk, LlmProviderError, type LlmRequest } from "./provider.js";
import { describeProviderConformance } from "./provider-conformance.js";
import { estimateTokens } from "./tokens.js";

describeProviderConformance("offline", () => new OfflineProvider(), {
  deterministic: true,
  makeStalledProvider: () => new OfflineProvider({ chunkDelayMs: 10_000 }),
});

const ask = (content: string, extra: Partial<LlmRequest> = {}): LlmRequest => ({
  model: "offline-1",
  messages: [{ role: "user", content }],
  ...extra,
});

async function deltasOf(provider: OfflineProvider, request: LlmRequest): Promise<string[]> {
  const deltas: string[] = [];
  for await (const chunk of provider.stream(request)) if (chunk.type === "delta") deltas.push(chunk.text);
  return deltas;
}

describe("OfflineProvider: replies", () => {
  it("streams the reply to 'echo <text>' one word per delta, adding up to the text verbatim", async () => {
    assert.deepEqual(await deltasOf(new OfflineProvider(), ask("echo hello  big\nworld")), [
      "hello  ",
      "big\n",
      "world",
    ]);
  });

  it("reports as outputTokens the token estimate of the text it streamed", async () => {
    const result = await complete(new OfflineProvider(), ask("tell me about supervisors"));
    assert.equal(result.usage.outputTokens, estimateTokens(result.text));
  });

  it("reports as inputTokens the token estimates of the messages, summed", async () => {
    const request: LlmRequest = {
      model: "m",
      messages: [
        { role: "system", content: "x".repeat(10) },
        { role: "user", content: "y".repeat(7) },
      ],
    };
    const result = await complete(new OfflineProvider(), request);
    assert.equal(result.usage.inputTokens, estimateTokens("x".repeat(10)) + estimateTokens("y".repeat(7)));
  });
});

describe("OfflineProvider: maxTokens", () => {
  it("stops with max_tokens at the longest prefix of the reply that fits, mid-word if need be", async () => {
    const full = (await complete(new OfflineProvider(), ask("repeat 10 abcdefghij"))).text;
    const cut = await complete(new OfflineProvider(), ask("repeat 10 abcdefghij", { maxTokens: 4 }));
    assert.equal(cut.stopReason, "max_tokens");
    // Four tokens are 16 characters by estimateTokens: the first word, a space and half the second.
    assert.equal(cut.text, "abcdefghij abcde");
    assert.ok(full.startsWith(cut.text));
    assert.equal(cut.usage.outputTokens, 4);
  });

  it("ends with stopReason end when the reply fits maxTokens exactly", async () => {
    const result = await complete(new OfflineProvider(), ask("echo abcdefgh", { maxTokens: 2 }));
    assert.deepEqual([result.text, result.stopReason], ["abcdefgh", "end"]);
  });
});

describe("OfflineProvider: pacing and abort", () => {
  it("with chunkDelayMs, waits at least that long between deltas", async () => {
    const arrivals: number[] = [];
    for await (const chunk of new OfflineProvider({ chunkDelayMs: 20 }).stream(ask("echo a b c"))) {
      if (chunk.type === "delta") arrivals.push(performance.now());
    }
    assert.equal(arrivals.length, 3);
    for (let i = 1; i < arrivals.length; i++) {
      // A timer may fire a fraction of a millisecond early by performance.now's reckoning.
      assert.ok(arrivals[i]! - arrivals[i - 1]! >= 19, `gap ${i} was ${arrivals[i]! - arrivals[i - 1]!} ms`);
    }
  });

  it("by default streams a whole reply before any timer gets to run", async () => {
    let timerRan = false;
    const timer = setTimeout(() => {
      timerRan = true;
    }, 0);
    await complete(new OfflineProvider(), ask("repeat 50 word"));
    clearTimeout(timer);
    assert.equal(timerRan, false);
  });

  it("ends at once with LlmAbortedError when aborted during the delay between deltas", {
    timeout: 5000,
  }, async () => {
    const controller = new AbortController();
    const stream = new OfflineProvider({ chunkDelayMs: 60_000 })
      .stream(ask("echo a b", { signal: controller.signal }))
      [Symbol.asyncIterator]();
    assert.deepEqual((await stream.next()).value, { type: "delta", text: "a " });
    const started = performance.now();
    const next = stream.next();
    controller.abort();
    await assert.rejects(next, LlmAbortedError);
    assert.ok(performance.now() - started < 1000);
  });

  it("refuses a negative chunkDelayMs", () => {
    assert.throws(() => new OfflineProvider({ chunkDelayMs: -1 }), InvalidArgumentError);
  });
});

describe("OfflineProvider: failOn", () => {
  it("fails only the requests failOn picks, with a non-retryable LlmProviderError and no delta", async () => {
    const cause = new Error("upstream 503");
    const provider = new OfflineProvider({
      failOn: (request) => (request.messages.at(-1)?.content === "fail" ? cause : undefined),
    });
    const seen: LlmChunk[] = [];
    const reading = (async () => {
      for await (const chunk of provider.stream(ask("fail"))) seen.push(chunk);
    })();
    await assert.rejects(
      reading,
      (e: unknown) =>
        e instanceof LlmProviderError &&
        e.provider === "offline" &&
        !e.retryable &&
        e.cause === cause &&
        /upstream 503/.test(e.message),
    );
    assert.deepEqual(seen, []);
    assert.equal((await complete(provider, ask("echo fine"))).text, "fine");
  });

  it("throws an LlmProviderError from failOn as it is, so a test can make it retryable", async () => {
    const rateLimited = new LlmProviderError("offline", "rate limited", { retryable: true });
    const provider = new OfflineProvider({ failOn: () => rateLimited });
    await assert.rejects(complete(provider, ask("hi")), (e: unknown) => e === rateLimited);
  });
});
