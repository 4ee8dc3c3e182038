import { getEventListeners } from "node:events";
import {
  type LlmChunk,
  type LlmProvider,
  LlmProviderError,
  type LlmRequest,
  type LlmToolCall,
  type LlmUsage,
} from "../llm/index.js";
import {
  CallExitError,
  CallTimeoutError,
  type From,
  GenServer,
  InvalidArgumentError,
  NoProcError,
  NoReply,
  SessionvisorError,
  type TimerRef,
} from "../runtime/index.js";
import type { ReplyResult, Request } from "../supervision/index.js";
import type { AgentArgs, ContextManagerCall } from "./context-manager.js";
import type { ContextManagerRequests } from "./context-requests.js";
import type { TurnEnding } from "./context-state.js";
import { err, ok, publish, type Result, SESSION_MANAGER_NAME, unwrap } from "./deps.js";
import {
  SessionBusyError,
  ToolCallNotPendingError,
  TurnCancelledError,
  TurnInterruptedError,
  TurnQueueFullError,
  TurnTimedOutError,
} from "./errors.js";
import { keysOf } from "./session-id.js";
import { SessionTools } from "./session-tools.js";
import { runToolCalls } from "./tool-step.js";

export interface TurnReply {
  turnId: string;
  /** The model's last answer (text it sent beside tool calls is in the history, with the calls). */
  text: string;
  /** Tokens of every model call of the turn. */
  usage: LlmUsage;
  /** `end`, `max_tokens`, or `max_steps` (the turn reached `tools.maxSteps` model calls). */
  stopReason: string;
  /** Model calls the turn made (1 without tools). */
  steps: number;
  /** Tool calls the turn ran. */
  toolCalls: number;
}

/**
 * `timeoutMs`: the message's deadline, counted from its arrival, its wait in the queue included
 * (default DEFAULT_TURN_TIMEOUT_MS; Infinity for none). `requestId`: the caller's id for the
 * message, to cancel it by (`cancel`) and to find its turn's events (`turn_started` carries it).
 */
export type OrchestratorRequests = {
  send: { request: { text: string; timeoutMs?: number; requestId?: string }; reply: TurnReply };
  /**
   * Cancels the message sent with `requestId`, running or queued, or without one the running
   * turn; false if there is no such message (any more).
   */
  cancel: { request: { requestId?: string; reason?: string }; reply: boolean };
  /** Answers a tool call waiting for approval. */
  approve: { request: { callId: string; approved: boolean; reason?: string }; reply: null };
  status: { request: object; reply: { inFlight: boolean; queued: number } };
};

/** A request to the orchestrator, as sent. */
export type OrchestratorCall = Request<OrchestratorRequests>;

type OrchestratorReply = ReplyResult<OrchestratorRequests>;

export const MAX_MESSAGE_LENGTH = 100_000;
export const DEFAULT_TURN_TIMEOUT_MS = 60_000;
/**
 * How much longer than a turn's deadline its caller waits for the orchestrator's answer: long
 * enough for the orchestrator to abort the provider, record the ending and reply, so that the
 * caller gets the typed error rather than a call timeout.
 */
export const TURN_REPLY_GRACE_MS = 5000;
/** How long recording a turn's ending may take once the turn has gone wrong. */
const ENDING_CALL_TIMEOUT_MS = 2000;
/** How many turns one abort controller may serve (see keepController). */
const MAX_CONTROLLER_REUSE = 32;
/** Node's timers fire at once beyond this; a longer deadline is no deadline. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** How long a caller of `send` with this deadline waits for the answer. */
export function callTimeoutFor(turnTimeoutMs: number): number {
  return turnTimeoutMs + TURN_REPLY_GRACE_MS;
}

interface WaitingMessage {
  from: From<OrchestratorReply>;
  text: string;
  requestId: string | undefined;
  timeoutMs: number;
  /** On the runtime's clock. */
  deadline: number;
  /** While it waits in the queue: when it gives up waiting. */
  timer?: TimerRef;
}

interface Turn extends WaitingMessage {
  controller: AbortController;
  /** The controller as the spares keep it (see takeController). */
  lease: ControllerLease;
  /** Known once the user's message is recorded. */
  turnId?: string;
  /** While the model's reply streams: ends the stream's reading at once, when the turn is aborted. */
  stopReading?: ((reason: unknown) => void) | undefined;
  /** Counts the model calls: a first-token timer names the one it was armed for. */
  step: number;
  /** Whether the current model call has sent anything yet. */
  heard: boolean;
}

/** A tool call waiting for `approve`. */
interface PendingApproval {
  turn: Turn;
  name: string;
  resolve: (decision: { approved: boolean; reason?: string }) => void;
  timer: TimerRef;
}

type OrchestratorInfo =
  | { type: "turn_finished"; turn: Turn; result: Result<TurnReply> }
  /** The deadline timer armed for `deadline` (on the runtime's clock) fired. */
  | { type: "turn_deadline"; deadline: number }
  | { type: "queue_deadline"; message: WaitingMessage }
  | { type: "first_token_deadline"; turn: Turn; step: number }
  | { type: "approval_deadline"; callId: string };

/** The queue of every orchestrator that has not queued a message yet; never written to. */
const NOT_WAITING: WaitingMessage[] = [];

/**
 * Runs a session's conversation turns, one at a time: a message that arrives during a turn
 * waits in a bounded queue. The model call runs outside the mailbox so that the orchestrator
 * keeps answering (and refusing when the queue is full) while a reply streams in.
 *
 * Every turn ends honestly: with its reply (`complete`), or recorded as `timed_out` (its
 * deadline passed: the provider's request is aborted, whether or not the provider honours the
 * signal), `failed` (the provider failed) or `interrupted` (a process died), and the caller gets
 * a typed error saying which.
 */
export class LlmOrchestrator extends GenServer<
  OrchestratorCall,
  OrchestratorReply,
  never,
  OrchestratorInfo,
  AgentArgs
> {
  private args!: AgentArgs;
  private provider!: LlmProvider;
  private current: Turn | undefined;
  /**
   * Messages waiting for the turn in flight. Until the first waits, the one shared empty array
   * (never written to: the first is queued into an array of its own), as most sessions never
   * queue a message.
   */
  private queue: WaitingMessage[] = NOT_WAITING;
  /**
   * One deadline timer, for the turns one after another rather than one per turn: armed for
   * the current turn's deadline unless it fires before it already, and when it fires for a
   * turn that has ended, armed again for the turn then running. Deadlines are counted from
   * arrival, so a later turn's is seldom earlier: a timer per busy minute, not per turn.
   */
  private deadlineTimer: { ref: TimerRef; deadline: number } | undefined;
  /** Opened at the first turn (see SessionTools); a failed open is tried again next turn. */
  private tools: SessionTools | undefined;
  /** Whether it watches its own exit yet (see watchOwnExit). */
  private watchingExit = false;
  /** Tool calls waiting for an answer; made at the first (most sessions never ask). */
  private approvals: Map<string, PendingApproval> | undefined = undefined;

  /**
   * Synchronous at a session tree's first start: its context manager has just loaded the
   * conversation and marked what was left unanswered. A restarted orchestrator (the same args
   * again) first asks its context manager to mark the turns the previous one left.
   */
  override init(args: AgentArgs): void | Promise<void> {
    this.args = args;
    const llm = args.config.llm;
    this.provider = args.deps.providers.create(llm.provider, llm);
    // Without a count (args made elsewhere), every start is taken for a restart: the safe side.
    const starts = args.orchestratorStarts;
    if (starts !== undefined) args.orchestratorStarts = starts + 1;
    const restarted = starts !== 0;
    if (!restarted) return this.takeMessages();
    return this.endLeftoverTurns().then(() => this.takeMessages());
  }

  private takeMessages(): void {
    const { args } = this;
    args.deps.registry.register(keysOf(args).orchestrator, this.self);
  }

  /**
   * A turn in flight when this process dies stops asking the model (and paying for it): from
   * its first turn on, it watches its own exit. Not from its start: a session that never speaks
   * keeps no watch, and one that does has it before any turn can be in flight. A watch, not
   * `whenExited(...).then`: a promise, its settlers and a reaction kept per session.
   */
  private watchOwnExit(): void {
    if (this.watchingExit) return;
    this.watchingExit = true;
    this.runtime.watch(this.self, () => this.exited());
  }

  /** Aborts the turn in flight, in a reaction to the exit as `whenExited(...).then` would. */
  private exited(): void {
    if (this.current === undefined) return;
    void Promise.resolve().then(() => {
      const turn = this.current;
      if (turn)
        abort(turn, new TurnInterruptedError(this.args.sessionId, turn.turnId, "its orchestrator exited"));
    });
  }

  override handleCall(message: OrchestratorCall, from: From<OrchestratorReply>): OrchestratorReply | NoReply {
    if (message?.op === "status")
      return ok({ inFlight: this.current !== undefined, queued: this.queue.length });
    if (message?.op === "cancel") return ok(this.cancel(message.requestId, message.reason));
    if (message?.op === "approve") return this.answerApproval(message);
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
    const timeoutMs = message.timeoutMs ?? DEFAULT_TURN_TIMEOUT_MS;
    if (typeof timeoutMs !== "number" || !(timeoutMs > 0)) {
      return err(new InvalidArgumentError("timeoutMs", "must be a positive number of ms, or Infinity"));
    }
    this.cast(SESSION_MANAGER_NAME, { op: "activity", id: this.args.sessionId });
    const requestId = typeof message.requestId === "string" ? message.requestId : undefined;
    const waiting: WaitingMessage = {
      from,
      text,
      requestId,
      timeoutMs,
      deadline: this.runtime.clock.now() + timeoutMs,
    };
    if (!this.current) {
      this.startTurn(waiting);
      return NoReply;
    }
    const { whenBusy } = this.args.config.turns;
    if (whenBusy === "reject") return err(new SessionBusyError(this.args.sessionId));
    if (whenBusy === "interrupt") {
      // The newest message wins: the running turn and anything waiting are cancelled.
      for (const queued of this.queue.splice(0)) this.dropQueued(queued, "a newer message interrupted it");
      const running = this.current;
      abort(
        running,
        new TurnCancelledError(this.args.sessionId, running.turnId, "a newer message interrupted it"),
      );
    }
    const max = this.args.config.limits.maxQueuedTurns;
    if (this.queue.length >= max && whenBusy !== "interrupt")
      return err(new TurnQueueFullError(this.args.sessionId, max));
    if (this.queue === NOT_WAITING) this.queue = [waiting];
    else this.queue.push(waiting);
    if (timeoutMs <= MAX_TIMER_MS)
      waiting.timer = this.sendAfter(timeoutMs, { type: "queue_deadline", message: waiting });
    return NoReply;
  }

  override handleInfo(message: OrchestratorInfo): void {
    switch (message?.type) {
      case "turn_finished": {
        const { turn } = message;
        if (turn !== this.current) return;
        this.current = undefined;
        if (message.result.ok) keepController(turn.lease);
        turn.from.reply(message.result);
        this.startNext();
        return;
      }
      case "turn_deadline": {
        if (this.deadlineTimer?.deadline !== message.deadline) return;
        this.deadlineTimer = undefined;
        const turn = this.current;
        if (!turn || turn.controller.signal.aborted) return;
        // Timers may fire a little early by the clock: the timer's own deadline decides.
        if (turn.deadline > message.deadline) {
          this.armDeadline(turn);
          return;
        }
        abort(turn, new TurnTimedOutError(this.args.sessionId, turn.turnId, turn.timeoutMs));
        return;
      }
      case "queue_deadline": {
        const i = this.queue.indexOf(message.message);
        if (i < 0) return;
        this.queue.splice(i, 1);
        message.message.from.reply(err(this.timedOutWaiting(message.message)));
        return;
      }
      case "first_token_deadline": {
        const { turn } = message;
        if (turn !== this.current || turn.step !== message.step || turn.heard) return;
        const ms = this.args.config.turns.firstTokenTimeoutMs ?? 0;
        abort(turn, new TurnTimedOutError(this.args.sessionId, turn.turnId, ms, true));
        return;
      }
      case "approval_deadline": {
        const pending = this.approvals?.get(message.callId);
        if (!pending) return;
        const seconds = Math.round(this.args.config.tools.approvalTimeoutMs / 1000);
        this.decide(message.callId, pending, {
          approved: false,
          reason: `nobody approved it within ${seconds} s`,
          by: "timeout",
        });
        return;
      }
    }
  }

  /** Cancels the message sent with `requestId`: the running turn is aborted, a queued one answered. */
  private cancel(requestId: unknown, reason: unknown): boolean {
    if (requestId !== undefined && typeof requestId !== "string") return false;
    const why = typeof reason === "string" && reason.length > 0 ? reason : "its caller cancelled it";
    const turn = this.current;
    if (turn && (requestId === undefined || turn.requestId === requestId)) {
      if (!turn.controller.signal.aborted)
        abort(turn, new TurnCancelledError(this.args.sessionId, turn.turnId, why));
      return true;
    }
    const i = this.queue.findIndex((m) => m.requestId === requestId);
    if (i < 0) return false;
    const [queued] = this.queue.splice(i, 1);
    this.dropQueued(queued as WaitingMessage, why);
    return true;
  }

  private dropQueued(message: WaitingMessage, why: string): void {
    if (message.timer) this.cancelTimer(message.timer);
    message.from.reply(err(new TurnCancelledError(this.args.sessionId, undefined, why)));
  }

  private answerApproval(message: {
    callId: unknown;
    approved: unknown;
    reason?: unknown;
  }): OrchestratorReply {
    const { callId } = message;
    const pending = typeof callId === "string" ? this.approvals?.get(callId) : undefined;
    if (!pending) return err(new ToolCallNotPendingError(this.args.sessionId, String(callId)));
    const reason = typeof message.reason === "string" ? message.reason : undefined;
    this.decide(callId as string, pending, {
      approved: message.approved === true,
      ...(reason === undefined ? {} : { reason }),
      by: "user",
    });
    return ok(null);
  }

  private decide(
    callId: string,
    pending: PendingApproval,
    decision: { approved: boolean; reason?: string; by: "user" | "timeout" },
  ): void {
    this.approvals?.delete(callId);
    this.cancelTimer(pending.timer);
    const { by, ...answer } = decision;
    publish(this.args.deps, {
      type: "tool_approval_decided",
      sessionId: this.args.sessionId,
      turnId: pending.turn.turnId ?? "",
      callId,
      name: pending.name,
      ...answer,
      by,
    });
    pending.resolve(answer);
  }

  /**
   * Asks for approval of a call whose kind has the policy `ask`: an event, then a wait for
   * `approve` (or the timeout, which denies). A cancelled turn drops the wait.
   */
  private requestApproval(
    turn: Turn,
    call: { id?: string; tool: string; kind: "read" | "write" | "command"; input: unknown },
    signal: AbortSignal,
  ): Promise<{ approved: boolean; reason?: string }> {
    const callId = call.id ?? `${turn.turnId}:${call.tool}`;
    const { approvalTimeoutMs } = this.args.config.tools;
    return new Promise((resolve) => {
      const timer = this.sendAfter(approvalTimeoutMs, { type: "approval_deadline", callId });
      this.approvals ??= new Map();
      this.approvals.set(callId, { turn, name: call.tool, resolve, timer });
      signal.addEventListener(
        "abort",
        () => {
          if (this.approvals?.get(callId)?.turn !== turn) return;
          this.approvals?.delete(callId);
          this.cancelTimer(timer);
        },
        { once: true },
      );
      publish(this.args.deps, {
        type: "tool_approval_requested",
        sessionId: this.args.sessionId,
        turnId: turn.turnId ?? "",
        callId,
        name: call.tool,
        kind: call.kind,
        input: call.input,
        timeoutMs: approvalTimeoutMs,
      });
    });
  }

  /** A turn a previous orchestrator left without a reply is marked before this one takes messages. */
  private async endLeftoverTurns(): Promise<void> {
    try {
      await this.context({ op: "interrupt_unanswered" }, undefined);
    } catch (error) {
      // A context manager that cannot be reached is restarting, and marks them as it loads; any
      // turn still unmarked is marked at the next load, as the message after it shows it unanswered.
      this.runtime.logger.warn(
        { event: "turns_not_marked", sessionId: this.args.sessionId, error },
        "could not mark the turns a previous orchestrator left unanswered",
      );
    }
  }

  private startNext(): void {
    for (let next = this.queue.shift(); next; next = this.queue.shift()) {
      if (next.timer) this.cancelTimer(next.timer);
      if (this.startTurn(next)) return;
    }
  }

  /** Starts the message's turn, or answers it with a timeout if its deadline has passed already. */
  private startTurn(message: WaitingMessage): boolean {
    const remaining = message.deadline - this.runtime.clock.now();
    if (remaining <= 0) {
      message.from.reply(err(this.timedOutWaiting(message)));
      return false;
    }
    const lease = takeController();
    const turn: Turn = {
      from: message.from,
      text: message.text,
      requestId: message.requestId,
      timeoutMs: message.timeoutMs,
      deadline: message.deadline,
      controller: lease.controller,
      lease,
      step: 0,
      heard: false,
    };
    this.watchOwnExit();
    this.current = turn;
    this.armDeadline(turn);
    void this.runTurn(turn).then((result) => {
      this.send(this.self, { type: "turn_finished", turn, result });
    });
    return true;
  }

  /** Makes sure the deadline timer fires by the turn's deadline (a turn with none needs none). */
  private armDeadline(turn: Turn): void {
    const remaining = turn.deadline - this.runtime.clock.now();
    if (!(remaining <= MAX_TIMER_MS)) return;
    const armed = this.deadlineTimer;
    if (armed && armed.deadline <= turn.deadline) return;
    if (armed) this.cancelTimer(armed.ref);
    const { deadline } = turn;
    // In whole ms: Node keeps a list of timers per duration, and a fractional one (the clock's)
    // made a new list for nearly every session's first turn. At most 1 ms later than the deadline.
    const ms = Math.ceil(remaining);
    this.deadlineTimer = { ref: this.sendAfter(ms, { type: "turn_deadline", deadline }), deadline };
  }

  private timedOutWaiting(message: WaitingMessage): TurnTimedOutError {
    return new TurnTimedOutError(this.args.sessionId, undefined, message.timeoutMs);
  }

  /**
   * Never throws: every failure becomes an error result for the caller and an ending recorded.
   * A turn is a loop of model calls: while the model asks for tool calls, they are recorded, run
   * (in parallel), their results recorded, and the model asked again, up to `tools.maxSteps`.
   */
  private async runTurn(turn: Turn): Promise<Result<TurnReply>> {
    const { sessionId, deps, config } = this.args;
    const { signal } = turn.controller;
    const progress = { reply: "", usage: { inputTokens: 0, outputTokens: 0 } };
    try {
      const userTurn = await this.context({ op: "append", role: "user", content: turn.text }, undefined);
      turn.turnId = userTurn.id;
      const turnId = userTurn.id;
      // Two literals rather than a spread of an optional field: the spread costs more per turn
      // than the rest of the event (the same fields in the same order either way).
      const queued = this.queue.length;
      const { requestId } = turn;
      publish(
        deps,
        requestId === undefined
          ? { type: "turn_started", sessionId, turnId, queued }
          : { type: "turn_started", sessionId, turnId, queued, requestId },
      );
      signal.throwIfAborted();
      // Without MCP servers there is nothing to gather again: no wait for a promise per turn.
      const ready = this.tools;
      const tools = ready !== undefined && !ready.refreshes ? ready : await this.sessionTools(turn);
      signal.throwIfAborted();
      let toolCallCount = 0;
      for (let step = 1; ; step++) {
        const { end, calls } = await this.modelStep(turn, tools, progress);
        if (calls.length === 0 || step >= config.tools.maxSteps) {
          if (calls.length > 0) {
            // Recorded, then closed as not run: the history shows what the model asked for.
            await this.context({ op: "record_calls", turnId, text: progress.reply, calls }, turnId);
            progress.reply = "";
          }
          const stopReason = calls.length > 0 ? "max_steps" : end.stopReason;
          const { usage } = progress;
          const reply = progress.reply;
          // Not raced with the deadline: once asked, the context manager records the reply anyway.
          await this.context({ op: "end_turn", turnId, status: "complete", reply, usage }, turnId);
          publish(deps, { type: "llm_done", sessionId, turnId, text: reply, usage, stopReason });
          return ok({ turnId, text: reply, usage, stopReason, steps: step, toolCalls: toolCallCount });
        }
        await this.context({ op: "record_calls", turnId, text: progress.reply, calls }, turnId);
        progress.reply = "";
        toolCallCount += calls.length;
        await runToolCalls({
          calls,
          tools,
          signal,
          runtime: this.runtime,
          maxResultChars: config.tools.maxResultChars,
          publish: (event) => publish(deps, { sessionId, turnId, ...event }),
          record: (result) => this.context({ op: "record_result", turnId, ...result }, turnId),
        });
        signal.throwIfAborted();
      }
    } catch (error) {
      return err(await this.endBadly(turn, progress, error));
    }
  }

  /** The session's tools, opened at the first turn that needs them; MCP tools gathered afresh. */
  private async sessionTools(turn: Turn): Promise<SessionTools> {
    if (!this.tools) {
      this.tools = await SessionTools.open(this.args, (call, signal) =>
        this.requestApproval(this.current ?? turn, call, signal),
      );
    }
    await this.tools.refresh(this.runtime);
    return this.tools;
  }

  /**
   * One model call: streams its text (as `llm_delta` events, into `progress.reply`), gathers
   * the tool calls it asks for, adds its usage. A first-token timer, if configured, is armed
   * for it.
   */
  private async modelStep(
    turn: Turn,
    tools: SessionTools,
    progress: { reply: string; usage: LlmUsage },
  ): Promise<{ end: StreamEnd; calls: LlmToolCall[] }> {
    const { sessionId, deps, config } = this.args;
    const turnId = turn.turnId as string;
    const { signal } = turn.controller;
    const context = await this.context({ op: "build_context" }, turnId);
    signal.throwIfAborted();
    turn.step++;
    turn.heard = false;
    const { firstTokenTimeoutMs } = config.turns;
    const firstTokenTimer =
      firstTokenTimeoutMs === undefined
        ? undefined
        : this.sendAfter(firstTokenTimeoutMs, { type: "first_token_deadline", turn, step: turn.step });
    const { model, temperature, maxTokens } = config.llm;
    const { messages } = context;
    const request: LlmRequest = tools.empty
      ? { model, messages, temperature, maxTokens, signal }
      : { model, messages, temperature, maxTokens, tools: tools.definitions(), signal };
    const chunks = this.provider.stream(request)[Symbol.asyncIterator]();
    const calls: LlmToolCall[] = [];
    let end: StreamEnd;
    try {
      end = await readStream(chunks, turn, (chunk) => {
        if (chunk.type === "delta") {
          progress.reply += chunk.text;
          publish(deps, { type: "llm_delta", sessionId, turnId, text: chunk.text });
        } else {
          calls.push({ id: chunk.id, name: chunk.name, input: chunk.input });
        }
      });
    } finally {
      turn.stopReading = undefined;
      close(chunks);
      // Not left to fire for nothing (one a model call) when the turns are long apart.
      if (firstTokenTimer) this.cancelTimer(firstTokenTimer);
    }
    signal.throwIfAborted();
    progress.usage.inputTokens += end.usage.inputTokens;
    progress.usage.outputTokens += end.usage.outputTokens;
    return { end, calls: uniqueIds(calls, turnId, turn.step) };
  }

  /** Records how a turn that got no whole reply ended; returns the error for its caller. */
  private async endBadly(
    turn: Turn,
    progress: { reply: string; usage: LlmUsage },
    error: unknown,
  ): Promise<Error> {
    const { reply, usage } = progress;
    const { sessionId, deps } = this.args;
    const { turnId } = turn;
    const { signal } = turn.controller;
    const reason: unknown = signal.aborted ? signal.reason : undefined;
    // Dead: nobody to answer, and the next orchestrator (or context manager) marks the turn.
    if (!this.runtime.isAlive(this.self) || reason instanceof TurnInterruptedError) {
      return new TurnInterruptedError(sessionId, turnId, "its orchestrator exited");
    }
    let ending: TurnEnding;
    let failure: Error;
    if (reason instanceof TurnTimedOutError) {
      ending = "timed_out";
      failure = reason.turnId === turnId ? reason : new TurnTimedOutError(sessionId, turnId, turn.timeoutMs);
    } else if (reason instanceof TurnCancelledError) {
      ending = "cancelled";
      failure =
        reason.turnId === turnId
          ? reason
          : new TurnCancelledError(sessionId, turnId, "its caller cancelled it");
    } else if (error instanceof TurnInterruptedError) {
      ending = "interrupted";
      failure =
        error.turnId === turnId
          ? error
          : new TurnInterruptedError(sessionId, turnId, error.message, { cause: error });
    } else {
      ending = "failed";
      failure = this.asTyped(error);
    }
    publish(deps, { type: "llm_error", sessionId, turnId: turnId ?? "", error: failure.message });
    if (turnId) {
      try {
        await this.context(
          { op: "end_turn", turnId, status: ending, reply, timeoutMs: turn.timeoutMs, usage },
          turnId,
          ENDING_CALL_TIMEOUT_MS,
        );
      } catch (recording) {
        // The context manager is gone or failing: one that restarts marks the turn interrupted.
        this.runtime.logger.warn(
          { event: "turn_ending_not_recorded", sessionId, turnId, ending, error: recording },
          `could not record turn ${turnId} as ${ending}`,
        );
      }
    }
    return failure;
  }

  /** A provider's own error class is kept if it is one of ours; anything else is a provider failure. */
  private asTyped(error: unknown): Error {
    if (error instanceof SessionvisorError) return error;
    const message = error instanceof Error ? error.message : String(error);
    return new LlmProviderError(this.provider.name, message, { cause: error });
  }

  /**
   * A call to the session's context manager. Its death, or its silence, interrupts the turn:
   * the reply can no longer be recorded.
   */
  private context<K extends keyof ContextManagerRequests & string>(
    message: { op: K } & ContextManagerRequests[K]["request"],
    turnId: string | undefined,
    timeoutMs?: number,
  ): Promise<ContextManagerRequests[K]["reply"]> {
    // An answer that is an error is thrown by unwrap as it is (even of the same classes as
    // below): only a call that got no answer becomes the turn's interruption.
    return this.call(keysOf(this.args).contextManager, message as ContextManagerCall, timeoutMs).then(
      (result) => unwrap(result as Result<ContextManagerRequests[K]["reply"]>),
      (error: unknown) => {
        if (
          error instanceof NoProcError ||
          error instanceof CallExitError ||
          error instanceof CallTimeoutError
        ) {
          throw new TurnInterruptedError(
            this.args.sessionId,
            turnId,
            `its context manager did not answer (${error.message})`,
            { cause: error },
          );
        }
        throw error;
      },
    );
  }
}

/** An abort controller and how many turns it has served. */
interface ControllerLease {
  readonly controller: AbortController;
  uses: number;
}

/**
 * Controllers of completed turns, for the next turn of any orchestrator in this program (most
 * recent first): a turn, a session's first included, then seldom makes one. Node 20 makes an
 * AbortSignal with a prototype change and a finalizer, some 10-25 µs, a good part of a whole
 * turn with the offline model.
 */
const spareControllers: ControllerLease[] = [];
const MAX_SPARE_CONTROLLERS = 64;

/**
 * Controllers never used, made while the program waited (see refillFresh): a provider that
 * leaves a listener on the signal (fetch does, until its request is collected) lets no
 * controller serve twice, and making one as a turn starts put its cost before the request.
 */
const freshControllers: AbortController[] = [];
const MAX_FRESH_CONTROLLERS = 8;
let refillScheduled = false;

/** The next turn's abort controller: a spare when there is one that may serve again. */
function takeController(): ControllerLease {
  const kept = spareControllers.pop();
  if (kept && kept.uses < MAX_CONTROLLER_REUSE) {
    kept.uses++;
    return kept;
  }
  const fresh = freshControllers.pop();
  if (!refillScheduled) {
    refillScheduled = true;
    setImmediate(refillFresh);
  }
  return { controller: fresh ?? new AbortController(), uses: 1 };
}

/**
 * Runs in the event loop's check phase, once the turn that found no spare has sent its request:
 * the next turns' controllers are made while it waits for the model rather than before theirs.
 */
function refillFresh(): void {
  refillScheduled = false;
  while (freshControllers.length < MAX_FRESH_CONTROLLERS) {
    const controller = new AbortController();
    // Node makes a controller's signal at its first read (the costly part, see spareControllers):
    // read here, not by the turn that takes it.
    void controller.signal;
    freshControllers.push(controller);
  }
}

/**
 * Keeps a completed turn's controller for a next turn if nothing can tell: never aborted, and
 * no abort listener left on its signal by the provider. A provider that kept something else of
 * it (a signal made with AbortSignal.any) holds it for at most MAX_CONTROLLER_REUSE turns; all
 * of them completed, so an abort reaching them stops nothing that still runs.
 */
function keepController(lease: ControllerLease): void {
  const { signal } = lease.controller;
  if (spareControllers.length >= MAX_SPARE_CONTROLLERS) return;
  if (!signal.aborted && getEventListeners(signal, "abort").length === 0) spareControllers.push(lease);
}

/** Aborts the turn's signal, and with it whatever read of the model's stream is pending. */
function abort(turn: Turn, reason: Error): void {
  turn.controller.abort(reason);
  turn.stopReading?.(reason);
}

interface StreamEnd {
  usage: LlmUsage;
  stopReason: string;
}

/**
 * Reads the model's stream to its `done` chunk (or its end), handing each delta to `onDelta`.
 * Ends with the abort's reason as soon as the turn is aborted, whatever the provider does: one
 * that ignores the signal cannot hold the turn past its deadline. Driven by callbacks rather
 * than a loop of awaits raced with the signal, which cost a promise and three closures per chunk.
 */
function readStream(
  chunks: AsyncIterator<LlmChunk>,
  turn: Turn,
  onPart: (chunk: Exclude<LlmChunk, { type: "done" }>) => void,
): Promise<StreamEnd> {
  const { signal } = turn.controller;
  return new Promise<StreamEnd>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    turn.stopReading = reject;
    const onNext = (next: IteratorResult<LlmChunk>) => {
      try {
        if (signal.aborted) reject(signal.reason);
        else if (next.done) resolve({ usage: { inputTokens: 0, outputTokens: 0 }, stopReason: "end" });
        else {
          turn.heard = true;
          const chunk = next.value;
          if (chunk.type === "done") resolve({ usage: chunk.usage, stopReason: chunk.stopReason });
          else {
            onPart(chunk);
            read();
          }
        }
      } catch (error) {
        reject(error);
      }
    };
    const read = () => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      try {
        Promise.resolve(chunks.next()).then(onNext, reject);
      } catch (error) {
        reject(error);
      }
    };
    read();
  });
}

/** Lets a stream release what it holds, without waiting for a provider that may never finish. */
function close(chunks: AsyncIterator<unknown>): void {
  try {
    Promise.resolve(chunks.return?.()).catch(() => {});
  } catch {
    // A broken iterator has nothing more to release.
  }
}

/**
 * The calls with ids unique within the turn: a backend (or the offline model) may reuse ids
 * across steps, and a result is matched to its call by id.
 */
function uniqueIds(calls: LlmToolCall[], turnId: string, step: number): LlmToolCall[] {
  // A reply without calls (most of them) needs no set and no copy.
  if (calls.length === 0) return calls;
  const seen = new Set<string>();
  return calls.map((call, i) => {
    const id =
      typeof call.id === "string" && call.id.length > 0 && !seen.has(call.id)
        ? call.id
        : `${turnId}-${step}-${i}`;
    seen.add(id);
    return id === call.id ? call : { ...call, id };
  });
}
