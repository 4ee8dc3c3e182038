import { randomUUID } from "node:crypto";
import { InvalidSessionIdError } from "./errors.js";

// Strict and anchored: an id that passes can never carry a path separator, a quote or SQL.
const SESSION_ID = /^session_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export type SessionId = string;

export function newSessionId(): SessionId {
  return `session_${randomUUID()}`;
}

export function isSessionId(value: unknown): value is SessionId {
  return typeof value === "string" && value.length === 44 && SESSION_ID.test(value);
}

export function assertSessionId(value: unknown): asserts value is SessionId {
  if (!isSessionId(value)) throw new InvalidSessionIdError(value);
}

/** The registry keys of a session's processes, as the seed names them. */
export function sessionKeys(id: SessionId) {
  return {
    supervisor: `session_supervisor:${id}`,
    contextManager: `context_manager:${id}`,
    orchestrator: `llm_orchestrator:${id}`,
  } as const;
}

export const SUPERVISOR_KEY_PREFIX = "session_supervisor:";
export const GLOBAL_SESSION_TOPIC = "sessions";

export function sessionTopic(id: SessionId): string {
  return `session:${id}`;
}
