import type { LlmProvider, LlmUsage } from "../llm/index.js";
import { type From, GenServer, InvalidArgumentError, NoReply } from "../runtime/index.js";
import type { AgentArgs } from "./context-manager.js";
import type { BuiltContext, ConversationTurn } from "./context-state.js";
import { err, ok, publish, type Result, SESSION_MANAGER_NAME, unwrap } from "./deps.js";
import { TurnQueueFullError } from "./errors.js";
import { sessionKeys } from "./session-id.js";

export interface TurnReply {
  turnId: string;
  text: string;
  usage: LlmUsage;
  stopReason: string;
}

export type OrchestratorCall = { op: "send"; text: string } | { op: "status" };
type TurnFinished = { type: "turn_finished"; from: From<Result<unknown>>; result: Result<TurnReply> };

export const MAX_MESSAGE_LENGTH = 100_000;

/**
 * Runs a session's conversation turns, one at a time: a message that arrives during a turn
 * waits in a bounded queue. The model call runs outside the mailbox so that the orchestrator
 * keeps answering (and refusing when the queue is full) while a reply streams in.
 */
export class LlmOrchestrator extends GenServer<
  OrchestratorCall,
  Result<unknown>,
  never,
  TurnFinished,
  AgentArgs
> {
  private args!: AgentArgs;
  private provider!: LlmProvider;
  private inFlight = false;
  private readonly queue: { from: From<Result<unknown>>; text: string }[] = [];

  override init(args: AgentArgs): void {
    this.args = args;
    const llm = args.config.llm;
    this.provider = args.deps.providers.create(llm.provider, llm);
    args.deps.registry.register(sessionKeys(args.sessionId).orchestrator, this.self);
  }

  override handleCall(
    message: OrchestratorCall,
    from: From<Result<unknown>>,
  ): Result<unknown> | typeof NoReply {
    if (message?.op === "status") return ok({ inFlight: this.inFlight, queued: this.queue.length });
    if (message?.op !== "send")
      return err(new TypeError(`unknown LLMOrchestrator request ${JSON.stringify(message)}`));
    const text = message.text;
    if (typeof text !== "string" || text.trim().length === 0 || text.length > MAX_MESSAGE_LENGTH) {
      return err(
        new InvalidArgumentError(
          "message",
          `must be non-empty text of at most ${MAX_MESSAGE_LENGTH} characters`,
        ),
      );
    }
    this.cast(SESSION_MANAGER_NAME, { op: "activity", id: this.args.sessionId });
    if (this.inFlight) {
      const max = this.args.config.limits.maxQueuedTurns;
      if (this.queue.length >= max) return err(new TurnQueueFullError(this.args.sessionId, max));
      this.queue.push({ from, text });
      return NoReply;
    }
    this.startTurn(from, text);
    return NoReply;
  }

  override handleInfo(message: TurnFinished): void {
    if (message?.type !== "turn_finished") return;
    message.from.reply(message.result);
    this.inFlight = false;
    const next = this.queue.shift();
    if (next) this.startTurn(next.from, next.text);
  }

  private startTurn(from: From<Result<unknown>>, text: string): void {
    this.inFlight = true;
    void this.runTurn(text).then((result) => this.send(this.self, { type: "turn_finished", from, result }));
  }

  /** Never throws: every failure becomes an error result for the caller and an llm_error event. */
  private async runTurn(text: string): Promise<Result<TurnReply>> {
    const { sessionId, deps, config } = this.args;
    const contextManager = sessionKeys(sessionId).contextManager;
    let turnId = "";
    try {
      const userTurn = unwrap(
        (await this.call(contextManager, {
          op: "append",
          role: "user",
          content: text,
        })) as Result<ConversationTurn>,
      );
      turnId = userTurn.id;
      publish(deps, { type: "turn_started", sessionId, turnId, queued: this.queue.length });
      const context = unwrap(
        (await this.call(contextManager, { op: "build_context" })) as Result<BuiltContext>,
      );
      let reply = "";
      let usage: LlmUsage = { inputTokens: 0, outputTokens: 0 };
      let stopReason = "end";
      for await (const chunk of this.provider.stream({
        model: config.llm.model,
        messages: context.messages,
        temperature: config.llm.temperature,
        maxTokens: config.llm.maxTokens,
      })) {
        if (!this.runtime.isAlive(this.self)) throw new Error("the orchestrator exited during the turn");
        if (chunk.type === "delta") {
          reply += chunk.text;
          publish(deps, { type: "llm_delta", sessionId, turnId, text: chunk.text });
        } else {
          usage = chunk.usage;
          stopReason = chunk.stopReason;
        }
      }
      unwrap(
        (await this.call(contextManager, {
          op: "append",
          role: "assistant",
          content: reply,
        })) as Result<unknown>,
      );
      publish(deps, { type: "llm_done", sessionId, turnId, text: reply, usage, stopReason });
      return ok({ turnId, text: reply, usage, stopReason });
    } catch (error) {
      if (this.runtime.isAlive(this.self)) {
        publish(deps, {
          type: "llm_error",
          sessionId,
          turnId,
          error: error instanceof Error ? error.message : String(error),
        });
      }
      return err(error);
    }
  }
}
