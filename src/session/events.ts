import type { LlmUsage } from "../llm/index.js";
import type { ConversationTurn } from "./context-state.js";
import type { SessionInfo } from "./session-info.js";
import type { SessionStatus } from "./status.js";

/**
 * An event as its publisher builds it. Publishing numbers it (see `SessionEvent.seq`; the
 * number is set on the object given, which becomes the event: build one per publish) and sends
 * it to the global topic and to the session's own topic.
 */
export type SessionEventInput =
  | { type: "session_created"; sessionId: string; at: string; info: SessionInfo }
  | {
      type: "session_status";
      sessionId: string;
      status: SessionStatus;
      previousStatus: SessionStatus;
      at: string;
    }
  | { type: "session_crashed"; sessionId: string; reason: unknown; at: string }
  | { type: "session_terminated"; sessionId: string; at: string }
  | { type: "session_hibernated"; sessionId: string; at: string }
  | { type: "session_woken"; sessionId: string; at: string }
  | { type: "message_added"; sessionId: string; turn: ConversationTurn }
  /** A user turn left without a reply because a process died; it stays in the history, marked. */
  | { type: "turn_interrupted"; sessionId: string; turn: ConversationTurn }
  /** A user turn whose deadline passed: the provider's request was aborted, the turn marked. */
  | { type: "turn_timed_out"; sessionId: string; turn: ConversationTurn; timeoutMs: number }
  | { type: "context_updated"; sessionId: string; files: string[] }
  | { type: "turn_started"; sessionId: string; turnId: string; queued: number }
  | { type: "llm_delta"; sessionId: string; turnId: string; text: string }
  | { type: "llm_done"; sessionId: string; turnId: string; text: string; usage: LlmUsage; stopReason: string }
  | { type: "llm_error"; sessionId: string; turnId: string; error: string };

/**
 * An event as subscribers get it. `seq` numbers one session's events: each durable event (every
 * type but `llm_delta`) takes the next number, 1, 2, 3, ..., which it keeps in the session's
 * event log and across program restarts (after a crash numbering skips ahead, never back), so
 * `subscribe(id, listener, { since: seq })` resumes after it. An `llm_delta` is not kept and
 * takes no number of its own: it carries the `seq` of the durable event before it, so resuming
 * from it misses only other deltas.
 */
export type SessionEvent = SessionEventInput & { seq: number };

export type SessionEventListener = (event: SessionEvent) => void;
