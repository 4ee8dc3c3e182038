import type { PubSub, Subscription } from "../registry/index.js";
import type { Logger } from "../runtime/index.js";
import type { EventLog } from "./event-log.js";
import type { SessionEvent, SessionEventListener } from "./events.js";
import { sessionTopic } from "./session-id.js";

/**
 * Subscribes to a session's topic and first replays its durable events after `since`. The live
 * subscription starts before the log is read, and the read stops at the seq the session had at
 * that moment: live events published meanwhile are held back and delivered after the replay,
 * so nothing falls between the two and nothing comes twice.
 */
export async function subscribeWithReplay(
  pubsub: PubSub,
  log: EventLog,
  logger: Logger,
  sessionId: string,
  listener: SessionEventListener,
  since: number,
): Promise<Subscription> {
  let held: SessionEvent[] | undefined = [];
  const subscription = pubsub.subscribe(sessionTopic(sessionId), (message) => {
    if (held) held.push(message as SessionEvent);
    else listener(message as SessionEvent);
  });
  const upTo = log.head(sessionId);
  const deliver = (event: SessionEvent) => {
    try {
      listener(event);
    } catch (error) {
      // As for a live broadcast: one listener's failure is logged, and delivery goes on.
      logger.error(
        { event: "subscriber_failed", sessionId, seq: event.seq, err: error },
        `a subscriber of ${sessionId} threw on a replayed event`,
      );
    }
  };
  try {
    for (const event of await log.read(sessionId, since, upTo)) deliver(event);
  } catch (error) {
    subscription.unsubscribe();
    throw error;
  }
  // A listener may cause more events while it runs: they join the queue being emptied.
  for (let event = held.shift(); event; event = held.shift()) deliver(event);
  held = undefined;
  return subscription;
}
