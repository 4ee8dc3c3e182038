import { registerRevivableError, SessionvisorError } from "../errors.js";
import { InvalidSessionIdError } from "../store/errors.js";

// It lives in the store layer, whose guard throws it too; the client API throws the same class.
export { InvalidSessionIdError };

export class SessionNotFoundError extends SessionvisorError {
  readonly sessionId: string;

  constructor(sessionId: string) {
    super("session_not_found", `no session ${sessionId}`);
    this.sessionId = sessionId;
  }
}

export class InvalidTransitionError extends SessionvisorError {
  readonly from: string;
  readonly to: string;

  constructor(from: string, to: string) {
    super("invalid_transition", `a session cannot go from ${from} to ${to}`);
    this.from = from;
    this.to = to;
  }
}

export class SessionConfigError extends SessionvisorError {
  /** The first bad field, as a dotted path such as `llm.temperature`. */
  readonly field: string;
  readonly issues: { field: string; message: string }[];

  constructor(issues: { field: string; message: string }[]) {
    const first = issues[0] ?? { field: "(config)", message: "is invalid" };
    super("invalid_config", `invalid session config: ${first.field}: ${first.message}`);
    this.field = first.field;
    this.issues = issues;
  }
}

/**
 * A session document given to `importSession` is not one a session can run from. `field` is the
 * first bad field as a path from the document's root (`conversation.turns.0.role`).
 */
export class InvalidSessionDocumentError extends SessionvisorError {
  readonly field: string;
  readonly issues: { field: string; message: string }[];

  constructor(issues: { field: string; message: string }[]) {
    const first = issues[0] ?? { field: "(document)", message: "is invalid" };
    super("invalid_session_document", `invalid session document: ${first.field}: ${first.message}`);
    this.field = first.field;
    this.issues = issues;
  }
}

/** An import or restore named a session that exists already (live, or kept after termination). */
export class SessionExistsError extends SessionvisorError {
  readonly sessionId: string;

  constructor(sessionId: string) {
    super("session_exists", `session ${sessionId} already exists`);
    this.sessionId = sessionId;
  }
}

export class MaxSessionsError extends SessionvisorError {
  readonly maxSessions: number;

  constructor(maxSessions: number) {
    super("max_sessions", `the limit of ${maxSessions} sessions is reached`);
    this.maxSessions = maxSessions;
  }
}

/** The session exists but cannot take messages now (failed, terminating, or still recovering). */
export class SessionUnavailableError extends SessionvisorError {
  readonly sessionId: string;
  readonly status: string;

  constructor(sessionId: string, status: string) {
    super("session_unavailable", `session ${sessionId} is ${status} and cannot take messages`);
    this.sessionId = sessionId;
    this.status = status;
  }
}

export class TurnQueueFullError extends SessionvisorError {
  readonly sessionId: string;
  readonly maxQueuedTurns: number;

  constructor(sessionId: string, maxQueuedTurns: number) {
    super(
      "turn_queue_full",
      `session ${sessionId} already has ${maxQueuedTurns} messages waiting for their turn`,
    );
    this.sessionId = sessionId;
    this.maxQueuedTurns = maxQueuedTurns;
  }
}

export class SessionStartError extends SessionvisorError {
  constructor(reason: unknown) {
    super(
      "session_start_failed",
      `the session failed to start: ${reason instanceof Error ? reason.message : String(reason)}`,
      {
        cause: reason,
      },
    );
  }
}

/**
 * A turn ended without a reply because a process it depended on died (its orchestrator, its
 * context manager, its session supervisor or host, the program). The turn is kept in the
 * history, marked `interrupted`. `turnId` is undefined when the message died before it was
 * recorded, or when the caller could not learn its id.
 */
export class TurnInterruptedError extends SessionvisorError {
  readonly sessionId: string;
  readonly turnId: string | undefined;

  constructor(sessionId: string, turnId: string | undefined, why: string, options?: ErrorOptions) {
    super(
      "turn_interrupted",
      `session ${sessionId}: ${turnId ? `turn ${turnId}` : "the message's turn"} was interrupted: ${why}`,
      options,
    );
    this.sessionId = sessionId;
    this.turnId = turnId;
  }
}

/**
 * A turn did not end within its deadline (the system's `turnTimeoutMs`, or the call's
 * `timeoutMs`). The provider's request was aborted and the turn is kept, marked `timed_out`,
 * with what the model had said so far. `turnId` is undefined for a message that timed out
 * while it waited for the turn before it (it was never recorded).
 */
export class TurnTimedOutError extends SessionvisorError {
  readonly sessionId: string;
  readonly turnId: string | undefined;
  readonly timeoutMs: number;

  /** `firstToken`: the model sent nothing within `turns.firstTokenTimeoutMs` of being asked. */
  constructor(sessionId: string, turnId: string | undefined, timeoutMs: number, firstToken = false) {
    super(
      "turn_timed_out",
      firstToken
        ? `session ${sessionId}: turn ${turnId}: the model sent nothing within ${timeoutMs} ms`
        : turnId
          ? `session ${sessionId}: turn ${turnId} got no complete reply within ${timeoutMs} ms`
          : `session ${sessionId}: the message waited ${timeoutMs} ms without its turn being answered`,
    );
    this.sessionId = sessionId;
    this.turnId = turnId;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * A turn was cancelled: its caller's AbortSignal fired, its stream was left, or a newer message
 * interrupted it (`turns.whenBusy: "interrupt"`). The model's request was aborted, a running
 * command killed; the turn is kept, marked `cancelled`, with what the model had said so far.
 * `turnId` is undefined for a message cancelled while it waited (it was never recorded).
 */
export class TurnCancelledError extends SessionvisorError {
  readonly sessionId: string;
  readonly turnId: string | undefined;

  constructor(sessionId: string, turnId: string | undefined, why: string) {
    super(
      "turn_cancelled",
      `session ${sessionId}: ${turnId ? `turn ${turnId}` : "the message"} was cancelled: ${why}`,
    );
    this.sessionId = sessionId;
    this.turnId = turnId;
  }
}

/** A message arrived while a turn ran, and the session's `turns.whenBusy` is `reject`. */
export class SessionBusyError extends SessionvisorError {
  readonly sessionId: string;

  constructor(sessionId: string) {
    super("session_busy", `session ${sessionId} is answering another message (its policy: reject)`);
    this.sessionId = sessionId;
  }
}

/** `approveToolCall`/`denyToolCall` named a call that is not waiting for approval (any more). */
export class ToolCallNotPendingError extends SessionvisorError {
  readonly sessionId: string;
  readonly callId: string;

  constructor(sessionId: string, callId: string) {
    super(
      "tool_call_not_pending",
      `session ${sessionId} has no tool call ${JSON.stringify(callId)} waiting for approval`,
    );
    this.sessionId = sessionId;
    this.callId = callId;
  }
}

// Errors a hosted session's agents throw keep their class when they reach the caller. (The llm
// and store layers register theirs, and InvalidSessionIdError, in their own errors modules.)
for (const type of [
  SessionNotFoundError,
  InvalidTransitionError,
  SessionConfigError,
  InvalidSessionDocumentError,
  SessionExistsError,
  MaxSessionsError,
  SessionUnavailableError,
  TurnQueueFullError,
  SessionStartError,
  TurnInterruptedError,
  TurnTimedOutError,
  TurnCancelledError,
  SessionBusyError,
  ToolCallNotPendingError,
]) {
  registerRevivableError(type);
}
