export { MAX_FILE_CONTENT_LENGTH, MAX_TIMEOUT_MS } from "./api-arguments.js";
export {
  type LlmConfig,
  MAX_METADATA_LENGTH,
  parseSessionConfig,
  type SessionConfig,
  type SessionConfigInput,
  type SessionLimits,
  type ToolsConfig,
  type TurnsConfig,
} from "./config.js";
export {
  type BuiltContext,
  type ConversationTurn,
  type FileEntry,
  type ToolCallRecord,
  TURN_ROLES,
  TURN_STATUSES,
  type TurnRole,
  type TurnStatus,
} from "./context-state.js";
export { ContextStore } from "./context-store.js";
export {
  InvalidSessionDocumentError,
  InvalidSessionIdError,
  InvalidTransitionError,
  MaxSessionsError,
  SessionBusyError,
  SessionConfigError,
  SessionExistsError,
  SessionNotFoundError,
  SessionStartError,
  SessionUnavailableError,
  ToolCallNotPendingError,
  TurnCancelledError,
  TurnInterruptedError,
  TurnQueueFullError,
  TurnTimedOutError,
} from "./errors.js";
export type { SessionEvent, SessionEventListener } from "./events.js";
export type { TurnReply } from "./llm-orchestrator.js";
export { MAX_DOCUMENT_LENGTH } from "./session-document.js";
export { GLOBAL_SESSION_TOPIC, isSessionId, sessionKeys, sessionTopic } from "./session-id.js";
export {
  type SessionInfo,
  type SessionInfoJson,
  sessionInfoFromJSON,
  sessionInfoToJSON,
} from "./session-info.js";
export type { SessionDocument } from "./session-manager.js";
export type { SessionOwnership } from "./session-ownership.js";
export {
  DEFAULT_MAX_SESSIONS,
  type SessionHostInfo,
  SessionSystem,
  type SessionSystemOptions,
} from "./session-system.js";
export {
  applyTransition,
  canTransition,
  SESSION_STATUSES,
  type SessionState,
  type SessionStatus,
} from "./status.js";
export type { TurnPart } from "./turn-stream.js";
