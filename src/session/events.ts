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
  /** A turn the caller cancelled; it stays in the history, marked `cancelled`, with its partial reply. */
  | { type: "turn_cancelled"; sessionId: string; turn: ConversationTurn }
  /** `requestId`: the id the caller's message was sent with, when it gave one (`stream` does). */
  | { type: "turn_started"; sessionId: string; turnId: string; queued: number; requestId?: string }
  /** The model asked for a tool call (several in one step run in parallel). */
  | { type: "tool_call"; sessionId: string; turnId: string; callId: string; name: string; input: unknown }
  /**
   * A tool call ended. `result` is left out (and `truncated` set) when its JSON is over 4 KiB;
   * the model saw up to `tools.maxResultChars` of it. `diff`: the unified diff of a file change.
   */
  | {
      type: "tool_result";
      sessionId: string;
      turnId: string;
      callId: string;
      name: string;
      ok: boolean;
      result?: unknown;
      error?: { code: string; message: string };
      diff?: string;
      truncated?: boolean;
    }
  /** A call waits for `approveToolCall`/`denyToolCall` (policy `ask`); denied after `timeoutMs`. */
  | {
      type: "tool_approval_requested";
      sessionId: string;
      turnId: string;
      callId: string;
      name: string;
      kind: "read" | "write" | "command";
      input: unknown;
      timeoutMs: number;
    }
  | {
      type: "tool_approval_decided";
      sessionId: string;
      turnId: string;
      callId: string;
      name: string;
      approved: boolean;
      reason?: string;
      /** `timeout`: nobody answered in time, so it was denied. */
      by: "user" | "timeout";
    }
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
