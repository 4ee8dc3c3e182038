import type {
  LanguageModel,
  LogWarningsFunction,
  ModelMessage,
  TextStreamPart,
  ToolResultPart,
  ToolSet,
} from "ai";
import { LlmAbortedError, LlmProviderError } from "./errors.js";
import {
  type LlmChunk,
  type LlmMessage,
  type LlmProvider,
  type LlmRequest,
  type LlmStopReason,
  type LlmToolCall,
  type LlmToolDefinition,
  validateRequest,
} from "./provider.js";

/** Builds the AI SDK model for a model id; called once per request. */
export type ModelFactory = (modelId: string) => LanguageModel | Promise<LanguageModel>;

export interface AiSdkProviderOptions {
  /**
   * Retries of a request that failed before its first chunk with an error the backend calls
   * retryable (429, 408, 409, 5xx, a dropped connection). Default 2; 0 turns them off. A reply
   * that had begun is never retried: its text has reached the caller.
   */
  maxRetries?: number;
  /** The first backoff; each retry doubles it, with jitter (a random 50–100 % of it). Default 500 ms. */
  initialDelayMs?: number;
  /**
   * The longest wait before a retry. A `retry-after` asking for more gives up at once, with the
   * error, rather than hold the turn. Default 30 s. The request's signal (a turn's deadline)
   * cuts any wait short.
   */
  maxDelayMs?: number;
}

/**
 * An LlmProvider backed by any Vercel AI SDK language model: the SDK speaks the backend's HTTP
 * and stream format, this class maps its stream parts onto our chunks and its errors onto ours.
 * One model call per request: the calls the model asks for are handed out rather than run; the
 * caller runs them and sends the results back. A model of the SDK's provider specification v3
 * (every backend this package ships) is asked directly, with what `streamText` would send it
 * (see openModel); any other (an older provider's v2 model, a gateway id) through `streamText`,
 * its tools given without `execute` and one step run.
 * A reply's tool calls are handed out when its stream has finished (just before `done`), so a
 * stream cut mid-call fails as a whole instead of yielding half a call.
 * The `ai` package is imported only when needed (streamText), so a session that never calls a
 * remote model (and every host isolate that starts one) does not load it.
 */
export class AiSdkProvider implements LlmProvider {
  readonly name: string;
  private readonly makeModel: ModelFactory;
  private readonly maxRetries: number;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(name: string, makeModel: ModelFactory, options: AiSdkProviderOptions = {}) {
    this.name = name;
    this.makeModel = makeModel;
    this.maxRetries = options.maxRetries ?? 2;
    this.initialDelayMs = options.initialDelayMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 30_000;
  }

  /**
   * The reply's chunks through one hand-written iterator rather than two nested async
   * generators (retries around an attempt): a generator's yield costs promises and microtask
   * hops per chunk, and two of them per part came to about a twentieth of a local 20-token turn.
   * Nothing runs before the first `next()`, so every failure (a malformed request included) is
   * thrown from the iterator.
   */
  stream(request: LlmRequest): AsyncIterableIterator<LlmChunk> {
    return new SdkChunks(this, request);
  }

  /** Backoff with jitter, or the server's `retry-after`; undefined when that asks too long a wait. */
  delayBefore(attempt: number, cause: unknown): number | undefined {
    const asked = retryAfterMs(cause);
    if (asked !== undefined) return asked <= this.maxDelayMs ? asked : undefined;
    const backoff = Math.min(this.maxDelayMs, this.initialDelayMs * 2 ** attempt);
    return backoff * (0.5 + Math.random() / 2);
  }

  /** Whether a failure of attempt `attempt` (counted from 0) that handed out nothing is tried again. */
  retries(attempt: number, error: unknown): boolean {
    return attempt < this.maxRetries && error instanceof LlmProviderError && error.retryable;
  }

  wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const aborted = () => {
        clearTimeout(timer);
        reject(new LlmAbortedError(this.name, signal?.reason));
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", aborted);
        resolve();
      }, ms);
      signal?.addEventListener("abort", aborted, { once: true });
    });
  }

  /**
   * One attempt's request: the model's own stream of parts (a specification v3 model, as every
   * backend this package ships makes), or for any other model the stream of parts of the SDK's
   * `streamText` (see openModel).
   */
  async open(request: LlmRequest): Promise<Attempt> {
    const model = await this.makeModel(request.model);
    if (isModelV3(model)) {
      const modelInfo = { provider: model.provider, model: model.modelId };
      return { parts: await this.openModel(model, request), direct: true, modelInfo };
    }
    return { parts: await this.openStreamText(model, request), direct: false };
  }

  /**
   * The model asked directly (`doStream`), with the prompt, tools and settings `streamText`
   * would give it for this request: the same request on the wire, the same parts back, without
   * the layers of streams, promises and callbacks `streamText` puts around one model call (they
   * cost as much CPU as a whole local 20-token turn). Its failure to start (an HTTP error status)
   * is the provider's error, as `streamText` hands it out as an error part.
   */
  private async openModel(model: ModelV3, request: LlmRequest): Promise<AsyncIterator<ModelPart>> {
    const { signal } = request;
    const missing = unansweredCalls(request.messages);
    if (missing.length > 0) {
      sdk ??= await import("ai");
      throw this.failure(new sdk.MissingToolResultsError({ toolCallIds: missing }), signal);
    }
    let stream: ReadableStream<ModelPart>;
    try {
      // The keys streamText sets to undefined are left out (the same to a model).
      const options: ModelCallOptions = {
        prompt: modelPromptOf(request.messages),
        includeRawChunks: false,
      };
      if (request.maxTokens !== undefined) options.maxOutputTokens = request.maxTokens;
      if (request.temperature !== undefined) options.temperature = request.temperature;
      if (request.tools?.length) {
        options.tools = modelToolsOf(request.tools);
        options.toolChoice = { type: "auto" };
      }
      if (signal) options.abortSignal = signal;
      ({ stream } = await model.doStream(options));
    } catch (error) {
      throw this.failure(error, signal);
    }
    const reader = stream.getReader();
    return {
      next: () => reader.read() as Promise<IteratorResult<ModelPart>>,
      return: () => reader.cancel().then(() => ({ done: true, value: undefined })),
    };
  }

  /** Any other model, through `streamText`: the SDK's stream of parts. */
  private async openStreamText(model: LanguageModel, request: LlmRequest): Promise<AsyncIterator<SdkPart>> {
    sdk ??= await import("ai");
    const result = sdk.streamText(await streamTextArgsOf(model, request));
    return result.fullStream[Symbol.asyncIterator]();
  }

  failure(error: unknown, signal: AbortSignal | undefined): Error {
    if (signal?.aborted) return new LlmAbortedError(this.name, signal.reason);
    return new LlmProviderError(this.name, describeFailure(error), {
      retryable: isRetryable(error),
      cause: error,
    });
  }
}

/** The AI SDK, once loaded: `import()` of a loaded module still costs a trip through the loader. */
let sdk: typeof import("ai") | undefined;

/**
 * What `streamText` is given for `request`: one model call (the caller runs the tools), retried
 * by the provider rather than the SDK. @internal Exported for the test that checks a v3 model
 * is asked directly with what `streamText` would ask it.
 */
export async function streamTextArgsOf(model: LanguageModel, request: LlmRequest) {
  const { signal } = request;
  sdk ??= await import("ai");
  const system = systemOf(request.messages);
  const tools = request.tools?.length ? await toolSetOf(request.tools) : undefined;
  return {
    model,
    ...(system ? { system } : {}),
    messages: modelMessagesOf(request.messages),
    ...(tools ? { tools } : {}),
    // One model call per request (the SDK's default, stated): the caller runs the tools.
    stopWhen: sdk.stepCountIs(1),
    ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
    ...(request.maxTokens !== undefined ? { maxOutputTokens: request.maxTokens } : {}),
    ...(signal ? { abortSignal: signal } : {}),
    // Retried here instead, where jitter, the wait's limit and the signal are ours to set.
    maxRetries: 0,
    // Failures reach the caller as the stream's error part; the SDK's default prints them.
    onError: () => {},
  };
}

type SdkPart = TextStreamPart<ToolSet>;

/** A model of the SDK's provider specification v3, and what its `doStream` takes and streams. */
type ModelV3 = Extract<LanguageModel, { specificationVersion: "v3" }>;
type ModelCallOptions = Parameters<ModelV3["doStream"]>[0];
type ModelPart =
  Awaited<ReturnType<ModelV3["doStream"]>>["stream"] extends ReadableStream<infer P> ? P : never;
type ModelMessageV3 = ModelCallOptions["prompt"][number];

/** One attempt's parts: the model's own (`direct`) or `streamText`'s. */
interface Attempt {
  parts: AsyncIterator<SdkPart> | AsyncIterator<ModelPart>;
  direct: boolean;
  /** For the warnings the model's stream starts with. */
  modelInfo?: { provider: string; model: string };
}

function isModelV3(model: LanguageModel): model is ModelV3 {
  return typeof model === "object" && model !== null && model.specificationVersion === "v3";
}

const DONE: IteratorResult<LlmChunk> = Object.freeze({ done: true, value: undefined });

/**
 * One request's chunks: its attempts (a failure before anything was handed out is retried, see
 * AiSdkProvider), the SDK's parts mapped onto chunks. A reply's tool calls are held until its
 * stream has finished, then handed out with `done`, so a stream cut mid-call fails as a whole.
 */
class SdkChunks implements AsyncIterableIterator<LlmChunk> {
  private parts: AsyncIterator<SdkPart> | AsyncIterator<ModelPart> | undefined;
  /** Whether `parts` are the model's own (see AiSdkProvider.open). */
  private direct = false;
  private modelInfo = { provider: "", model: "" };
  private attempt = 0;
  /** Whether this attempt has handed out a chunk: a reply that had begun is never retried. */
  private begun = false;
  private validated = false;
  private finished = false;
  private readonly calls: (LlmToolCall & { invalid: boolean })[] = [];
  /** The chunks after the reply's finish: its calls, then `done`; handed out once the stream ends. */
  private ending: LlmChunk[] | undefined;
  /** The stream has ended: what is left is `ending`. */
  private drained = false;

  constructor(
    private readonly provider: AiSdkProvider,
    private readonly request: LlmRequest,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  /**
   * Past the reply's first chunk nothing is retried, so each chunk is read with one `then` on
   * the SDK's stream rather than through the attempts' async functions, which cost three
   * promises and their microtask hops per chunk (some 26 parts a 20-token reply).
   */
  next(): Promise<IteratorResult<LlmChunk>> {
    if (this.finished) return Promise.resolve(DONE);
    if (!this.begun) return this.first();
    if (this.drained) return Promise.resolve(this.endingResult());
    return (this.parts as AsyncIterator<SdkPart | ModelPart>).next().then(this.onPart, this.onFailure);
  }

  /** Stops reading: the SDK's stream is cancelled if it was still being read (an abort, a break). */
  async return(): Promise<IteratorResult<LlmChunk>> {
    if (!this.finished) {
      this.finished = true;
      this.cancel();
    }
    return DONE;
  }

  private cancel(): void {
    const parts = this.parts;
    this.parts = undefined;
    if (parts && !this.drained) Promise.resolve(parts.return?.()).catch(() => {});
  }

  /** The first chunk, through the attempts (see AiSdkProvider.retries). */
  private async first(): Promise<IteratorResult<LlmChunk>> {
    try {
      const chunk = await this.pull();
      if (chunk !== undefined) return { done: false, value: chunk };
      this.finished = true;
      return DONE;
    } catch (error) {
      return this.onFailure(error);
    }
  }

  /** A part read past the first chunk: its chunk, or the next part's when it carries none. */
  private readonly onPart = (
    next: IteratorResult<SdkPart | ModelPart>,
  ): IteratorResult<LlmChunk> | Promise<IteratorResult<LlmChunk>> => {
    let chunk: LlmChunk | undefined;
    try {
      chunk = this.take(next);
    } catch (error) {
      return this.onFailure(error);
    }
    if (chunk !== undefined) return { done: false, value: chunk };
    if (this.drained) return this.endingResult();
    if (this.finished) return DONE;
    return (this.parts as AsyncIterator<SdkPart | ModelPart>).next().then(this.onPart, this.onFailure);
  };

  /** Ends the iterator with the error. */
  private readonly onFailure = (error: unknown): never => {
    this.finished = true;
    this.cancel();
    throw this.asFailure(error);
  };

  /**
   * A read of the model's own stream that failed (the connection dropped, the request was
   * aborted) as the provider's error, as `streamText` hands it out as an error part.
   */
  private asFailure(error: unknown): unknown {
    if (!this.direct || error instanceof LlmProviderError || error instanceof LlmAbortedError) return error;
    return this.provider.failure(error, this.request.signal);
  }

  /** What follows the stream's end: the reply's calls and `done`, then the iterator's end. */
  private endingResult(): IteratorResult<LlmChunk> {
    const chunk = this.ending?.shift();
    if (chunk !== undefined) return { done: false, value: chunk };
    this.finished = true;
    return DONE;
  }

  /** The next chunk, through the attempts; undefined at the reply's end. */
  private async pull(): Promise<LlmChunk | undefined> {
    const { provider, request } = this;
    const { signal } = request;
    if (!this.validated) {
      validateRequest(request);
      this.validated = true;
    }
    for (;;) {
      try {
        if (this.parts === undefined) {
          if (signal?.aborted) throw new LlmAbortedError(provider.name, signal.reason);
          const attempt = await provider.open(request);
          this.parts = attempt.parts;
          this.direct = attempt.direct;
          if (attempt.modelInfo) this.modelInfo = attempt.modelInfo;
        }
        const chunk = await this.read();
        if (chunk !== undefined) this.begun = true;
        return chunk;
      } catch (caught) {
        const error = this.asFailure(caught);
        if (this.begun || !provider.retries(this.attempt, error)) throw error;
        const delay = provider.delayBefore(this.attempt, (error as LlmProviderError).cause);
        if (delay === undefined) throw error;
        this.cancel();
        this.calls.length = 0;
        this.ending = undefined;
        this.drained = false;
        await provider.wait(delay, signal);
        this.attempt++;
      }
    }
  }

  /** This attempt's next chunk: parts that carry none (starts, ends, steps) are read past. */
  private async read(): Promise<LlmChunk | undefined> {
    const parts = this.parts as AsyncIterator<SdkPart | ModelPart>;
    while (!this.drained) {
      const chunk = this.take(await parts.next());
      if (chunk !== undefined) return chunk;
    }
    return this.ending?.shift();
  }

  /**
   * One part of the SDK's stream: its chunk, or undefined for a part that carries none (a
   * call is held for the ending, the finish makes the ending). At the stream's end, `drained`.
   */
  private take(next: IteratorResult<SdkPart | ModelPart>): LlmChunk | undefined {
    const { provider, request } = this;
    const { signal } = request;
    // Once aborted, nothing more is handed out, whatever the SDK still had buffered.
    if (signal?.aborted) throw new LlmAbortedError(provider.name, signal.reason);
    if (next.done) {
      this.drained = true;
      if (!this.ending)
        throw new LlmProviderError(provider.name, "the model's stream ended without finishing");
      return undefined;
    }
    if (this.direct) return this.takeModelPart(next.value as ModelPart);
    const part = next.value as SdkPart;
    switch (part.type) {
      case "text-delta":
        if (part.text.length > 0) return { type: "delta", text: part.text };
        break;
      case "tool-call":
        // Invalid: a tool not offered, or arguments that are not JSON (`input` is then their
        // text). Handed out all the same, so the caller can tell the model what was wrong.
        this.calls.push({
          id: part.toolCallId,
          name: part.toolName,
          input: part.input,
          invalid: part.invalid === true,
        });
        break;
      case "finish":
        this.ending = endingOf(
          provider.name,
          part.finishReason,
          part.rawFinishReason,
          part.totalUsage,
          this.calls,
        );
        // Read on to the stream's own end (the finish is its last part) rather than cancel
        // it: a cancelled response body costs the connection its reuse.
        break;
      case "abort":
        throw new LlmAbortedError(provider.name, signal?.reason ?? part.reason);
      case "error":
        throw provider.failure(part.error, signal);
      // `tool-error` (the SDK's note on an invalid call) and the rest carry nothing of ours.
    }
    return undefined;
  }

  /**
   * One part of the model's own stream, as `streamText` would hand it out, then as `take` does:
   * a call's input is parsed here (as the SDK parses it), the finish's reason and usage read
   * from the specification's shapes, the warnings logged (as the SDK logs them).
   */
  private takeModelPart(part: ModelPart): LlmChunk | undefined {
    const { provider, request } = this;
    switch (part.type) {
      case "text-delta":
        if (part.delta.length > 0) return { type: "delta", text: part.delta };
        break;
      case "tool-call": {
        const offered = request.tools?.some((t) => t.name === part.toolName) === true;
        const { input, invalid } = callInputOf(part.input, offered);
        this.calls.push({ id: part.toolCallId, name: part.toolName, input, invalid });
        break;
      }
      case "finish":
        this.ending = endingOf(
          provider.name,
          part.finishReason.unified,
          part.finishReason.raw,
          { inputTokens: part.usage.inputTokens.total, outputTokens: part.usage.outputTokens.total },
          this.calls,
        );
        break;
      case "stream-start":
        logWarnings(part.warnings, this.modelInfo);
        break;
      case "error":
        throw provider.failure(part.error, request.signal);
      // The rest (starts and ends of text, call inputs in pieces, reasoning, metadata) carry nothing of ours.
    }
    return undefined;
  }
}

/**
 * The model's prompt as `streamText` makes it (convertToLanguageModelPrompt) from
 * `modelMessagesOf(messages)` with the system messages as its `system`: the system first, and
 * a user's or assistant's text as a text part.
 */
function modelPromptOf(messages: readonly LlmMessage[]): ModelMessageV3[] {
  const system = systemOf(messages);
  const out: ModelMessageV3[] = system ? [{ role: "system", content: system }] : [];
  for (const m of modelMessagesOf(messages)) {
    if (typeof m.content === "string" && (m.role === "user" || m.role === "assistant"))
      out.push({ role: m.role, content: [{ type: "text", text: m.content }] });
    // The SDK's message parts here are the model's prompt parts (text, tool-call, tool-result).
    else out.push(m as ModelMessageV3);
  }
  return out;
}

/** The system messages as one `system` text, as both paths give it. */
function systemOf(messages: readonly LlmMessage[]): string {
  return messages
    .filter((m) => m.role === "system")
    .map((m) => m.content)
    .join("\n\n");
}

/** Our tools as the model's function tools, as `streamText` gives it the ones toolSetOf makes. */
function modelToolsOf(tools: readonly LlmToolDefinition[]): NonNullable<ModelCallOptions["tools"]> {
  return tools.map((t) => ({
    type: "function" as const,
    name: t.name,
    description: t.description,
    inputSchema: t.inputSchema,
  }));
}

/**
 * The ids of the calls an assistant message asked for that no tool message answers before the
 * next user message or the end, which `streamText` refuses (MissingToolResultsError).
 */
function unansweredCalls(messages: readonly LlmMessage[]): string[] {
  const open = new Set<string>();
  for (const m of messages) {
    if (m.role === "assistant") for (const call of m.toolCalls ?? []) open.add(call.id);
    else if (m.role === "tool") open.delete(m.toolCallId);
    else if (m.role === "user" && open.size > 0) break;
  }
  return [...open];
}

/**
 * A call's input as the SDK parses it (parseToolCall): for a tool offered, empty text is `{}`
 * and JSON text its value, anything else invalid with its text as the input; a tool not offered
 * is invalid, with the value of its JSON text if it is JSON.
 */
function callInputOf(text: string, offered: boolean): { input: unknown; invalid: boolean } {
  if (offered && text.trim() === "") return { input: {}, invalid: false };
  const parsed = parseJson(text);
  if (parsed === NOT_JSON) return { input: text, invalid: true };
  return { input: parsed, invalid: !offered };
}

const NOT_JSON = Symbol("not JSON");

/**
 * JSON.parse as the SDK's secure parse: text that is not JSON, or whose objects have a
 * `__proto__` key or a `constructor` key holding an object with a `prototype` key, is NOT_JSON.
 */
function parseJson(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return NOT_JSON;
  }
  if (!text.includes("__proto__") && !text.includes("constructor")) return value;
  const pending: unknown[] = [value];
  const has = (o: object, key: string) => Object.hasOwn(o, key);
  while (pending.length > 0) {
    const node = pending.pop();
    if (typeof node !== "object" || node === null) continue;
    if (has(node, "__proto__")) return NOT_JSON;
    const ctor = (node as { constructor?: unknown }).constructor;
    if (has(node, "constructor") && typeof ctor === "object" && ctor !== null && has(ctor, "prototype"))
      return NOT_JSON;
    for (const key of Object.keys(node)) pending.push((node as Record<string, unknown>)[key]);
  }
  return value;
}

type ModelWarning = Extract<ModelPart, { type: "stream-start" }>["warnings"][number];

let warnedBefore = false;

/** The model's warnings, logged as the SDK logs them (AI_SDK_LOG_WARNINGS: false, a function, or the console). */
function logWarnings(warnings: readonly ModelWarning[], info: { provider: string; model: string }): void {
  if (warnings.length === 0) return;
  const logger = (globalThis as { AI_SDK_LOG_WARNINGS?: unknown }).AI_SDK_LOG_WARNINGS;
  if (logger === false) return;
  if (typeof logger === "function") {
    (logger as LogWarningsFunction)({ warnings: [...warnings], ...info });
    return;
  }
  if (!warnedBefore) {
    warnedBefore = true;
    console.info(
      "AI SDK Warning System: To turn off warning logging, set the AI_SDK_LOG_WARNINGS global to false.",
    );
  }
  const prefix = `AI SDK Warning (${info.provider} / ${info.model}):`;
  for (const warning of warnings) {
    const details = "details" in warning && warning.details ? ` ${warning.details}` : "";
    switch (warning.type) {
      case "unsupported":
        console.warn(`${prefix} The feature "${warning.feature}" is not supported.${details}`);
        break;
      case "compatibility":
        console.warn(`${prefix} The feature "${warning.feature}" is used in a compatibility mode.${details}`);
        break;
      case "other":
        console.warn(`${prefix} ${warning.message}`);
        break;
      default:
        console.warn(`${prefix} ${JSON.stringify(warning, null, 2)}`);
    }
  }
}

/** The chunks a reply's finish part ends it with: its whole calls, then `done`. */
function endingOf(
  name: string,
  finishReason: string,
  rawFinishReason: string | undefined,
  usage: { inputTokens: number | undefined; outputTokens: number | undefined },
  calls: (LlmToolCall & { invalid: boolean })[],
): LlmChunk[] {
  // No finish reason from the model: its stream was cut short (the OpenAI and Anthropic
  // adapters report that as "other"; the OpenAI-compatible one as an error part).
  if (finishReason === "other" && rawFinishReason === undefined) {
    throw new LlmProviderError(name, "the model's stream ended without a finish reason");
  }
  // A call cut short by the token limit is half a call: only whole ones are handed out.
  const asked = finishReason === "length" ? calls.filter((c) => !c.invalid) : calls;
  return [
    ...asked.map(
      (call): LlmChunk => ({ type: "tool_call", id: call.id, name: call.name, input: call.input }),
    ),
    {
      type: "done",
      stopReason: asked.length > 0 ? "tool_calls" : stopReasonOf(finishReason),
      usage: { inputTokens: usage.inputTokens ?? 0, outputTokens: usage.outputTokens ?? 0 },
    },
  ];
}

function stopReasonOf(reason: string): LlmStopReason {
  return reason === "length" ? "max_tokens" : "end";
}

/** Our tools as the SDK's, without `execute`: a call comes back to us instead of being run. */
async function toolSetOf(tools: readonly LlmToolDefinition[]): Promise<ToolSet> {
  const { tool, jsonSchema } = await import("ai");
  type Schema = Parameters<typeof jsonSchema>[0];
  return Object.fromEntries(
    tools.map((t) => [
      t.name,
      tool({
        description: t.description,
        inputSchema: jsonSchema<Record<string, unknown>>(t.inputSchema as Schema),
      }),
    ]),
  );
}

/**
 * Our messages as the SDK's, system messages left out (they go as `system`): an assistant's
 * tool calls become `tool-call` parts after its text (an input that is not an object as `{}`), and a run of tool results one `tool`
 * message of `tool-result` parts (an error as `error-text`, which Anthropic sends with
 * `is_error`).
 */
export function modelMessagesOf(messages: readonly LlmMessage[]): ModelMessage[] {
  const out: ModelMessage[] = [];
  for (const m of messages) {
    switch (m.role) {
      case "system":
        break;
      case "user":
        out.push({ role: "user", content: m.content });
        break;
      case "assistant": {
        const calls = m.toolCalls ?? [];
        if (calls.length === 0) {
          out.push({ role: "assistant", content: m.content });
          break;
        }
        out.push({
          role: "assistant",
          content: [
            ...(m.content.length > 0 ? [{ type: "text" as const, text: m.content }] : []),
            ...calls.map((call) => ({
              type: "tool-call" as const,
              toolCallId: call.id,
              toolName: call.name,
              // Arguments that were not a JSON object (the model's broken JSON, handed out as
              // text) go back as {}, as the SDK's own history does: Anthropic takes no other.
              input: isObject(call.input) ? call.input : {},
            })),
          ],
        });
        break;
      }
      case "tool": {
        const part: ToolResultPart = {
          type: "tool-result",
          toolCallId: m.toolCallId,
          toolName: m.toolName,
          output: m.isError ? { type: "error-text", value: m.content } : { type: "text", value: m.content },
        };
        const previous = out.at(-1);
        if (previous?.role === "tool") previous.content.push(part);
        else out.push({ role: "tool", content: [part] });
        break;
      }
    }
  }
  return out;
}

/** The SDK's APICallError (status, retryable) and RetryError (the last attempt's) without importing them. */
function lastAttempt(error: unknown): unknown {
  const errors = (error as { errors?: unknown[] } | undefined)?.errors;
  return Array.isArray(errors) && errors.length > 0 ? errors.at(-1) : error;
}

/** `retry-after-ms`, or `retry-after` in seconds or as a date, from an APICallError's headers. */
function retryAfterMs(error: unknown): number | undefined {
  const headers = (lastAttempt(error) as { responseHeaders?: Record<string, string> } | undefined)
    ?.responseHeaders;
  if (!headers) return undefined;
  const ms = Number.parseFloat(headers["retry-after-ms"] ?? "");
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const after = headers["retry-after"];
  if (after === undefined) return undefined;
  const seconds = Number.parseFloat(after);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(after);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function isRetryable(error: unknown): boolean {
  return (lastAttempt(error) as { isRetryable?: unknown } | undefined)?.isRetryable === true;
}

function describeFailure(error: unknown): string {
  const last = lastAttempt(error) as { statusCode?: unknown; message?: unknown } | undefined;
  const message = error instanceof Error ? error.message : String(error);
  return typeof last?.statusCode === "number" ? `HTTP ${last.statusCode}: ${message}` : message;
}

function isObject(value: unknown): boolean {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
