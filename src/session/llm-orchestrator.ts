import { getEventListeners } from "node:events";
import { type LlmChunk, type LlmProvider, LlmProviderError, type LlmUsage } from "../llm/index.js";
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
import { TurnInterruptedError, TurnQueueFullError, TurnTimedOutError } from "./errors.js";
import { sessionKeys } from "./session-id.js";

export interface TurnReply {
  turnId: string;
  text: string;
  usage: LlmUsage;
  stopReason: string;
}

/**
 * `timeoutMs`: the message's deadline, counted from its arrival, its wait in the queue included
 * (default DEFAULT_TURN_TIMEOUT_MS; Infinity for none).
 */
export type OrchestratorRequests = {
  send: { request: { text: string; timeoutMs?: number }; reply: TurnReply };
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
/** How many turns one abort controller may serve (see LlmOrchestrator.keepController). */
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
  timeoutMs: number;
  /** On the runtime's clock. */
  deadline: number;
  /** While it waits in the queue: when it gives up waiting. */
  timer?: TimerRef;
}

interface Turn extends WaitingMessage {
  controller: AbortController;
  /** Known once the user's message is recorded. */
  turnId?: string;
  /** While the model's reply streams: ends the stream's reading at once, when the turn is aborted. */
  stopReading?: ((reason: unknown) => void) | undefined;
}

type OrchestratorInfo =
  | { type: "turn_finished"; turn: Turn; result: Result<TurnReply> }
  /** The deadline timer armed for `deadline` (on the runtime's clock) fired. */
  | { type: "turn_deadline"; deadline: number }
  | { type: "queue_deadline"; message: WaitingMessage };

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
  private readonly queue: WaitingMessage[] = [];
  private contextManagerKey = "";
  /**
   * One deadline timer, for the turns one after another rather than one per turn: armed for
   * the current turn's deadline unless it fires before it already, and when it fires for a
   * turn that has ended, armed again for the turn then running. Deadlines are counted from
   * arrival, so a later turn's is seldom earlier: a timer per busy minute, not per turn.
   */
  private deadlineTimer: { ref: TimerRef; deadline: number } | undefined;
  private spareController: AbortController | undefined;
  /** How many turns the controller in use has served. */
  private controllerUses = 0;

  override async init(args: AgentArgs): Promise<void> {
    this.args = args;
    this.contextManagerKey = sessionKeys(args.sessionId).contextManager;
    const llm = args.config.llm;
    this.provider = args.deps.providers.create(llm.provider, llm);
    await this.endLeftoverTurns();
    args.deps.registry.register(sessionKeys(args.sessionId).orchestrator, this.self);
    // A turn in flight when this process dies stops asking the model (and paying for it).
    void this.runtime.whenExited(this.self).then(() => {
      const turn = this.current;
      if (turn) abort(turn, new TurnInterruptedError(args.sessionId, turn.turnId, "its orchestrator exited"));
    });
  }

  override handleCall(message: OrchestratorCall, from: From<OrchestratorReply>): OrchestratorReply | NoReply {
    if (message?.op === "status")
      return ok({ inFlight: this.current !== undefined, queued: this.queue.length });
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
    const waiting: WaitingMessage = { from, text, timeoutMs, deadline: this.runtime.clock.now() + timeoutMs };
    if (!this.current) {
      this.startTurn(waiting);
      return NoReply;
    }
    const max = this.args.config.limits.maxQueuedTurns;
    if (this.queue.length >= max) return err(new TurnQueueFullError(this.args.sessionId, max));
    this.queue.push(waiting);
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
        if (message.result.ok) this.keepController(turn.controller);
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
    }
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
    const turn: Turn = {
      from: message.from,
      text: message.text,
      timeoutMs: message.timeoutMs,
      deadline: message.deadline,
      controller: this.takeController(),
    };
    this.current = turn;
    this.armDeadline(turn);
    void this.runTurn(turn).then((result) => {
      this.send(this.self, { type: "turn_finished", turn, result });
    });
    return true;
  }

  /**
   * The next turn's abort controller: the last one again when it can be (see keepController).
   * Node 20 makes an AbortSignal with a prototype change and a finalizer, some 10-25 µs, a
   * good part of a whole turn with the offline model.
   */
  private takeController(): AbortController {
    const kept = this.spareController;
    this.spareController = undefined;
    if (kept && this.controllerUses < MAX_CONTROLLER_REUSE) {
      this.controllerUses++;
      return kept;
    }
    this.controllerUses = 1;
    return new AbortController();
  }

  /**
   * Keeps a completed turn's controller for the next turn if nothing can tell: never aborted,
   * and no abort listener left on its signal by the provider. A provider that kept something
   * else of it (a signal made with AbortSignal.any) holds it for at most MAX_CONTROLLER_REUSE
   * turns; all of them completed, so an abort reaching them stops nothing that still runs.
   */
  private keepController(controller: AbortController): void {
    const { signal } = controller;
    if (!signal.aborted && getEventListeners(signal, "abort").length === 0) this.spareController = controller;
  }

  /** Makes sure the deadline timer fires by the turn's deadline (a turn with none needs none). */
  private armDeadline(turn: Turn): void {
    const remaining = turn.deadline - this.runtime.clock.now();
    if (!(remaining <= MAX_TIMER_MS)) return;
    const armed = this.deadlineTimer;
    if (armed && armed.deadline <= turn.deadline) return;
    if (armed) this.cancelTimer(armed.ref);
    const { deadline } = turn;
    this.deadlineTimer = { ref: this.sendAfter(remaining, { type: "turn_deadline", deadline }), deadline };
  }

  private timedOutWaiting(message: WaitingMessage): TurnTimedOutError {
    return new TurnTimedOutError(this.args.sessionId, undefined, message.timeoutMs);
  }

  /** Never throws: every failure becomes an error result for the caller and an ending recorded. */
  private async runTurn(turn: Turn): Promise<Result<TurnReply>> {
    const { sessionId, deps, config } = this.args;
    const { signal } = turn.controller;
    let reply = "";
    try {
      const userTurn = await this.context({ op: "append", role: "user", content: turn.text }, undefined);
      turn.turnId = userTurn.id;
      const turnId = userTurn.id;
      publish(deps, { type: "turn_started", sessionId, turnId, queued: this.queue.length });
      signal.throwIfAborted();
      const context = await this.context({ op: "build_context" }, turnId);
      signal.throwIfAborted();
      const chunks = this.provider
        .stream({
          model: config.llm.model,
          messages: context.messages,
          temperature: config.llm.temperature,
          maxTokens: config.llm.maxTokens,
          signal,
        })
        [Symbol.asyncIterator]();
      let end: StreamEnd;
      try {
        end = await readStream(chunks, turn, (text) => {
          reply += text;
          publish(deps, { type: "llm_delta", sessionId, turnId, text });
        });
      } finally {
        turn.stopReading = undefined;
        close(chunks);
      }
      signal.throwIfAborted();
      const { usage, stopReason } = end;
      // Not raced with the deadline: once asked, the context manager records the reply anyway.
      await this.context({ op: "end_turn", turnId, status: "complete", reply }, turnId);
      publish(deps, { type: "llm_done", sessionId, turnId, text: reply, usage, stopReason });
      return ok({ turnId, text: reply, usage, stopReason });
    } catch (error) {
      return err(await this.endBadly(turn, reply, error));
    }
  }

  /** Records how a turn that got no whole reply ended; returns the error for its caller. */
  private async endBadly(turn: Turn, reply: string, error: unknown): Promise<Error> {
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
      failure = new TurnTimedOutError(sessionId, turnId, turn.timeoutMs);
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
          { op: "end_turn", turnId, status: ending, reply, timeoutMs: turn.timeoutMs },
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
    return this.call(this.contextManagerKey, message as ContextManagerCall, timeoutMs).then(
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
  onDelta: (text: string) => void,
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
        else if (next.value.type === "delta") {
          onDelta(next.value.text);
          read();
        } else if (next.value.type === "done")
          resolve({ usage: next.value.usage, stopReason: next.value.stopReason });
        else read();
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
