import {
  assertConversationChange,
  type ConversationChange,
  joinConversation,
  missingTurn,
  notTurnByTurn,
  splitConversation,
  turnIdOf,
} from "./conversation-change.js";
import { StoreClosedError } from "./errors.js";
import { assertEventSeq } from "./event-seq.js";
import type { SessionStore, StoredEvent, StoredJson, StoredSession } from "./session-store.js";
import { assertStoreKey } from "./store-key.js";
import { parseStoredText } from "./stored-text.js";

/** One conversation: its head and its turns, each serialized on its own (`turns` undefined: kept whole). */
interface StoredConversation {
  head: string;
  /** By seq, oldest first (a Map keeps insertion order, and seqs only grow). */
  turns: Map<number, { id: string | undefined; text: string }> | undefined;
  /** Each turn id's seq (the newest, should several turns share an id). */
  seqs: Map<string, number>;
  nextSeq: number;
}

function storeConversation(conversation: StoredJson): StoredConversation {
  const { head, turns } = splitConversation(conversation);
  const stored: StoredConversation = {
    head: JSON.stringify(head),
    turns: turns ? new Map() : undefined,
    seqs: new Map(),
    nextSeq: 1,
  };
  for (const turn of turns ?? []) appendTurn(stored, { id: turnIdOf(turn), text: JSON.stringify(turn) });
  return stored;
}

function appendTurn(conversation: StoredConversation, turn: { id: string | undefined; text: string }): void {
  const seq = conversation.nextSeq++;
  conversation.turns?.set(seq, turn);
  if (turn.id !== undefined) conversation.seqs.set(turn.id, seq);
}

/**
 * The in-memory backend. Values are kept serialized, as a database keeps them: a caller that
 * mutates what it stored or read cannot change the stored state, and a JSON string takes a
 * fraction of the memory of the object graph it came from.
 */
export class MemorySessionStore implements SessionStore {
  private readonly records = new Map<string, string>();
  private readonly conversations = new Map<string, StoredConversation>();
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
    this.conversations.set(id, storeConversation(conversation));
  }

  async putConversations(entries: [string, StoredJson][]): Promise<void> {
    this.open();
    for (const [id] of entries) assertStoreKey(id);
    for (const [id, conversation] of entries) this.conversations.set(id, storeConversation(conversation));
  }

  async getConversation(id: string): Promise<StoredJson | undefined> {
    this.open(id);
    const conversation = this.conversations.get(id);
    if (conversation === undefined) return undefined;
    const entry = { sessionId: id, part: "conversation" } as const;
    if (!conversation.turns) return parseStoredText(conversation.head, entry);
    const turns = Array.from(conversation.turns.values(), (turn) => turn.text).join(",");
    return joinConversation(conversation.head, turns, entry);
  }

  /** Checks the whole change first, then applies it: nothing is half done. */
  async changeConversation(id: string, change: ConversationChange): Promise<void> {
    this.open(id);
    assertConversationChange(change);
    const conversation = this.conversations.get(id) ?? storeConversation({ turns: [] });
    const { turns, seqs } = conversation;
    if (!turns) throw notTurnByTurn(id);
    const replaced = (change.replace ?? []).map((turn) => {
      const turnId = turnIdOf(turn) as string;
      const seq = seqs.get(turnId);
      if (seq === undefined) throw missingTurn("replace", turnId, id);
      return [seq, { id: turnId, text: JSON.stringify(turn) }] as const;
    });
    const appended = (change.append ?? []).map((turn) => ({
      id: turnIdOf(turn),
      text: JSON.stringify(turn),
    }));
    const { keepFrom } = change;
    if (keepFrom !== undefined && !seqs.has(keepFrom) && !appended.some((t) => t.id === keepFrom))
      throw missingTurn("keepFrom", keepFrom, id);
    const entry = { sessionId: id, part: "conversation" } as const;
    const head =
      change.set === undefined
        ? conversation.head
        : JSON.stringify({ ...(parseStoredText(conversation.head, entry) as object), ...change.set });

    for (const [seq, turn] of replaced) turns.set(seq, turn);
    for (const turn of appended) appendTurn(conversation, turn);
    if (keepFrom !== undefined) {
      const first = seqs.get(keepFrom) as number;
      // Oldest first: stops at the first turn kept, so the cost is the number dropped.
      for (const [seq, turn] of turns) {
        if (seq >= first) break;
        turns.delete(seq);
        if (turn.id !== undefined && seqs.get(turn.id) === seq) seqs.delete(turn.id);
      }
    }
    conversation.head = head;
    this.conversations.set(id, conversation);
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
