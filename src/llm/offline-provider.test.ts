import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../errors.js";
import { OfflineProvider } from "./offline-provider.js";
import {
  type Completion,
  complete,
  LlmAbortedError,
  type LlmChunk,
  type LlmMessage,
  LlmProviderError,
  type LlmRequest,
  type LlmToolDefinition,
} from "./provider.js";
import { describeProviderConformance } from "./provider-conformance.js";
import { estimateTokens } from "./tokens.js";

describeProviderConformance("offline", () => new OfflineProvider(), {
  deterministic: true,
  toolCallPrompt: "Let me look that up.\ntool lookup supervisors",
  makeStalledProvider: () => new OfflineProvider({ chunkDelayMs: 10_000 }),
});

const ask = (content: string, extra: Partial<LlmRequest> = {}): LlmRequest => ({
  model: "offline-1",
  messages: [{ role: "user", content }],
  ...extra,
});

const textOf = (chunks: LlmChunk[]) => chunks.map((c) => (c.type === "delta" ? c.text : "")).join("");

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

const TOOLS: LlmToolDefinition[] = [
  {
    name: "read_file",
    description: "Reads a file",
    inputSchema: {
      type: "object",
      properties: { path: { type: "string" }, maxBytes: { type: "integer" } },
      required: ["path"],
    },
  },
  {
    name: "run_command",
    description: "Runs a command",
    inputSchema: { type: "object", properties: { command: { type: "string" } }, required: ["command"] },
  },
  {
    name: "write_file",
    description: "Writes a file",
    inputSchema: {
      type: "object",
      properties: { content: { type: "string" }, path: { type: "string" }, append: { type: "boolean" } },
      required: ["path", "content", "append"],
    },
  },
  {
    name: "list_files",
    description: "Lists files",
    inputSchema: { type: "object", properties: { dir: { type: "string" } } },
  },
  { name: "now", description: "Tells the time", inputSchema: { type: "object" } },
];

const withTools = (content: string, extra: Partial<LlmRequest> = {}) =>
  ask(content, { tools: TOOLS, ...extra });

async function chunksOf(request: LlmRequest, provider = new OfflineProvider()): Promise<LlmChunk[]> {
  const chunks: LlmChunk[] = [];
  for await (const chunk of provider.stream(request)) chunks.push(chunk);
  return chunks;
}

/** The request that sends back results for every call of `reply`, as a tool loop would. */
function answered(request: LlmRequest, reply: Completion, results: Partial<LlmMessage>[] = []): LlmRequest {
  return {
    ...request,
    messages: [
      ...request.messages,
      { role: "assistant", content: reply.text, toolCalls: reply.toolCalls },
      ...reply.toolCalls.map(
        (call, i) =>
          ({
            role: "tool",
            toolCallId: call.id,
            toolName: call.name,
            content: `result ${i + 1}`,
            ...results[i],
          }) as LlmMessage,
      ),
    ],
  };
}

describe("OfflineProvider: scripted tool calls", () => {
  it("answers a 'tool' line with one tool_call chunk, then done with tool_calls", async () => {
    const chunks = await chunksOf(withTools("tool read_file README.md"));
    assert.deepEqual(chunks.slice(0, -1), [
      { type: "tool_call", id: "call_1_1", name: "read_file", input: { path: "README.md" } },
    ]);
    const done = chunks.at(-1);
    assert.equal(done?.type === "done" && done.stopReason, "tool_calls");
  });

  it("gives the last required property the rest of the line", async () => {
    const reply = await complete(new OfflineProvider(), withTools("tool run_command ls -la  src"));
    assert.deepEqual(reply.toolCalls[0]?.input, { command: "ls -la  src" });
  });

  it("lays words onto the required properties in the order of properties, not of required", async () => {
    const reply = await complete(new OfflineProvider(), withTools("tool write_file hello notes.txt true"));
    assert.deepEqual(reply.toolCalls[0]?.input, { content: "hello", path: "notes.txt", append: true });
  });

  it("uses every property when none is required", async () => {
    const reply = await complete(new OfflineProvider(), withTools("tool list_files src/llm"));
    assert.deepEqual(reply.toolCalls[0]?.input, { dir: "src/llm" });
  });

  it("takes a JSON object as the input as it is", async () => {
    const reply = await complete(
      new OfflineProvider(),
      withTools('tool read_file {"path": "a b.txt", "maxBytes": 10}'),
    );
    assert.deepEqual(reply.toolCalls[0]?.input, { path: "a b.txt", maxBytes: 10 });
  });

  it("gives {} as the input of a tool that is not offered, or has no properties", async () => {
    const reply = await complete(
      new OfflineProvider(),
      withTools("tool delete_everything now\ntool now please"),
    );
    assert.deepEqual(
      reply.toolCalls.map((call) => [call.name, call.input]),
      [
        ["delete_everything", {}],
        ["now", {}],
      ],
    );
  });

  it("asks for several calls in one reply, in order, with distinct ids", async () => {
    const reply = await complete(
      new OfflineProvider(),
      withTools("tool read_file a.txt\ntool run_command pwd\ntool read_file b.txt"),
    );
    assert.deepEqual(
      reply.toolCalls.map((call) => [call.id, call.name]),
      [
        ["call_1_1", "read_file"],
        ["call_1_2", "run_command"],
        ["call_1_3", "read_file"],
      ],
    );
  });

  it("streams the other lines of the message as the reply's text, before the calls", async () => {
    const chunks = await chunksOf(withTools("Let me look.\ntool read_file a.txt\nOne moment."));
    const types = chunks.map((c) => c.type);
    assert.equal(types.indexOf("tool_call"), types.lastIndexOf("delta") + 1);
    assert.equal(textOf(chunks), "Let me look.\nOne moment.");
  });

  it("does not read tool lines when the request offers no tools", async () => {
    const reply = await complete(new OfflineProvider(), ask("tool read_file a.txt"));
    assert.deepEqual([reply.toolCalls, reply.stopReason], [[], "end"]);
    assert.match(reply.text, /You said: "tool read_file a.txt"/);
  });

  it("does not read tool lines in an echo", async () => {
    const reply = await complete(new OfflineProvider(), withTools("echo x\ntool read_file a.txt"));
    assert.deepEqual([reply.text, reply.toolCalls], ["x\ntool read_file a.txt", []]);
  });

  it("sums up the results that came back, one line each, then ends", async () => {
    const request = withTools("tool read_file a.txt\ntool run_command false");
    const reply = await complete(new OfflineProvider(), request);
    const next = await complete(
      new OfflineProvider(),
      answered(request, reply, [{ content: "A".repeat(300) }, { content: "exit code 1", isError: true }]),
    );
    assert.equal(next.text, `read_file: ${"A".repeat(200)}\nrun_command failed: exit code 1`);
    assert.deepEqual([next.toolCalls, next.stopReason], [[], "end"]);
  });

  it("asks a 'loop' call again after every result, with a new id each time", async () => {
    const provider = new OfflineProvider();
    let request = withTools("loop run_command sleep 1");
    const ids: string[] = [];
    for (let step = 0; step < 4; step++) {
      const reply = await complete(provider, request);
      assert.equal(reply.stopReason, "tool_calls");
      assert.deepEqual(
        reply.toolCalls.map((call) => [call.name, call.input]),
        [["run_command", { command: "sleep 1" }]],
      );
      ids.push(reply.toolCalls[0]!.id);
      request = answered(request, reply);
    }
    assert.equal(new Set(ids).size, 4);
  });

  it("answers the same tool request with the same calls and ids", async () => {
    const request = withTools("tool read_file a.txt\ntool run_command ls");
    assert.deepEqual(await chunksOf(request), await chunksOf(request));
  });

  it("counts tool calls and tool results in the usage", async () => {
    const request = withTools("tool read_file a.txt");
    const reply = await complete(new OfflineProvider(), request);
    const call = reply.toolCalls[0]!;
    assert.equal(reply.usage.outputTokens, estimateTokens(call.name + JSON.stringify(call.input)));
    const next = answered(request, reply, [{ content: "x".repeat(40) }]);
    const usage = (await complete(new OfflineProvider(), next)).usage;
    assert.equal(
      usage.inputTokens,
      estimateTokens("tool read_file a.txt") +
        estimateTokens(call.name + JSON.stringify(call.input)) +
        estimateTokens("x".repeat(40)),
    );
  });

  it("drops the calls of a reply cut by maxTokens, ending with max_tokens", async () => {
    const reply = await complete(
      new OfflineProvider(),
      withTools("A rather long preamble before the call.\ntool read_file a.txt", { maxTokens: 2 }),
    );
    assert.deepEqual([reply.toolCalls, reply.stopReason], [[], "max_tokens"]);
  });

  it("with chunkDelayMs, paces the tool calls like the deltas", async () => {
    const arrivals: number[] = [];
    const provider = new OfflineProvider({ chunkDelayMs: 20 });
    for await (const chunk of provider.stream(
      withTools("tool read_file a\ntool read_file b\ntool read_file c"),
    )) {
      if (chunk.type === "tool_call") arrivals.push(performance.now());
    }
    assert.equal(arrivals.length, 3);
    assert.ok(arrivals[2]! - arrivals[0]! >= 38, `the calls came ${arrivals[2]! - arrivals[0]!} ms apart`);
  });
});
