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
import { SessionUnavailableError, TurnInterruptedError, TurnTimedOutError } from "./errors.js";
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
  message: { sessionId: string; text: string; timeoutMs: number },
  session: () => Promise<SessionInfo | undefined>,
): Promise<TurnReply> {
  const { text, timeoutMs } = message;
  if (typeof timeoutMs !== "number" || !(timeoutMs > 0)) {
    throw new InvalidArgumentError("timeoutMs", "must be a positive number of ms, or Infinity");
  }
  let result: Result<TurnReply>;
  try {
    result = (await runtime.call(
      orchestrator,
      { op: "send", text, timeoutMs },
      callTimeoutFor(timeoutMs),
    )) as Result<TurnReply>;
  } catch (error) {
    throw await asSessionError(error, message, session);
  }
  return unwrap(result);
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
