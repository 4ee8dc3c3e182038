import { GenServer } from "../runtime/index.js";
import type { SessionConfig } from "./config.js";
import {
  type BuiltContext,
  type ContextSnapshot,
  ContextState,
  type ConversationTurn,
  type FileEntry,
  type TurnRole,
  type TurnStatus,
} from "./context-state.js";
import { err, ok, publish, type Result, type SessionDeps } from "./deps.js";
import { TurnInterruptedError } from "./errors.js";
import { sessionKeys } from "./session-id.js";

export interface AgentArgs {
  sessionId: string;
  config: SessionConfig;
  deps: SessionDeps;
}

export type ContextManagerCall =
  | { op: "append"; role: TurnRole; content: string; status?: ConversationTurn["status"] }
  /** Ends a user turn waiting for its reply (see ContextState.endTurn); `timeoutMs` for the event. */
  | { op: "end_turn"; turnId: string; status: TurnStatus; reply: string; timeoutMs?: number }
  /** Marks every user turn left without a reply `interrupted` (a restarted orchestrator asks). */
  | { op: "interrupt_unanswered" }
  | { op: "add_file"; path: string; metadata?: Record<string, unknown>; content?: unknown }
  | { op: "remove_file"; path: string }
  | { op: "build_context" }
  | { op: "history" }
  | { op: "files" };

/**
 * One session's conversation and working set. Every change is written to the store before it
 * is acknowledged, so a restarted ContextManager (after its own crash or its session's) comes
 * back with the conversation intact.
 */
export class ContextManager extends GenServer<ContextManagerCall, Result<unknown>, never, never, AgentArgs> {
  private sessionId = "";
  private config!: SessionConfig;
  private deps!: SessionDeps;
  private state!: ContextState;
  /** What the store holds: the state to fall back to when a write fails. */
  private committed: ContextSnapshot | undefined;

  override async init(args: AgentArgs): Promise<void> {
    this.sessionId = args.sessionId;
    this.config = args.config;
    this.deps = args.deps;
    const snapshot = (await this.deps.store.getConversation(this.sessionId)) as ContextSnapshot | undefined;
    this.committed = snapshot;
    this.state = snapshot
      ? ContextState.restore(snapshot, this.config.limits, this.sessionId)
      : new ContextState(this.config.limits);
    const interrupted = this.state.interruptUnanswered();
    if (interrupted.length > 0) await this.persist();
    this.deps.registry.register(sessionKeys(this.sessionId).contextManager, this.self);
    // Reported, never silently dropped: a turn a crash cut short stays in the history, marked.
    this.reportInterrupted(interrupted);
  }

  private reportInterrupted(turns: ConversationTurn[]): void {
    for (const turn of turns)
      publish(this.deps, { type: "turn_interrupted", sessionId: this.sessionId, turn });
  }

  override async handleCall(message: ContextManagerCall): Promise<Result<unknown>> {
    try {
      return ok(await this.handle(message));
    } catch (error) {
      return err(error);
    }
  }

  private async handle(message: ContextManagerCall): Promise<unknown> {
    switch (message?.op) {
      case "append": {
        const { turn } = this.state.append(message.role, message.content, this.deps.now(), message.status);
        await this.persist();
        publish(this.deps, { type: "message_added", sessionId: this.sessionId, turn });
        return turn;
      }
      case "end_turn":
        return this.endTurn(message);
      case "interrupt_unanswered": {
        const interrupted = this.state.interruptUnanswered();
        if (interrupted.length > 0) await this.persist();
        this.reportInterrupted(interrupted);
        return interrupted;
      }
      case "add_file": {
        const { dropped } = this.state.addFile(message.path, message.metadata ?? {}, this.deps.now());
        await this.persist();
        if (message.content !== undefined) {
          this.deps.contextStore.set(this.sessionId, message.path, message.content);
        }
        for (const path of dropped) this.deps.contextStore.delete(this.sessionId, path);
        publish(this.deps, {
          type: "context_updated",
          sessionId: this.sessionId,
          files: this.state.activeFiles(),
        });
        return this.state.activeFiles();
      }
      case "remove_file": {
        const removed = this.state.removeFile(message.path);
        this.deps.contextStore.delete(this.sessionId, message.path);
        if (removed) {
          await this.persist();
          publish(this.deps, {
            type: "context_updated",
            sessionId: this.sessionId,
            files: this.state.activeFiles(),
          });
        }
        return removed;
      }
      case "build_context":
        return this.state.buildContext({
          systemPrompt: this.config.llm.systemPrompt,
          tokenBudget: this.config.limits.contextTokenBudget,
        }) satisfies BuiltContext;
      case "history":
        return this.state.history();
      case "files":
        return { active: this.state.activeFiles(), index: this.state.fileIndex() satisfies FileEntry[] };
      default:
        throw new TypeError(`unknown ContextManager request ${JSON.stringify(message)}`);
    }
  }

  private async endTurn(message: Extract<ContextManagerCall, { op: "end_turn" }>): Promise<ConversationTurn> {
    const { turnId, status } = message;
    const ended = this.state.endTurn(turnId, status, message.reply, this.deps.now());
    if (!ended.ended) {
      // Someone ended it first (a restart marked it interrupted): a reply must not follow it.
      if (status === "complete") {
        throw new TurnInterruptedError(
          this.sessionId,
          turnId,
          "its context manager restarted before the reply was recorded",
        );
      }
      return ended.turn as ConversationTurn;
    }
    await this.persist();
    const { sessionId } = this;
    if (ended.reply) publish(this.deps, { type: "message_added", sessionId, turn: ended.reply });
    const turn = ended.turn as ConversationTurn;
    if (status === "interrupted") this.reportInterrupted([turn]);
    if (status === "timed_out")
      publish(this.deps, { type: "turn_timed_out", sessionId, turn, timeoutMs: message.timeoutMs ?? 0 });
    return turn;
  }

  /**
   * Writes the state; if the write fails, the state goes back to what the store holds, so a
   * failed write changes nothing and the caller gets the error.
   */
  private async persist(): Promise<void> {
    const next = this.state.snapshot();
    try {
      await this.deps.store.putConversation(this.sessionId, next as never);
      this.committed = next;
    } catch (error) {
      this.state = this.committed
        ? ContextState.restore(this.committed, this.config.limits, this.sessionId)
        : new ContextState(this.config.limits);
      throw error;
    }
  }
}
