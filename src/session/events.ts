import type { LlmUsage } from "../llm/index.js";
import type { ConversationTurn } from "./context-state.js";
import type { SessionInfo } from "./session-info.js";
import type { SessionStatus } from "./status.js";

/** Every event goes to the global topic and to the session's own topic. */
export type SessionEvent =
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

export type SessionEventListener = (event: SessionEvent) => void;
