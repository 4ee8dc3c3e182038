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
import type {
  PutSessionOptions,
  SessionStore,
  StoredEvent,
  StoredJson,
  StoredSession,
} from "./session-store.js";
import { assertStoreKey } from "./store-key.js";
import { parseStoredText } from "./stored-text.js";

type SessionRecordObject = { [key: string]: StoredJson };
type StoredTurn = { id: string | undefined; text: string };
type StoredEventText = { seq: number; event: string };

/** One session's event log, oldest first, and the `keep` it was last appended with. */
class StoredEventLog {
  readonly texts: StoredEventText[] = [];
  /** A log may hold up to TRIM_SLACK more than this, which reads leave out. */
  keep: number | undefined = undefined;
}

/**
 * One conversation: its head and its turns, each serialized on its own (`turns` undefined:
 * kept whole, `head` the whole text). The head of a turn-by-turn conversation is kept field by
 * field, each as its `"name":value` JSON text, so a change that sets a field serializes that
 * field alone instead of parsing and re-serializing the whole head. Turns before `first` were
 * dropped; the array is compacted once they are the larger part, so dropping costs the number
 * dropped. An array, not a Map by seq: appending to a long Map costs measurably more (its hash
 * table leaves the cache), appending to an array not.
 */
interface StoredConversation {
  head: Map<string, string> | string;
  turns: StoredTurn[] | undefined;
  first: number;
}

/** Each field's `"name":value` text; undefined for a value JSON leaves out, which removes the field. */
function headFields(fields: { [key: string]: StoredJson }): [string, string | undefined][] {
  return Object.keys(fields).map((key) => {
    const text = JSON.stringify(fields[key]) as string | undefined;
    return [key, text === undefined ? undefined : `${JSON.stringify(key)}:${text}`];
  });
}

/** Sets the fields in the order an object spread would. */
function setHeadFields(head: Map<string, string>, fields: [string, string | undefined][]): void {
  for (const [key, text] of fields) {
    if (text === undefined) head.delete(key);
    else head.set(key, text);
  }
}

function headText(head: Map<string, string>): string {
  return `{${[...head.values()].join(",")}}`;
}

function storeConversation(conversation: StoredJson): StoredConversation {
  const { head, turns } = splitConversation(conversation);
  if (!turns) return { head: JSON.stringify(head), turns: undefined, first: 0 };
  const fields = new Map<string, string>();
  setHeadFields(fields, headFields(head as { [key: string]: StoredJson }));
  return {
    head: fields,
    turns: turns.map((turn) => ({ id: turnIdOf(turn), text: JSON.stringify(turn) })),
    first: 0,
  };
}

/**
 * `JSON.stringify(value)` as one flat string. V8 returns a longer result as a rope of the
 * builder's parts (a ~1 KB session record: nine heap objects, ~190 bytes more than its text),
 * which a Map value never flattens, so every collection copies and marks each part. Reading a
 * character flattens it once, here; the parts are garbage before they ever survive a collection.
 */
function keptJson(value: unknown): string {
  const text = JSON.stringify(value);
  // Undefined for a value JSON leaves out, as before: kept as JSON.stringify gave it.
  (text as string | undefined)?.charCodeAt(0);
  return text;
}

/** The newest turn with this id: a change replaces the newest turns, so the scan is short. */
function newestIndexOf(conversation: StoredConversation, id: string): number {
  const turns = conversation.turns as StoredTurn[];
  for (let i = turns.length - 1; i >= conversation.first; i--)
    if ((turns[i] as StoredTurn).id === id) return i;
  return -1;
}

/** The oldest turn with this id: the history drops its oldest turns, so the scan is short. */
function oldestIndexOf(conversation: StoredConversation, id: string): number {
  const turns = conversation.turns as StoredTurn[];
  for (let i = conversation.first; i < turns.length; i++) if ((turns[i] as StoredTurn).id === id) return i;
  return -1;
}

/**
 * The in-memory backend. Values are kept serialized, as a database keeps them: a caller that
 * mutates what it stored or read cannot change the stored state, and a JSON string takes a
 * fraction of the memory of the object graph it came from.
 */
/** How far past its `keep` an event log may grow before it is trimmed back. */
const TRIM_SLACK = 64;

export class MemorySessionStore implements SessionStore {
  /**
   * Each record as JSON text, or as the object put when it was put `durable: false` and has been
   * neither read nor replaced since (see `putSession`).
   */
  private readonly records = new Map<string, string | SessionRecordObject>();
  private readonly conversations = new Map<string, StoredConversation>();
  /**
   * Each session's event log. Its `keep` is kept on it rather than in a WeakMap: a WeakMap set
   * per append was as costly as the append, and an ephemeron per session for the collector.
   */
  private readonly events = new Map<string, StoredEventLog>();
  private eventLogOpen = false;
  private closed = false;

  /**
   * Nothing here outlives the process: every write is as durable as it gets, whatever `options`
   * say. A record put `durable: false` is mostly one about to be replaced (a hosted or restored
   * session's `initializing` record, replaced by its `active` one once its processes are up): it
   * is kept as the object given and serialized only when it is read, so that such a start
   * serializes its ~1 KB record once, not twice. The record is the caller's as built:
   * the session manager builds a new one for every write, of values it does not change.
   */
  async putSession(
    id: string,
    record: { [key: string]: StoredJson },
    options?: PutSessionOptions,
  ): Promise<void> {
    this.open(id);
    this.records.set(id, options?.durable === false ? record : keptJson(record));
  }

  async getSession(id: string): Promise<StoredSession | undefined> {
    this.open(id);
    const record = this.records.get(id);
    return record === undefined
      ? undefined
      : {
          id,
          record: parseStoredText(this.recordText(id, record), {
            sessionId: id,
            part: "record",
          }) as StoredSession["record"],
        };
  }

  async listSessions(): Promise<StoredSession[]> {
    this.open();
    return [...this.records].map(([id, record]) => ({
      id,
      record: parseStoredText(this.recordText(id, record), {
        sessionId: id,
        part: "record",
      }) as StoredSession["record"],
    }));
  }

  /** A record's text; one put `durable: false` is serialized at its first read, and kept so. */
  private recordText(id: string, record: string | SessionRecordObject): string {
    if (typeof record === "string") return record;
    const text = keptJson(record);
    this.records.set(id, text);
    return text;
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
    const { head, turns } = conversation;
    if (typeof head === "string" || !turns) return parseStoredText(head as string, entry);
    const texts = turns
      .slice(conversation.first)
      .map((turn) => turn.text)
      .join(",");
    return joinConversation(headText(head), texts, entry);
  }

  /** Checks the whole change first, then applies it: nothing is half done. */
  async changeConversation(id: string, change: ConversationChange): Promise<void> {
    this.open(id);
    assertConversationChange(change);
    const conversation = this.conversations.get(id) ?? storeConversation({ turns: [] });
    const { head, turns } = conversation;
    if (!turns || typeof head === "string") throw notTurnByTurn(id);
    const replaced = (change.replace ?? []).map((turn) => {
      const turnId = turnIdOf(turn) as string;
      const at = newestIndexOf(conversation, turnId);
      if (at < 0) throw missingTurn("replace", turnId, id);
      return [at, { id: turnId, text: JSON.stringify(turn) }] as const;
    });
    const appended = (change.append ?? []).map((turn) => ({
      id: turnIdOf(turn),
      text: JSON.stringify(turn),
    }));
    const { keepFrom } = change;
    let keepAt = keepFrom === undefined ? -1 : oldestIndexOf(conversation, keepFrom);
    if (keepFrom !== undefined && keepAt < 0) {
      const inAppended = appended.findIndex((t) => t.id === keepFrom);
      if (inAppended < 0) throw missingTurn("keepFrom", keepFrom, id);
      keepAt = turns.length + inAppended;
    }
    // Serialized before anything is applied: a value JSON cannot write fails the change whole.
    const set = change.set === undefined ? undefined : headFields(change.set);

    for (const [at, turn] of replaced) turns[at] = turn;
    turns.push(...appended);
    if (keepAt > conversation.first) {
      conversation.first = keepAt;
      // Compacted once the dropped turns outnumber the kept: amortized, the cost of dropping.
      if (keepAt > turns.length - keepAt) {
        turns.splice(0, keepAt);
        conversation.first = 0;
      }
    }
    if (set) setHeadFields(head, set);
    this.conversations.set(id, conversation);
  }

  async appendEvents(entries: StoredEvent[], keep?: number): Promise<void> {
    this.open();
    // A batch is mostly runs of one session's events: each id is checked and looked up once per run.
    let checked: string | undefined;
    for (const entry of entries) {
      if (entry.sessionId !== checked) {
        assertStoreKey(entry.sessionId);
        checked = entry.sessionId;
      }
      assertEventSeq(entry.seq, "seq");
    }
    if (keep !== undefined) assertEventSeq(keep, "keep", 0);
    // Once per run: a log twice in the batch is trimmed twice, the second time a no-op.
    const written: StoredEventLog[] = [];
    let logOf: string | undefined;
    let log: StoredEventText[] = [];
    for (const { sessionId, seq, event } of entries) {
      if (sessionId !== logOf) {
        logOf = sessionId;
        let found = this.events.get(sessionId);
        if (!found) {
          found = new StoredEventLog();
          this.events.set(sessionId, found);
        }
        log = found.texts;
        written.push(found);
      }
      const stored = { seq, event: keptJson(event) };
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
    for (const trimmed of written) {
      trimmed.keep = keep;
      const { texts } = trimmed;
      // Trimmed in steps, not at every append: a splice moves the whole log each time.
      if (texts.length > keep + TRIM_SLACK) texts.splice(0, texts.length - keep);
    }
  }

  async readEvents(id: string, since: number): Promise<StoredEvent[]> {
    this.open(id);
    assertEventSeq(since, "since", 0);
    const stored = this.events.get(id);
    const log = stored?.texts ?? [];
    const keep = stored?.keep;
    return (keep !== undefined && log.length > keep ? log.slice(log.length - keep) : log)
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
      const last = log.texts.at(-1);
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
