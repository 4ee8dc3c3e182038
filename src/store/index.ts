export type { ConversationChange } from "./conversation-change.js";
export {
  type CorruptEntry,
  InvalidSessionIdError,
  SqliteDriverMissingError,
  StoreClosedError,
  StoreCorruptError,
  StoreVersionError,
} from "./errors.js";
export { type FenceSource, StaleFenceError } from "./fence.js";
export { MemorySessionStore } from "./memory-store.js";
export { PostgresDriverMissingError, StoreUnavailableError } from "./postgres-errors.js";
export type { PostgresStoreOptions } from "./postgres-options.js";
export { POSTGRES_SCHEMA_VERSION } from "./postgres-schema.js";
export { PostgresSessionStore } from "./postgres-store.js";
export type {
  PutSessionOptions,
  SessionStore,
  StoredEvent,
  StoredJson,
  StoredSession,
} from "./session-store.js";
export { SqliteSessionStore, type SqliteStoreOptions, STORE_SCHEMA_VERSION } from "./sqlite-store.js";
