import { randomBytes } from "node:crypto";
import type { SessionEvent } from "../session/index.js";
import type { ServedSessions, ServedSubscription } from "./served-sessions.js";

/**
 * What a global stream sends first when it cannot give everything after the client's cursor:
 * the cursor is older than the kept events, or from before the server restarted. The client
 * should read afresh what it shows (sessions, statuses) — the events it missed are gone.
 */
export interface EventsLost {
  type: "events_lost";
  /** The cursor the client gave. */
  since: string;
  message: string;
}

/** A global event's id: the server's epoch (a new one each start) and its number in it. */
const CURSOR = /^([0-9a-f]{8})\.(\d{1,15})$/;

type Listener = (id: string, event: SessionEvent) => void;

/**
 * Every session's events, numbered for the global streams (`/v1/events` and its WebSocket),
 * the newest `keep` of them kept in memory, so that a client that reconnects with the id of
 * the last event it read (`Last-Event-ID`, `?since=`) gets every event after it, none twice.
 * Per-session logs are the store's; this is the server's own, and starts empty with each
 * server: its ids carry a random epoch, so a cursor from before a restart is known as one.
 */
export class GlobalEvents {
  readonly epoch = randomBytes(4).toString("hex");
  private count = 0;
  /** A ring of the newest events: `kept[n % keep]` holds event n while n > count - keep. */
  private readonly kept: (SessionEvent | undefined)[];
  private readonly listeners = new Set<Listener>();
  private readonly subscription: ServedSubscription;

  constructor(
    sessions: Pick<ServedSessions, "subscribeAll">,
    private readonly keep: number,
  ) {
    this.kept = new Array(keep);
    this.subscription = sessions.subscribeAll((event) => {
      const n = ++this.count;
      this.kept[n % keep] = event;
      const id = this.idOf(n);
      for (const listener of this.listeners) listener(id, event);
    });
  }

  private idOf(n: number): string {
    return `${this.epoch}.${n}`;
  }

  /**
   * Gives `listener` the kept events after `since` (all of them if it is older than what is
   * kept), then every new one, until `stop`. Replay and subscription happen in one go, so no
   * event falls between them. First, if the client missed events it cannot have back, `onLost`
   * says so.
   */
  follow(
    since: string | undefined,
    listener: Listener,
    onLost: (lost: EventsLost) => void,
  ): { stop(): void } {
    let lost: EventsLost | undefined;
    if (since !== undefined) {
      const match = CURSOR.exec(since);
      const oldest = Math.max(1, this.count - this.keep + 1);
      let from = oldest;
      if (!match || match[1] !== this.epoch) {
        lost = lostSince(since, "the server restarted since that event; its events are gone");
        from = this.count + 1;
      } else {
        const n = Number(match[2]);
        if (n > this.count) {
          lost = lostSince(since, "no such event: the cursor is ahead of this server");
          from = this.count + 1;
        } else if (n + 1 < oldest) {
          lost = lostSince(since, `only the newest ${this.keep} events are kept; older ones are gone`);
        } else {
          from = n + 1;
        }
      }
      if (lost) onLost(lost);
      for (let n = from; n <= this.count; n++)
        listener(this.idOf(n), this.kept[n % this.keep] as SessionEvent);
    }
    this.listeners.add(listener);
    return { stop: () => this.listeners.delete(listener) };
  }

  close(): void {
    this.listeners.clear();
    try {
      this.subscription.unsubscribe();
    } catch {
      // The system has stopped already.
    }
  }
}

function lostSince(since: string, message: string): EventsLost {
  return { type: "events_lost", since, message };
}
