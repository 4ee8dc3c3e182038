import type { ConversationChange } from "./conversation-change.js";

/** A JSON value as stored: what survives a process crash, and later a program restart. */
export type StoredJson = null | boolean | number | string | StoredJson[] | { [key: string]: StoredJson };

/** One session's record (its info, serialized by the session layer) and its conversation. */
export interface StoredSession {
  id: string;
  record: { [key: string]: StoredJson };
}

/** One entry of a session's event log: the event's number in its session, and the event. */
export interface StoredEvent {
  sessionId: string;
  seq: number;
  event: StoredJson;
}

/**
 * Where sessions keep what must outlive their processes. Owned by the session system, not by
 * any process — like an ETS table with an heir in OTP — so that a crashed SessionManager or
 * session supervisor finds everything again. The SQLite and Postgres backends (issue #5 and
 * cluster mode) implement the same port.
 */
/** How a record write commits. */
export interface PutSessionOptions {
  /**
   * False: the write need not reach the disk before it returns — it survives the process being
   * killed at any point, and a power cut only once a later durable write (or a checkpoint) has
   * flushed it, never out of order with it. Default true: it survives a power cut on return.
   * For a record a durable write will soon carry to the disk: a hosted or restored session's
   * `initializing` record, superseded by its `active` one, or the `active` records of a burst
   * of creates, made durable by the last one's write (group commit).
   */
  durable?: boolean;
}

export interface SessionStore {
  putSession(id: string, record: { [key: string]: StoredJson }, options?: PutSessionOptions): Promise<void>;
  getSession(id: string): Promise<StoredSession | undefined>;
  listSessions(): Promise<StoredSession[]>;
  /** Removes the record, the conversation and the event log. */
  deleteSession(id: string): Promise<void>;
  /**
   * Replaces the whole conversation (an import, a test): O(its size). A conversation that is an
   * object with a `turns` list is kept turn by turn, so that `changeConversation` can follow.
   */
  putConversation(id: string, conversation: StoredJson): Promise<void>;
  /** The conversation as it was put and changed since, in one read. */
  getConversation(id: string): Promise<StoredJson | undefined>;
  /**
   * Applies one change to a conversation (turns added, replaced, trimmed; head fields set) in
   * one commit where the backend has commits: after a crash the store holds the conversation
   * before the change or after it, never half of it. Costs the size of the change, not of the
   * history. A change naming a turn that is not stored is refused and writes nothing; so is a
   * change to a conversation that is not an object with a `turns` list.
   */
  changeConversation(id: string, change: ConversationChange): Promise<void>;
  /** Writes many conversations at once (one commit where the backend has commits). */
  putConversations(entries: [string, StoredJson][]): Promise<void>;
  /**
   * Adds entries to their sessions' event logs; an entry whose session already has that `seq`
   * replaces it. With `keep`, then deletes all but the newest `keep` entries of each session
   * the batch wrote to. All in one commit where the backend has commits.
   */
  appendEvents(entries: StoredEvent[], keep?: number): Promise<void>;
  /** One session's entries with a `seq` above `since`, oldest first. */
  readEvents(id: string, since: number): Promise<StoredEvent[]>;
  /** The highest `seq` in the event log of every session that has a record and events. */
  lastEventSeqs(): Promise<[string, number][]>;
  /**
   * Marks the event log in use, durably, and answers whether its previous user closed it with
   * `closeEventLog` (false after a crash: events may have been numbered and never appended).
   * A store whose event log was never opened answers true.
   */
  openEventLog(): Promise<boolean>;
  /** Marks the event log closed: every event numbered was appended. */
  closeEventLog(): Promise<void>;
  close(): Promise<void>;
}
