import type { Logger } from "pino";
import type { SessionStore, StoredEvent, StoredJson } from "../store/index.js";
import type { SessionEvent, SessionEventInput } from "./events.js";
import { sessionInfoFromJSON, sessionInfoToJSON } from "./session-info.js";

/** Events kept per session for replay, by default. */
export const DEFAULT_RETAINED_EVENTS = 100;

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
 * hosted sessions reach through the `session` service. A durable event is handed to the store
 * before anyone is told of it, so a number a subscriber has seen is never given again, even
 * after the program is killed (the shipped stores commit within the call).
 */
export class EventLog {
  /** The last durable `seq` of every session that has one. */
  private readonly heads = new Map<string, number>();
  /** Appends and trims the store has not finished yet: reads wait for them. */
  private readonly writes = new Set<Promise<void>>();
  private readonly trimEvery: number;

  constructor(
    private readonly store: SessionStore,
    private readonly logger: Logger,
    /** How many of each session's newest durable events replay can return. */
    readonly retain = DEFAULT_RETAINED_EVENTS,
  ) {
    // Trimming in steps keeps it off the path of most events; reads never see the surplus.
    this.trimEvery = Math.max(1, Math.ceil(retain / 4));
  }

  /** Learns where each stored session's numbering stopped; before any event is published. */
  async load(): Promise<void> {
    for (const [id, seq] of await this.store.lastEventSeqs()) this.heads.set(id, seq);
  }

  /** The seq of the session's last durable event (0 before its first). */
  head(sessionId: string): number {
    return this.heads.get(sessionId) ?? 0;
  }

  /** Gives the event its number and, if durable, hands it to the store. */
  record(input: SessionEventInput): SessionEvent {
    const id = input.sessionId;
    const head = this.head(id);
    if (!isDurableEvent(input)) return { ...input, seq: head };
    const seq = head + 1;
    this.heads.set(id, seq);
    const event = { ...input, seq } as SessionEvent;
    this.track(this.store.appendEvents([{ sessionId: id, seq, event: toStored(event) }]), event);
    if (seq % this.trimEvery === 0) this.track(this.store.trimEvents(id, this.retain), event);
    return event;
  }

  /** The session's durable events with `since < seq <= upTo`, oldest first, the newest `retain` at most. */
  async read(sessionId: string, since: number, upTo = this.head(sessionId)): Promise<SessionEvent[]> {
    const from = Math.max(since, upTo - this.retain);
    if (from >= upTo) return [];
    await Promise.allSettled([...this.writes]);
    const stored = await this.store.readEvents(sessionId, from);
    return stored.filter((entry) => entry.seq <= upTo).map(fromStored);
  }

  /** Drops a purged session's numbering; the store deleted its log with the session. */
  forget(sessionId: string): void {
    this.heads.delete(sessionId);
  }

  private track(write: Promise<void>, event: SessionEvent): void {
    this.writes.add(write);
    write
      .catch((error: unknown) => {
        // The event was still delivered live; only a later replay will miss it.
        this.logger.warn(
          { event: "session_event_not_kept", sessionId: event.sessionId, seq: event.seq, err: error },
          `event ${event.seq} of ${event.sessionId} could not be written to its log`,
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
