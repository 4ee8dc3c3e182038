/** A JSON value as stored: what survives a process crash, and later a program restart. */
export type StoredJson = null | boolean | number | string | StoredJson[] | { [key: string]: StoredJson };

/** One session's record (its info, serialized by the session layer) and its conversation. */
export interface StoredSession {
  id: string;
  record: { [key: string]: StoredJson };
}

/**
 * Where sessions keep what must outlive their processes. Owned by the session system, not by
 * any process — like an ETS table with an heir in OTP — so that a crashed SessionManager or
 * session supervisor finds everything again. The SQLite and Postgres backends (issue #5 and
 * cluster mode) implement the same port.
 */
export interface SessionStore {
  putSession(id: string, record: { [key: string]: StoredJson }): Promise<void>;
  getSession(id: string): Promise<StoredSession | undefined>;
  listSessions(): Promise<StoredSession[]>;
  /** Removes the record and the conversation. */
  deleteSession(id: string): Promise<void>;
  putConversation(id: string, conversation: StoredJson): Promise<void>;
  getConversation(id: string): Promise<StoredJson | undefined>;
  /** Writes many conversations at once (one commit where the backend has commits). */
  putConversations(entries: [string, StoredJson][]): Promise<void>;
  close(): Promise<void>;
}
