import type { Logger } from "../runtime/index.js";
import type { SessionStore, StoredEvent, StoredJson } from "../store/index.js";
import type { SessionEvent, SessionEventInput } from "./events.js";
import { sessionInfoFromJSON, sessionInfoToJSON } from "./session-info.js";

/** Events kept per session for replay, by default. */
export const DEFAULT_RETAINED_EVENTS = 100;

/**
 * At most this many numbered events wait to be written at any time. After a crash each
 * session's numbering starts this far past what its log holds, so that no number a listener
 * may have seen is given to another event.
 */
export const MAX_UNWRITTEN_EVENTS = 64;

/**
 * A batch goes to the store once this many durable events wait, if the event loop has not
 * turned first. Well under MAX_UNWRITTEN_EVENTS: a program that sends turn after turn without
 * yielding (an offline model, a script) has every batch written inside one of its turns, and a
 * batch of 64 made every sixteenth turn pay ~60 µs of serializing (memory store) at once.
 */
export const WRITE_AT_EVENTS = 16;

/**
 * Whether an event is written to its session's log, and so can be replayed. A streamed reply's
 * `llm_delta`s are not: they come many per turn, and the reply they make up is kept whole by the
 * `message_added` and `llm_done` that end the turn. Every other type, including ones added later,
 * is durable.
 */
export function isDurableEvent(event: { type: string }): boolean {
  return event.type !== "llm_delta";
}

/**
 * Numbers each session's events and keeps the durable ones in the store, for subscribers that
 * resume with `since`. The only place a `seq` is given: the main process's `publish`, which
 * hosted sessions reach through the `session` service.
 *
 * Listeners are told of an event at once; the store gets it with the other events published
 * in the same turn of the event loop (or the same `WRITE_AT_EVENTS`), in one commit that
 * also trims the logs to their newest `retain` events: a commit per event would cost more than
 * the turn that published it. A crash can lose those unwritten events from the log (never from
 * the conversation), but not their numbers: they are never given again.
 */
export class EventLog {
  /** The last durable `seq` of every session that has one. */
  private readonly heads = new Map<string, number>();
  /** Where a session unknown to `heads` starts: past any number a crash may have lost. */
  private floor = 0;
  private unwritten: StoredEvent[] = [];
  private writeScheduled = false;
  /** Appends the store has not finished yet: reads wait for them. */
  private readonly writes = new Set<Promise<void>>();

  constructor(
    private readonly store: SessionStore,
    private readonly logger: Logger,
    /** How many of each session's newest durable events replay can return. */
    readonly retain = DEFAULT_RETAINED_EVENTS,
    /**
     * The store is shared with other systems (cluster mode): its open/closed mark is store-wide,
     * so one node's clean close would hide another's crash. Nothing store-wide is read or
     * marked; each session's numbering is learnt when it is adopted (`resume`).
     */
    private readonly shared = false,
  ) {}

  /** Learns where each stored session's numbering stopped; before any event is published. */
  async open(): Promise<void> {
    if (this.shared) return;
    const closedCleanly = await this.store.openEventLog();
    this.floor = closedCleanly ? 0 : MAX_UNWRITTEN_EVENTS;
    for (const [id, seq] of await this.store.lastEventSeqs()) this.heads.set(id, seq + this.floor);
  }

  /** Writes what is still unwritten and marks the log closed, so the next open skips nothing. */
  async close(): Promise<void> {
    this.write();
    await this.settled();
    if (!this.shared) await this.store.closeEventLog();
  }

  /**
   * Numbering of a session this system takes over from another (or from a crashed run of its
   * own): it goes on past the session's last stored event by MAX_UNWRITTEN_EVENTS, since the
   * previous owner may have numbered (and told listeners of) events it never wrote. A gap,
   * never a repeat. Before the session publishes anything here.
   */
  async resume(sessionId: string): Promise<void> {
    this.forget(sessionId);
    const stored = await this.store.readEvents(sessionId, 0);
    const last = stored.reduce((max, entry) => Math.max(max, entry.seq), 0);
    this.heads.set(sessionId, last + MAX_UNWRITTEN_EVENTS);
  }

  /** The seq of the session's last durable event (0 before its first). */
  head(sessionId: string): number {
    return this.heads.get(sessionId) ?? this.floor;
  }

  /**
   * Gives the event its number and, if durable, queues it for the store. The input becomes the
   * event (its `seq` is set on it): every publisher builds a fresh one for its publish, and a
   * copy of each of the dozen event shapes cost more than the rest of what publishing does.
   */
  record(input: SessionEventInput): SessionEvent {
    const event = input as SessionEvent;
    const id = input.sessionId;
    const head = this.head(id);
    if (!isDurableEvent(input)) {
      event.seq = head;
      return event;
    }
    const seq = head + 1;
    this.heads.set(id, seq);
    event.seq = seq;
    this.unwritten.push({ sessionId: id, seq, event: toStored(event) });
    if (this.unwritten.length >= WRITE_AT_EVENTS) this.write();
    else if (!this.writeScheduled) {
      this.writeScheduled = true;
      setImmediate(() => this.write());
    }
    return event;
  }

  /** The session's durable events with `since < seq <= upTo`, oldest first, the newest `retain` at most. */
  async read(sessionId: string, since: number, upTo = this.head(sessionId)): Promise<SessionEvent[]> {
    const from = Math.max(since, upTo - this.retain);
    if (from >= upTo) return [];
    this.write();
    await this.settled();
    const stored = await this.store.readEvents(sessionId, from);
    return stored.filter((entry) => entry.seq <= upTo).map(fromStored);
  }

  /** Drops a purged session's numbering and unwritten events; the store deleted its log with it. */
  forget(sessionId: string): void {
    this.heads.delete(sessionId);
    if (this.unwritten.some((entry) => entry.sessionId === sessionId))
      this.unwritten = this.unwritten.filter((entry) => entry.sessionId !== sessionId);
  }

  private write(): void {
    this.writeScheduled = false;
    const batch = this.unwritten;
    if (batch.length === 0) return;
    this.unwritten = [];
    this.track(this.append(batch), batch);
  }

  /** Waits for the writes begun so far; later ones are not waited for, so a busy log cannot starve a read. */
  private async settled(): Promise<void> {
    await Promise.allSettled([...this.writes]);
  }

  /**
   * A shared store refuses a whole batch when one of its sessions is no longer owned here
   * (StaleFenceError naming it): the others' events are written again without that session's.
   */
  private append(batch: StoredEvent[], refused = new Set<string>()): Promise<void> {
    return this.store.appendEvents(batch, this.retain).catch((error: unknown) => {
      const sessionId = (error as { code?: unknown; sessionId?: unknown })?.sessionId;
      const stale = (error as { code?: unknown })?.code === "stale_fence" && typeof sessionId === "string";
      if (!stale || refused.has(sessionId)) throw error;
      refused.add(sessionId);
      const rest = batch.filter((entry) => entry.sessionId !== sessionId);
      if (rest.length === 0) throw error;
      this.logger.warn(
        { event: "session_events_not_kept", sessionId, err: error },
        `events of ${sessionId} were refused by the store (not owned here any more)`,
      );
      return this.append(rest, refused);
    });
  }

  private track(write: Promise<void>, batch: StoredEvent[]): void {
    this.writes.add(write);
    write
      .catch((error: unknown) => {
        // Listeners were told already; only a later replay will miss these.
        const first = batch[0] as StoredEvent;
        this.logger.warn(
          { event: "session_events_not_kept", count: batch.length, err: error },
          `${batch.length} event(s) from ${first.sessionId} #${first.seq} on could not be written to the event log`,
        );
      })
      .finally(() => this.writes.delete(write));
  }
}

/** What the store serializes; `session_created` carries its info as the store keeps session records. */
function toStored(event: SessionEvent): StoredJson {
  const plain = event.type === "session_created" ? { ...event, info: sessionInfoToJSON(event.info) } : event;
  return plain as unknown as StoredJson;
}

function fromStored(entry: StoredEvent): SessionEvent {
  const event = entry.event as unknown as SessionEvent;
  const revived =
    event.type === "session_created" ? { ...event, info: sessionInfoFromJSON(event.info) } : event;
  return { ...revived, seq: entry.seq };
}
