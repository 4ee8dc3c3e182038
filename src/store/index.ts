export type { ConversationChange } from "./conversation-change.js";
export {
  type CorruptEntry,
  InvalidSessionIdError,
  SqliteDriverMissingError,
  StoreClosedError,
  StoreCorruptError,
  StoreVersionError,
} from "./errors.js";
export { MemorySessionStore } from "./memory-store.js";
export type {
  PutSessionOptions,
  SessionStore,
  StoredEvent,
  StoredJson,
  StoredSession,
} from "./session-store.js";
export { SqliteSessionStore, type SqliteStoreOptions, STORE_SCHEMA_VERSION } from "./sqlite-store.js";
