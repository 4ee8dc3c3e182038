import { StoreClosedError } from "./errors.js";
import type { SessionStore, StoredJson, StoredSession } from "./session-store.js";
import { assertStoreKey } from "./store-key.js";
import { parseStoredText } from "./stored-text.js";

/**
 * The in-memory backend. Values are kept serialized, as a database keeps them: a caller that
 * mutates what it stored or read cannot change the stored state, and a JSON string takes a
 * fraction of the memory of the object graph it came from.
 */
export class MemorySessionStore implements SessionStore {
  private readonly records = new Map<string, string>();
  private readonly conversations = new Map<string, string>();
  private closed = false;

  async putSession(id: string, record: { [key: string]: StoredJson }): Promise<void> {
    this.open(id);
    this.records.set(id, JSON.stringify(record));
  }

  async getSession(id: string): Promise<StoredSession | undefined> {
    this.open(id);
    const record = this.records.get(id);
    return record === undefined
      ? undefined
      : { id, record: parseStoredText(record, { sessionId: id, part: "record" }) as StoredSession["record"] };
  }

  async listSessions(): Promise<StoredSession[]> {
    this.open();
    return [...this.records].map(([id, record]) => ({
      id,
      record: parseStoredText(record, { sessionId: id, part: "record" }) as StoredSession["record"],
    }));
  }

  async deleteSession(id: string): Promise<void> {
    this.open(id);
    this.records.delete(id);
    this.conversations.delete(id);
  }

  async putConversation(id: string, conversation: StoredJson): Promise<void> {
    this.open(id);
    this.conversations.set(id, JSON.stringify(conversation));
  }

  async putConversations(entries: [string, StoredJson][]): Promise<void> {
    this.open();
    for (const [id] of entries) assertStoreKey(id);
    for (const [id, conversation] of entries) this.conversations.set(id, JSON.stringify(conversation));
  }

  async getConversation(id: string): Promise<StoredJson | undefined> {
    this.open(id);
    const conversation = this.conversations.get(id);
    return conversation === undefined
      ? undefined
      : parseStoredText(conversation, { sessionId: id, part: "conversation" });
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private open(id?: string): void {
    if (this.closed) throw new StoreClosedError();
    if (id !== undefined) assertStoreKey(id);
  }
}
