import { StoreClosedError } from "./errors.js";
import { assertEventSeq } from "./event-seq.js";
import type { SessionStore, StoredEvent, StoredJson, StoredSession } from "./session-store.js";
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
  /** Each session's event log, oldest first. */
  private readonly events = new Map<string, { seq: number; event: string }[]>();
  private eventLogOpen = false;
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
    this.events.delete(id);
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

  async appendEvents(entries: StoredEvent[], keep?: number): Promise<void> {
    this.open();
    for (const entry of entries) {
      assertStoreKey(entry.sessionId);
      assertEventSeq(entry.seq, "seq");
    }
    if (keep !== undefined) assertEventSeq(keep, "keep", 0);
    for (const { sessionId, seq, event } of entries) {
      let log = this.events.get(sessionId);
      if (!log) {
        log = [];
        this.events.set(sessionId, log);
      }
      const stored = { seq, event: JSON.stringify(event) };
      const last = log.at(-1);
      if (!last || last.seq < seq) {
        log.push(stored);
        continue;
      }
      // Out of order or a replacement: rare, so a sorted insert is good enough.
      const at = log.findIndex((e) => e.seq >= seq);
      log.splice(at, log[at]?.seq === seq ? 1 : 0, stored);
    }
    if (keep === undefined) return;
    for (const id of new Set(entries.map((e) => e.sessionId))) {
      const log = this.events.get(id) as { seq: number }[];
      if (log.length > keep) log.splice(0, log.length - keep);
    }
  }

  async readEvents(id: string, since: number): Promise<StoredEvent[]> {
    this.open(id);
    assertEventSeq(since, "since", 0);
    return (this.events.get(id) ?? [])
      .filter((e) => e.seq > since)
      .map((e) => ({
        sessionId: id,
        seq: e.seq,
        event: parseStoredText(e.event, { sessionId: id, part: "events" }),
      }));
  }

  async lastEventSeqs(): Promise<[string, number][]> {
    this.open();
    const heads: [string, number][] = [];
    for (const [id, log] of this.events) {
      const last = log.at(-1);
      if (last && this.records.has(id)) heads.push([id, last.seq]);
    }
    return heads;
  }

  async openEventLog(): Promise<boolean> {
    this.open();
    const closedBefore = !this.eventLogOpen;
    this.eventLogOpen = true;
    return closedBefore;
  }

  async closeEventLog(): Promise<void> {
    this.open();
    this.eventLogOpen = false;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private open(id?: string): void {
    if (this.closed) throw new StoreClosedError();
    if (id !== undefined) assertStoreKey(id);
  }
}
