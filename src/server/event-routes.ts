import type { Hono } from "hono";
import type { SessionEvent } from "../session/index.js";
import type { ServerContext, ServerEnv } from "./context.js";
import { parseWith, queryOf } from "./request.js";
import {
  EventsQuerySchema,
  GlobalEventsQuerySchema,
  GlobalLastEventIdSchema,
  LastEventIdSchema,
} from "./schemas.js";
import type { ServedSubscription } from "./served-sessions.js";
import { type SseWriter, sseResponse } from "./sse.js";

/**
 * Events as SSE: one session's (each with `id: <seq>`, resumable with `Last-Event-ID` or
 * `?since=`), and every session's of the caller (`/v1/events`, each with a global id
 * `<epoch>.<n>`, resumable the same way from the server's kept events).
 */
export function eventRoutes(app: Hono<ServerEnv>, ctx: ServerContext): void {
  const { sessions, limits } = ctx;
  const streamOptions = (c: { req: { raw: Request } }) => ({
    signal: c.req.raw.signal,
    heartbeatMs: limits.heartbeatMs,
    maxQueued: limits.maxQueuedEvents,
  });

  app.get("/v1/sessions/:id/events", async (c) => {
    const query = parseWith(EventsQuerySchema, queryOf(c.req.url));
    const header = c.req.header("last-event-id");
    // A reconnecting EventSource sends the header; it wins over the URL it was first opened with.
    const since =
      header === undefined || header.trim() === ""
        ? query.since
        : parseWith(LastEventIdSchema, { "last-event-id": header.trim() })["last-event-id"];
    const id = await ctx.ownedId(c);

    if ((await sessions.getSession(id)) === undefined) {
      // Terminated (its record kept for a restore): what is kept after `since`, then the end;
      // nothing at all is 204, which tells an EventSource to stop reconnecting. Read from the
      // store here (in a cluster the shared one: no node runs the session).
      const kept: SessionEvent[] = [];
      if (since !== undefined) (await ctx.system.subscribe(id, (e) => kept.push(e), { since })).unsubscribe();
      if (kept.length === 0) return c.body(null, 204);
      return sseResponse({
        ...streamOptions(c),
        start: (writer) => {
          for (const event of kept) sendEvent(writer, event);
          writer.close();
        },
      });
    }

    const release = ctx.acquireStream(c.get("owner"));
    return sseResponse({
      ...streamOptions(c),
      start: async (writer) => {
        let subscription: ServedSubscription | undefined;
        writer.onClose(() => {
          if (subscription) ctx.unsubscribe(subscription);
          release();
        });
        ctx.track(writer);
        let replaying = true;
        let lastType: string | undefined;
        const subscribed = await sessions.subscribe(
          id,
          (event) => {
            sendEvent(writer, event);
            lastType = event.type;
            // The session's subscriptions end with it: so does the stream (a replayed ending of
            // a session since restored does not).
            if (!replaying && event.type === "session_terminated") writer.close();
          },
          since === undefined ? {} : { since },
        );
        replaying = false;
        if (writer.closed) {
          ctx.unsubscribe(subscribed);
          return;
        }
        subscription = subscribed;
        if (lastType === "session_terminated" && (await sessions.getSession(id)) === undefined)
          writer.close();
      },
    });
  });

  app.get("/v1/events", async (c) => {
    const query = parseWith(GlobalEventsQuerySchema, queryOf(c.req.url));
    const header = c.req.header("last-event-id")?.trim();
    const since =
      header === undefined || header === ""
        ? query.since
        : parseWith(GlobalLastEventIdSchema, { "last-event-id": header })["last-event-id"];
    const owner = c.get("owner");
    const release = ctx.acquireStream(owner);
    return sseResponse({
      ...streamOptions(c),
      start: (writer) => {
        // In order: an event whose session's owner must be read from the store holds back the
        // ones after it until it is known.
        let pending: Promise<void> = Promise.resolve();
        const follower = ctx.globalEvents.follow(
          since,
          (id, event) => {
            if (query.types && !query.types.has(event.type)) return;
            if (ctx.auth.implicit) {
              writer.send({ event: event.type, id, data: event });
              return;
            }
            pending = pending.then(async () => {
              if (!writer.closed && (await ctx.canSee(owner, event.sessionId).catch(() => false))) {
                writer.send({ event: event.type, id, data: event });
              }
            });
          },
          (lost) => writer.send({ event: lost.type, data: lost }),
        );
        writer.onClose(() => {
          follower.stop();
          release();
        });
        ctx.track(writer);
      },
    });
  });
}

/** A session's event as SSE: named by its type, its `seq` as the id to resume from. */
function sendEvent(writer: SseWriter, event: SessionEvent): void {
  writer.send({ event: event.type, id: event.seq, data: event });
}
