import { InvalidSessionIdError } from "./errors.js";

// Strict and anchored: an id that passes can never carry a path separator, a quote or SQL.
const SESSION_ID = /^session_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export type SessionId = string;

/**
 * A new id. Joined rather than concatenated: V8 makes `a + b` a rope (a ConsString) that stays
 * a rope, and every key, topic and record made from it would be a rope over a rope — about
 * 450 more bytes a session, and a hash worked out again for each. `join` makes it one flat string.
 */
export function newSessionId(): SessionId {
  // The global Web Crypto, loaded on first use: importing node:crypto would cost every thread
  // host ~7 ms of its start (16 internal modules) for ids it never makes.
  return ["session_", crypto.randomUUID()].join("");
}

export function isSessionId(value: unknown): value is SessionId {
  return typeof value === "string" && value.length === 44 && SESSION_ID.test(value);
}

export function assertSessionId(value: unknown): asserts value is SessionId {
  if (!isSessionId(value)) throw new InvalidSessionIdError(value);
}

export interface SessionKeys {
  readonly supervisor: string;
  readonly contextManager: string;
  readonly orchestrator: string;
}

/**
 * The registry keys of a session's processes, as the seed names them. Flat strings (see
 * newSessionId); a session's processes share one set, made by its supervisor, so the registry
 * hashes each key once.
 */
export function sessionKeys(id: SessionId): SessionKeys {
  return {
    supervisor: `session_supervisor:${id}`,
    contextManager: `context_manager:${id}`,
    orchestrator: `llm_orchestrator:${id}`,
  };
}

export const SUPERVISOR_KEY_PREFIX = "session_supervisor:";
export const GLOBAL_SESSION_TOPIC = "sessions";

export function sessionTopic(id: SessionId): string {
  return `session:${id}`;
}
