export { MemorySessionStore, StoreClosedError } from "./memory-store.js";
export type { SessionStore, StoredJson, StoredSession } from "./session-store.js";
