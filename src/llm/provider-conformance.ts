import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../errors.js";
import {
  LlmAbortedError,
  type LlmChunk,
  type LlmProvider,
  type LlmRequest,
  type LlmToolDefinition,
} from "./provider.js";

export interface ProviderConformanceOptions {
  /** The provider promises the same text for the same request (the offline one does; a remote model need not). */
  deterministic?: boolean;
  /** The model to ask for; a remote backend needs one it serves. */
  model?: string;
  /**
   * The same backend made to pause (for a second or more) before a chunk, as a slow or silent
   * model does: the case "aborting the signal ends the stream promptly" aborts while a read
   * waits on it. Without one, that case uses `makeProvider` and checks only what it can.
   */
  makeStalledProvider?: () => LlmProvider;
  /**
   * A user message that makes the backend ask for a call of `CONFORMANCE_TOOL` (a scripted model
   * is told so; a served one is a test server scripted by it). With one, the suite checks tool
   * calls: one `tool_call` chunk per call, its input parsed, before a `done` with `tool_calls`.
   * Without one, those cases are skipped (a backend that cannot call tools).
   */
  toolCallPrompt?: string;
}

/** The tool the tool cases offer: `toolCallPrompt` must make the backend call it. */
export const CONFORMANCE_TOOL: LlmToolDefinition = {
  name: "lookup",
  description: "Looks a topic up and returns what is known about it.",
  inputSchema: {
    type: "object",
    properties: { query: { type: "string", description: "The topic" } },
    required: ["query"],
  },
};

/** How soon after its signal is aborted a waiting read must end. */
export const ABORT_PROMPTLY_MS = 1000;
/** A read that takes longer than this is taken to be waiting on the model. */
const WAITING_MS = 50;

async function collect(chunks: AsyncIterable<LlmChunk>): Promise<LlmChunk[]> {
  const seen: LlmChunk[] = [];
  for await (const chunk of chunks) seen.push(chunk);
  return seen;
}

/** `promise`, or `value` if `ms` pass first (the timer is cleared either way). */
async function orAfter<T, U>(promise: Promise<T>, ms: number, value: U): Promise<T | U> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<U>((resolve) => (timer = setTimeout(() => resolve(value), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
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

    it("aborting the signal ends the stream promptly, even while a read waits on the model", async () => {
      const controller = new AbortController();
      const provider = (options.makeStalledProvider ?? makeProvider)();
      const chunks = provider.stream({ ...request, signal: controller.signal })[Symbol.asyncIterator]();
      try {
        // Read until a chunk is slow to come, then abort while that read waits.
        let waiting: Promise<IteratorResult<LlmChunk>> | undefined;
        for (;;) {
          const next = chunks.next();
          const settled = await orAfter(
            next.then(
              (result) => ({ result }),
              (error: unknown) => ({ error }),
            ),
            WAITING_MS,
            undefined,
          );
          if (settled === undefined) {
            waiting = next;
            break;
          }
          if ("error" in settled) throw settled.error;
          if (settled.result.done) break;
        }
        if (!waiting) {
          assert.equal(options.makeStalledProvider, undefined, "the stalled provider never paused");
          return;
        }
        // Observed at once, so that a rejection before the timing check is not unhandled.
        const outcome = waiting.then(
          () => "a chunk",
          (error: unknown) => error,
        );
        const abortedAt = performance.now();
        controller.abort();
        const ended = await orAfter(outcome, ABORT_PROMPTLY_MS * 5, "still waiting");
        const tookMs = performance.now() - abortedAt;
        assert.ok(ended instanceof LlmAbortedError, `the waiting read ended with ${String(ended)}`);
        assert.ok(
          tookMs < ABORT_PROMPTLY_MS,
          `the waiting read ended ${Math.round(tookMs)} ms after the abort`,
        );
      } finally {
        controller.abort();
        void Promise.resolve(chunks.return?.()).catch(() => {});
      }
    });

    const { toolCallPrompt } = options;
    if (toolCallPrompt !== undefined) {
      const calling: LlmRequest = {
        ...request,
        tools: [CONFORMANCE_TOOL],
        messages: [request.messages[0]!, { role: "user", content: toolCallPrompt }],
      };

      it("streams a tool call as one tool_call chunk with its input parsed, before done with tool_calls", async () => {
        const chunks = await collect(makeProvider().stream(calling));
        const calls = chunks.filter((c) => c.type === "tool_call");
        assert.ok(calls.length > 0, "the reply asked for a tool call");
        for (const call of calls) {
          assert.equal(call.name, CONFORMANCE_TOOL.name);
          assert.ok(typeof call.id === "string" && call.id.length > 0, "the call has an id");
          assert.ok(
            typeof call.input === "object" && call.input !== null && !Array.isArray(call.input),
            `the input ${JSON.stringify(call.input)} is an object, not its JSON text`,
          );
        }
        assert.equal(
          new Set(calls.map((c) => c.type === "tool_call" && c.id)).size,
          calls.length,
          "ids differ",
        );
        assert.equal(chunks.filter((c) => c.type === "done").length, 1);
        const done = chunks.at(-1);
        assert.ok(done?.type === "done", "the stream ends with done");
        assert.equal(done.stopReason, "tool_calls");
      });

      it("answers a request carrying an assistant's tool call and its result", async () => {
        const first = await collect(makeProvider().stream(calling));
        const calls = first.flatMap((c) =>
          c.type === "tool_call" ? [{ id: c.id, name: c.name, input: c.input }] : [],
        );
        const text = textOf(first);
        const chunks = await collect(
          makeProvider().stream({
            ...calling,
            messages: [
              ...calling.messages,
              { role: "assistant", content: text, toolCalls: calls },
              ...calls.map((call) => ({
                role: "tool" as const,
                toolCallId: call.id,
                toolName: call.name,
                content: "Supervisors restart the children that fail.",
              })),
            ],
          }),
        );
        assert.equal(chunks.filter((c) => c.type === "done").length, 1);
        assert.equal(chunks.at(-1)?.type, "done");
        assert.ok(
          chunks.some((c) => c.type !== "done"),
          "the answer says something or calls again",
        );
      });

      it("answers a tool result that reports a failure", async () => {
        const chunks = await collect(
          makeProvider().stream({
            ...calling,
            messages: [
              ...calling.messages,
              {
                role: "assistant",
                content: "",
                toolCalls: [{ id: "call_conformance_1", name: CONFORMANCE_TOOL.name, input: { query: "x" } }],
              },
              {
                role: "tool",
                toolCallId: "call_conformance_1",
                toolName: CONFORMANCE_TOOL.name,
                content: "no such topic",
                isError: true,
              },
            ],
          }),
        );
        assert.equal(chunks.at(-1)?.type, "done");
      });
    }

    it("reports a malformed request from the iterator as InvalidArgumentError naming the field", async () => {
      const malformed: [string, LlmRequest][] = [
        ["request.model", { ...request, model: "" }],
        ["request.messages", { ...request, messages: [] }],
        ["request.messages[0].role", { ...request, messages: [{ role: "robot", content: "hi" } as never] }],
        [
          "request.messages[2].toolCallId",
          {
            ...request,
            messages: [...request.messages, { role: "tool", toolName: "lookup", content: "x" } as never],
          },
        ],
        ["request.tools[0].name", { ...request, tools: [{ ...CONFORMANCE_TOOL, name: "look up" }] }],
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
