import type { LlmUsage } from "../llm/index.js";
import type { Request } from "../supervision/index.js";
import type { ContextManagerCall } from "./context-manager.js";
import type {
  BuiltContext,
  ConversationTurn,
  FileEntry,
  ToolCallRecord,
  TurnRole,
  TurnStatus,
} from "./context-state.js";

/**
 * What a session's ContextManager answers, by request: the orchestrator and the system's file
 * and history calls read their replies' types from here.
 */
export type ContextManagerRequests = {
  append: {
    request: { role: TurnRole; content: string; status?: ConversationTurn["status"] };
    reply: ConversationTurn;
  };
  /** Ends a user turn waiting for its reply (see ContextState.endTurn); `timeoutMs` for the event. */
  end_turn: {
    request: { turnId: string; status: TurnStatus; reply: string; timeoutMs?: number; usage?: LlmUsage };
    reply: ConversationTurn;
  };
  record_calls: {
    request: { turnId: string; text: string; calls: ToolCallRecord[] };
    reply: ConversationTurn;
  };
  record_result: {
    request: { turnId: string; callId: string; name: string; content: string; isError: boolean };
    reply: ConversationTurn;
  };
  /** Marks every user turn left without a reply `interrupted` (a restarted orchestrator asks). */
  interrupt_unanswered: { request: object; reply: ConversationTurn[] };
  /** Resolves with the active files. */
  add_file: {
    request: { path: string; metadata?: Record<string, unknown>; content?: unknown };
    reply: string[];
  };
  /** Resolves with whether the file was active. */
  remove_file: { request: { path: string }; reply: boolean };
  build_context: { request: object; reply: BuiltContext };
  history: { request: object; reply: ConversationTurn[] };
  files: { request: object; reply: { active: string[]; index: FileEntry[] } };
};

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Holds<T extends true> = T;
/**
 * Fails to compile when the map and the messages the ContextManager declares drift apart (until
 * context-manager.ts declares its call type from this map).
 */
export type ContextRequestsInStep = Holds<Same<Request<ContextManagerRequests>, ContextManagerCall>>;
