import { ESTIMATE, type LlmUsage, type TokenCounter, tokenCounterFor } from "../llm/index.js";
import { GenServer } from "../runtime/index.js";
import type { ConversationChange, StoredJson } from "../store/index.js";
import type { McpServer } from "../tools/index.js";
import type { SessionConfig } from "./config.js";
import {
  type BuiltContext,
  type ContextSnapshot,
  ContextState,
  type ConversationTurn,
  type FileEntry,
  type ToolCallRecord,
  type TurnRole,
  type TurnStatus,
} from "./context-state.js";
import { err, ok, publish, type Result, SESSION_MANAGER_NAME, type SessionDeps } from "./deps.js";
import { TurnInterruptedError } from "./errors.js";
import { keysOf, type SessionKeys } from "./session-id.js";

/**
 * The conversation schema (zod), loaded when a conversation is first read from a store: a host's
 * session code reads conversations its parent checked, and never loads it.
 */
let schemaModule: Promise<typeof import("./conversation-schema.js")> | undefined;

function conversationSchema(): Promise<typeof import("./conversation-schema.js")> {
  schemaModule ??= import("./conversation-schema.js");
  return schemaModule;
}

export interface AgentArgs {
  sessionId: string;
  config: SessionConfig;
  deps: SessionDeps;
  /** The session's MCP servers (children of its supervisor, started before the orchestrator). */
  mcpServers?: readonly McpServer[];
  /**
   * A session just created: the store holds no conversation for it, so the first ContextManager
   * given these args starts empty without reading it (a restart with the same args reads it).
   */
  fresh?: boolean;
  /**
   * How many times each agent has started with these args (a supervisor restarts a child with
   * the same args): counted here, on an object the session has anyway, rather than in a table.
   */
  contextManagerStarts?: number;
  orchestratorStarts?: number;
  /** The session's registry keys, made once for all its processes (else each makes its own). */
  keys?: SessionKeys;
}

export type ContextManagerCall =
  | { op: "append"; role: TurnRole; content: string; status?: ConversationTurn["status"] }
  /** Ends a user turn waiting for its reply (see ContextState.endTurn); `timeoutMs` for the event. */
  | {
      op: "end_turn";
      turnId: string;
      status: TurnStatus;
      reply: string;
      timeoutMs?: number;
      usage?: LlmUsage;
    }
  /** Records the tool calls a step of the open turn asks for (see ContextState.recordCalls). */
  | { op: "record_calls"; turnId: string; text: string; calls: ToolCallRecord[] }
  /** Records one call's result (see ContextState.recordResult). */
  | {
      op: "record_result";
      turnId: string;
      callId: string;
      name: string;
      content: string;
      isError: boolean;
    }
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
 * back with the conversation intact. A change is written as what it changed (the turns added or
 * marked, the oldest dropped, the small fields beside them), one store commit per request, so a
 * turn costs the same however long the history.
 */
export class ContextManager extends GenServer<ContextManagerCall, Result<unknown>, never, never, AgentArgs> {
  /** The session's args, shared with its orchestrator: its id, config and deps are read from them. */
  private args!: AgentArgs;
  /**
   * Made at the first request when the session was new (see `state`): a session that is
   * created and never spoken to keeps no state of its own.
   */
  private loaded: ContextState | undefined = undefined;
  private counter: TokenCounter = ESTIMATE;
  /** Whether the store holds a conversation: until it does, a change writes every field. */
  private stored = false;
  /** The store holds turns older than the history keeps (its limit was lowered): drop them. */
  private trimPending = false;
  /**
   * A write failed: the state may hold a change the store refused, or (when only the answer was
   * lost, as across a host boundary) the store may hold it. Either way the state is read again
   * from the store, the truth, before the next request.
   */
  private stale = false;

  /**
   * Synchronous for a fresh session whose tokens are estimated: nothing to read, nothing to
   * mark, so the session's start does not wait for a promise here.
   */
  private get sessionId(): string {
    return this.args.sessionId;
  }

  private get config(): SessionConfig {
    return this.args.config;
  }

  private get deps(): SessionDeps {
    return this.args.deps;
  }

  override init(args: AgentArgs): void | Promise<void> {
    this.args = args;
    const starts = args.contextManagerStarts;
    if (starts !== undefined) args.contextManagerStarts = starts + 1;
    const fresh = args.fresh === true && starts === 0;
    const { tokenizer, provider, model } = args.config.llm;
    const counter = tokenCounterFor(tokenizer, provider, model);
    if (fresh && !(counter instanceof Promise)) {
      this.counter = counter;
      this.deps.registry.register(keysOf(args).contextManager, this.self);
      return;
    }
    return this.initFromStore(counter, keysOf(args));
  }

  private async initFromStore(
    counter: TokenCounter | Promise<TokenCounter>,
    keys: SessionKeys,
  ): Promise<void> {
    this.counter = counter instanceof Promise ? await counter : counter;
    await this.load();
    const interrupted = await this.interruptUnanswered();
    this.deps.registry.register(keys.contextManager, this.self);
    this.reportUsage();
    // Reported, never silently dropped: a turn a crash cut short stays in the history, marked.
    this.reportInterrupted(interrupted);
  }

  /** Marks the turns left unanswered and closes their open tool calls, in one write. */
  private async interruptUnanswered(): Promise<ConversationTurn[]> {
    const { marked, closed, dropped } = this.state.interruptUnanswered(this.deps.now());
    if (marked.length === 0 && closed.length === 0) return marked;
    const change = closed.length > 0 ? this.turnsAdded(closed, dropped, false) : {};
    await this.write({ ...change, replace: asStored(marked) });
    return marked;
  }

  /** Tells the manager the session's token totals (for its info), when there are any. */
  private reportUsage(): void {
    const usage = this.state.usageTotals();
    if (usage.inputTokens === 0 && usage.outputTokens === 0) return;
    this.cast(SESSION_MANAGER_NAME, { op: "usage", id: this.sessionId, usage });
  }

  /** Refuses a step of a turn that has ended (a restart marked it): nothing may follow its ending. */
  private refuseEnded(turnId: string): never {
    throw new TurnInterruptedError(
      this.sessionId,
      turnId,
      "its context manager restarted and marked it before this step was recorded",
    );
  }

  private reportInterrupted(turns: ConversationTurn[]): void {
    for (const turn of turns)
      publish(this.deps, { type: "turn_interrupted", sessionId: this.sessionId, turn });
  }

  /** The conversation and working set; an empty one until the store has said otherwise. */
  private get state(): ContextState {
    this.loaded ??= new ContextState(this.config.limits, this.counter);
    return this.loaded;
  }

  private async load(): Promise<void> {
    const { store } = this.deps;
    const { limits } = this.config;
    let snapshot: ContextSnapshot | undefined;
    if (store.getContextSnapshot) {
      // Checked already (a host's parent read it).
      snapshot = await store.getContextSnapshot(this.sessionId);
      this.loaded = snapshot
        ? ContextState.fromSnapshot(snapshot, limits, this.counter)
        : new ContextState(limits, this.counter);
    } else {
      const stored = (await store.getConversation(this.sessionId)) as ContextSnapshot | undefined;
      this.loaded = stored
        ? (await conversationSchema()).restoreContextState(stored, limits, this.sessionId, this.counter)
        : new ContextState(limits, this.counter);
      snapshot = stored;
    }
    this.stored = snapshot !== undefined;
    this.trimPending = snapshot !== undefined && snapshot.turns.length > this.state.turnCount();
    this.stale = false;
  }

  override handleCall(message: ContextManagerCall): Result<unknown> | Promise<Result<unknown>> {
    // A read is answered at once (a turn asks for its context every time); a change waits for
    // the store, and anything after a failed write for the state read again.
    if (!this.stale && isRead(message)) {
      try {
        return ok(this.read(message));
      } catch (error) {
        return err(error);
      }
    }
    return this.handleChange(message);
  }

  private async handleChange(message: ContextManagerCall): Promise<Result<unknown>> {
    try {
      if (this.stale) await this.load();
      return ok(await this.handle(message));
    } catch (error) {
      return err(error);
    }
  }

  private read(message: Extract<ContextManagerCall, { op: ReadOp }>): unknown {
    switch (message.op) {
      case "build_context":
        return this.state.buildContext({
          systemPrompt: this.config.llm.systemPrompt,
          tokenBudget: this.config.limits.contextTokenBudget,
        }) satisfies BuiltContext;
      case "history":
        return this.state.history();
      case "files":
        return { active: this.state.activeFiles(), index: this.state.fileIndex() satisfies FileEntry[] };
    }
  }

  private async handle(message: ContextManagerCall): Promise<unknown> {
    switch (message?.op) {
      case "append":
        return this.append(message.role, message.content, message.status);
      case "end_turn":
        return this.endTurn(message);
      case "interrupt_unanswered": {
        const interrupted = await this.interruptUnanswered();
        this.reportInterrupted(interrupted);
        return interrupted;
      }
      case "record_calls": {
        const added = this.state.recordCalls(message.turnId, message.text, message.calls, this.deps.now());
        if (!added) this.refuseEnded(message.turnId);
        await this.write(this.turnsAdded([added.turn], added.dropped, false));
        publish(this.deps, { type: "message_added", sessionId: this.sessionId, turn: added.turn });
        return added.turn;
      }
      case "record_result": {
        const added = this.state.recordResult(message.turnId, message, this.deps.now());
        if (!added) this.refuseEnded(message.turnId);
        await this.write(this.turnsAdded([added.turn], added.dropped, false));
        publish(this.deps, { type: "message_added", sessionId: this.sessionId, turn: added.turn });
        return added.turn;
      }
      case "add_file": {
        const { dropped } = this.state.addFile(message.path, message.metadata ?? {}, this.deps.now());
        await this.write({ set: this.state.fileFields() as unknown as ConversationChange["set"] });
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
          await this.write({ set: { activeFiles: this.state.activeFiles() } });
          publish(this.deps, {
            type: "context_updated",
            sessionId: this.sessionId,
            files: this.state.activeFiles(),
          });
        }
        return removed;
      }
      case "build_context":
      case "history":
      case "files":
        return this.read(message);
      default:
        throw new TypeError(`unknown ContextManager request ${JSON.stringify(message)}`);
    }
  }

  private async append(
    role: TurnRole,
    content: string,
    status: ConversationTurn["status"] | undefined,
  ): Promise<ConversationTurn> {
    const { turn, dropped } = this.state.append(role, content, this.deps.now(), status);
    await this.write(this.turnsAdded([turn], dropped, false));
    publish(this.deps, { type: "message_added", sessionId: this.sessionId, turn });
    return turn;
  }

  private async endTurn(message: Extract<ContextManagerCall, { op: "end_turn" }>): Promise<ConversationTurn> {
    const { turnId, status } = message;
    const ended = this.state.endTurn(turnId, status, message.reply, this.deps.now(), message.usage);
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
    const added = ended.reply ? [...ended.closed, ended.reply] : ended.closed;
    const counted = message.usage !== undefined;
    // The usage totals change with every ending, so the head is written even when nothing is added.
    const change =
      added.length > 0
        ? this.turnsAdded(added, ended.dropped, counted)
        : { set: this.state.changedTurnFields(counted) };
    // A turn that completes keeps the status it was stored with: only another ending rewrites it.
    const write = ended.statusChanged
      ? { ...change, replace: asStored([ended.turn as ConversationTurn]) }
      : change;
    await this.write(write);
    const { sessionId } = this;
    for (const turn of added) publish(this.deps, { type: "message_added", sessionId, turn });
    const turn = ended.turn as ConversationTurn;
    if (status === "interrupted") this.reportInterrupted([turn]);
    if (message.usage) this.reportUsage();
    if (status === "cancelled") publish(this.deps, { type: "turn_cancelled", sessionId, turn });
    if (status === "timed_out")
      publish(this.deps, { type: "turn_timed_out", sessionId, turn, timeoutMs: message.timeoutMs ?? 0 });
    return turn;
  }

  /**
   * The change that adds `turns`, with the oldest turns dropped from the history dropped from the
   * store, and the head fields that changed (`usage` only when `counted`: an ending with tokens).
   */
  private turnsAdded(turns: ConversationTurn[], dropped: number, counted: boolean): ConversationChange {
    const keepFrom = dropped > 0 || this.trimPending ? this.state.oldestTurnId() : undefined;
    const append = asStored(turns);
    const set = this.state.changedTurnFields(counted);
    return keepFrom === undefined ? { append, set } : { append, set, keepFrom };
  }

  /**
   * Writes one change, in one store commit. A conversation not stored yet is written with all
   * its fields. If the write fails, the caller gets the error and the state is read again from
   * the store before the next request: a failed write changes nothing that is acknowledged.
   */
  /**
   * The change with every head field set (those it sets win), for a conversation the store does
   * not hold yet. Built field by field in the order the head keeps them: object spreads of
   * these shapes took most of a session's first write.
   */
  private withEveryField(change: ConversationChange): ConversationChange {
    const turns = this.state.turnFields();
    const files = this.state.fileFields();
    const set: { [key: string]: StoredJson } = {
      version: turns.version,
      nextTurn: turns.nextTurn,
      usage: turns.usage,
      activeFiles: files.activeFiles,
      fileIndex: files.fileIndex as unknown as StoredJson,
    };
    if (change.set) for (const key of Object.keys(change.set)) set[key] = change.set[key] as StoredJson;
    const whole: ConversationChange = { set };
    if (change.replace) whole.replace = change.replace;
    if (change.append) whole.append = change.append;
    if (change.keepFrom !== undefined) whole.keepFrom = change.keepFrom;
    return whole;
  }

  private async write(change: ConversationChange): Promise<void> {
    const whole = this.stored ? change : this.withEveryField(change);
    try {
      await this.deps.store.changeConversation(this.sessionId, whole as ConversationChange);
      this.stored = true;
      if (change.keepFrom !== undefined) this.trimPending = false;
    } catch (error) {
      this.stale = true;
      throw error;
    }
  }
}

type ReadOp = "build_context" | "history" | "files";

function isRead(message: ContextManagerCall): message is Extract<ContextManagerCall, { op: ReadOp }> {
  const op = message?.op;
  return op === "build_context" || op === "history" || op === "files";
}

/** Turns are plain JSON; their interface only lacks the index signature StoredJson asks for. */
function asStored(turns: ConversationTurn[]): StoredJson[] {
  return turns as unknown as StoredJson[];
}
