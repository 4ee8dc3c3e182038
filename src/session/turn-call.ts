import {
  CallExitError,
  CallTimeoutError,
  describeReason,
  InvalidArgumentError,
  NoProcError,
  type Pid,
  type Runtime,
  RuntimeStoppedError,
} from "../runtime/index.js";
import { type Result, unwrap } from "./deps.js";
import {
  SessionUnavailableError,
  TurnCancelledError,
  TurnInterruptedError,
  TurnTimedOutError,
} from "./errors.js";
import { callTimeoutFor, type TurnReply } from "./llm-orchestrator.js";
import type { SessionInfo } from "./session-info.js";

/** Statuses in which a session takes no more messages: its callers' calls end for that reason. */
const GONE = new Set(["terminating", "terminated", "failed"]);

/**
 * Sends a user message to the session's orchestrator and waits for the turn to end. What the
 * runtime reports on the way (the orchestrator exited, its host died, no answer in time, the
 * runtime stopped) reaches the caller as a session error: TurnInterruptedError,
 * SessionUnavailableError (the session was terminated or failed meanwhile) or TurnTimedOutError.
 */
export async function sendTurn(
  runtime: Runtime,
  orchestrator: Pid,
  message: {
    sessionId: string;
    text: string;
    timeoutMs: number;
    /** Cancels the turn (running or queued): the orchestrator is asked to, and answers for it. */
    signal?: AbortSignal | undefined;
    /** The id `turn_started` will carry; made here when a signal needs one. */
    requestId?: string | undefined;
  },
  session: () => Promise<SessionInfo | undefined>,
): Promise<TurnReply> {
  const { text, timeoutMs, signal, sessionId } = message;
  if (typeof timeoutMs !== "number" || !(timeoutMs > 0)) {
    throw new InvalidArgumentError("timeoutMs", "must be a positive number of ms, or Infinity");
  }
  if (signal?.aborted)
    throw new TurnCancelledError(sessionId, undefined, "its signal was aborted before it was sent");
  const requestId = message.requestId ?? (signal ? newRequestId() : undefined);
  const onAbort = () => {
    const reason = signal?.reason instanceof Error ? signal.reason.message : undefined;
    // If the orchestrator is gone, the call below ends with that anyway.
    runtime
      .call(orchestrator, { op: "cancel", requestId, ...(reason ? { reason } : {}) }, 5000)
      .catch(() => {});
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  let result: Result<TurnReply>;
  try {
    result = (await runtime.call(
      orchestrator,
      requestId === undefined ? { op: "send", text, timeoutMs } : { op: "send", text, timeoutMs, requestId },
      callTimeoutFor(timeoutMs),
    )) as Result<TurnReply>;
  } catch (error) {
    throw await asSessionError(error, message, session);
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  return unwrap(result);
}

let requestCount = 0;
const requestPrefix = `${process.pid.toString(36)}-${Date.now().toString(36)}`;

/** An id for a message, unique in this program and across its restarts. */
export function newRequestId(): string {
  return `${requestPrefix}-${(++requestCount).toString(36)}`;
}

async function asSessionError(
  error: unknown,
  message: { sessionId: string; timeoutMs: number },
  session: () => Promise<SessionInfo | undefined>,
): Promise<unknown> {
  const { sessionId } = message;
  if (error instanceof CallTimeoutError)
    return new TurnTimedOutError(sessionId, undefined, message.timeoutMs);
  if (error instanceof RuntimeStoppedError) return new SessionUnavailableError(sessionId, "stopped");
  if (!(error instanceof CallExitError || error instanceof NoProcError)) return error;
  const info = await session().catch(() => "unknown" as const);
  if (info === undefined || (info !== "unknown" && GONE.has(info.status))) {
    return new SessionUnavailableError(sessionId, info?.status ?? "terminated");
  }
  const why =
    error instanceof CallExitError
      ? `the session's orchestrator exited (${describeReason(error.reason)})`
      : "the session's orchestrator had exited";
  return new TurnInterruptedError(sessionId, undefined, why, { cause: error });
}
