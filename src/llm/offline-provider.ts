import { setTimeout as sleep } from "node:timers/promises";
import { InvalidArgumentError } from "../errors.js";
import { offlineReply } from "./offline-answer.js";
import {
  LlmAbortedError,
  type LlmChunk,
  type LlmMessage,
  type LlmProvider,
  LlmProviderError,
  type LlmRequest,
  validateRequest,
} from "./provider.js";
import { estimateTokens } from "./tokens.js";

export interface OfflineProviderOptions {
  /**
   * Pause between streamed words, so a person (or a test) can watch the stream. Default 0:
   * no timer at all, and a whole reply streams within one turn of the event loop.
   */
  chunkDelayMs?: number;
  /**
   * Makes a request fail, for testing callers. An `LlmProviderError` is thrown as it is (so a
   * test can choose `retryable`); any other error is wrapped in a non-retryable one.
   */
  failOn?: (request: LlmRequest) => Error | undefined;
}

/**
 * The embedded default model: no network, and the same request always gets the same answer
 * (see `offlineReply` for what it says, tool calls included). The reply streams one word per
 * delta, then its tool calls, one chunk each.
 */
export class OfflineProvider implements LlmProvider {
  readonly name = "offline";
  private readonly chunkDelayMs: number;
  private readonly failOn: OfflineProviderOptions["failOn"];

  constructor(options: OfflineProviderOptions = {}) {
    const delay = options.chunkDelayMs ?? 0;
    if (!(Number.isFinite(delay) && delay >= 0))
      throw new InvalidArgumentError("chunkDelayMs", "must be a non-negative number of milliseconds");
    this.chunkDelayMs = delay;
    this.failOn = options.failOn;
  }

  stream(request: LlmRequest): AsyncIterableIterator<LlmChunk> {
    return this.chunkDelayMs > 0
      ? this.paced(request)
      : new ReadyChunks(() => this.reply(request), request?.signal);
  }

  /** The reply's chunks, deltas then `done`; throws what the request must fail with. */
  private reply(request: LlmRequest): LlmChunk[] {
    validateRequest(request);
    const { signal } = request;
    this.throwIfAborted(signal);
    const failure = this.failOn?.(request);
    if (failure) {
      throw failure instanceof LlmProviderError
        ? failure
        : new LlmProviderError(this.name, failure.message, { cause: failure });
    }
    let inputTokens = 0;
    for (const message of request.messages) inputTokens += tokensOf(message);
    const reply = offlineReply(request.model, request.messages, request.tools);
    const { chunks, truncated } = fitToTokenBudget(reply.text, splitIntoWords(reply.text), request.maxTokens);
    const out: LlmChunk[] = chunks.map((text) => ({ type: "delta", text }));
    // The words join back to exactly the reply's text (see splitIntoWords) unless it was cut.
    let outputTokens = estimateTokens(truncated ? chunks.join("") : reply.text);
    // A reply cut by the token limit never reaches its calls, as a real model's would not.
    const calls = truncated ? [] : reply.toolCalls;
    for (const call of calls) {
      out.push({ type: "tool_call", id: call.id, name: call.name, input: call.input });
      outputTokens += estimateTokens(call.name + (JSON.stringify(call.input) ?? ""));
    }
    out.push({
      type: "done",
      stopReason: truncated ? "max_tokens" : calls.length > 0 ? "tool_calls" : "end",
      usage: { inputTokens, outputTokens },
    });
    return out;
  }

  /** With a pause between words: the same chunks, the signal checked before each. */
  private async *paced(request: LlmRequest): AsyncGenerator<LlmChunk> {
    const chunks = this.reply(request);
    const { signal } = request;
    for (let i = 0; i < chunks.length; i++) {
      if (i > 0 && i < chunks.length - 1) await this.pause(signal);
      this.throwIfAborted(signal);
      yield chunks[i] as LlmChunk;
    }
  }

  private async pause(signal: AbortSignal | undefined): Promise<void> {
    try {
      // The signal cancels the timer too, so an abort ends the stream at once, not a delay later.
      await sleep(this.chunkDelayMs, undefined, { signal });
    } catch (error) {
      this.throwIfAborted(signal);
      throw error;
    }
  }

  private throwIfAborted(signal: AbortSignal | undefined): void {
    if (signal?.aborted) throw new LlmAbortedError(this.name, signal.reason);
  }
}

/**
 * Chunks known in full before the first is asked for (no pause between them), handed out one
 * per `next()` with the signal checked before each, as the paced generator does, without an
 * async generator's extra awaits per chunk. `make` runs at the first `next()`, so that every
 * failure, a malformed request included, is thrown from the iterator.
 */
class ReadyChunks implements AsyncIterableIterator<LlmChunk> {
  private chunks: LlmChunk[] | undefined;
  private next_ = 0;
  private finished = false;

  constructor(
    private readonly make: () => LlmChunk[],
    private readonly signal?: AbortSignal,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<LlmChunk>> {
    if (this.finished) return Promise.resolve({ done: true, value: undefined });
    try {
      this.chunks ??= this.make();
      if (this.signal?.aborted) throw new LlmAbortedError("offline", this.signal.reason);
      const chunk = this.chunks[this.next_++];
      if (chunk) return Promise.resolve({ done: false, value: chunk });
    } catch (error) {
      this.finished = true;
      return Promise.reject(error);
    }
    this.finished = true;
    return Promise.resolve({ done: true, value: undefined });
  }

  return(): Promise<IteratorResult<LlmChunk>> {
    this.finished = true;
    return Promise.resolve({ done: true, value: undefined });
  }
}

/** A message's token estimate: its text, and an assistant's tool calls (name and JSON input). */
function tokensOf(message: LlmMessage): number {
  let tokens = estimateTokens(message.content);
  // Most messages have no calls: no empty list made (and walked) for each, every turn.
  if (message.role === "assistant" && message.toolCalls !== undefined) {
    for (const call of message.toolCalls)
      tokens += estimateTokens(call.name + (JSON.stringify(call.input) ?? ""));
  }
  return tokens;
}

/** Word-sized pieces that join back to exactly `text`, whitespace included. */
function splitIntoWords(text: string): string[] {
  return text.match(/\s*\S+\s*|\s+/g) ?? [];
}

/**
 * The longest run of words that fits `maxTokens`, cutting the last word short if need be, as
 * a real model stops mid-word at its token limit.
 */
function fitToTokenBudget(
  /** The words' whole text (they join back to it). */
  whole: string,
  words: string[],
  maxTokens: number | undefined,
): { chunks: string[]; truncated: boolean } {
  // The estimate grows with the text, so a reply that fits whole fits word by word too.
  if (maxTokens === undefined || estimateTokens(whole) <= maxTokens)
    return { chunks: words, truncated: false };
  const chunks: string[] = [];
  let text = "";
  for (const word of words) {
    if (estimateTokens(text + word) <= maxTokens) {
      chunks.push(word);
      text += word;
      continue;
    }
    let cut = word.length - 1;
    while (cut > 0 && estimateTokens(text + word.slice(0, cut)) > maxTokens) cut--;
    if (cut > 0) chunks.push(word.slice(0, cut));
    return { chunks, truncated: true };
  }
  return { chunks, truncated: false };
}
