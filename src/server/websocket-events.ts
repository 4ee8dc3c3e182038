import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "../runtime/index.js";
import type { SessionEvent } from "../session/index.js";
import type { GlobalEvents } from "./global-events.js";
import { GlobalEventsQuerySchema } from "./schemas.js";
import type { ServedSessions, ServedSubscription } from "./served-sessions.js";

/** Where a session's events are served over WebSocket: `/v1/sessions/<id>/events/ws`. */
const ROUTE = /^\/v1\/sessions\/([^/]+)\/events\/ws$/;
/** Every session's events the caller may see (as `/v1/events`), resumable with `?since=<globalId>`. */
const GLOBAL_ROUTE = "/v1/events/ws";
/** Bytes a client may leave unread before it is cut off (it resumes with `?since=`). */
const MAX_BUFFERED = 8 * 1024 * 1024;
/** Close codes: 1001 the server is going away, 1008 a policy (too slow), 1011 an error. */
const GOING_AWAY = 1001;
const TOO_SLOW = 1008;

type WsModule = typeof import("ws");
type Socket = InstanceType<WsModule["WebSocket"]>;

export interface WebSocketEvents {
  /** The node server's `upgrade` handler. */
  upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Closes every socket (1001) and takes no more. */
  close(): void;
}

/**
 * A session's events over WebSocket, as its SSE route serves them: one JSON text frame per
 * event (the event with its `seq`), resumable with `?since=<seq>` (the kept events after it,
 * then live ones, none missed or twice), ending with the session. Who may listen is decided by
 * the HTTP API itself: the upgrade is allowed only if `GET /v1/sessions/<id>` answers 200 to
 * the same `Authorization` header, so tokens and owners are checked in one place; otherwise
 * the upgrade is answered with that status and error body.
 */
export async function webSocketEvents(
  sessions: Pick<ServedSessions, "subscribe">,
  fetchApi: (request: Request) => Response | Promise<Response>,
  access: {
    ownerOf(authorization: string | undefined): string;
    canSee(owner: string, sessionId: string): Promise<boolean>;
    readonly globalEvents: GlobalEvents;
  },
  logger: Logger,
): Promise<WebSocketEvents> {
  const { WebSocketServer } = (await import("ws")) as WsModule;
  const wss = new WebSocketServer({ noServer: true });
  const sockets = new Set<Socket>();
  let closing = false;

  const refuse = (socket: Duplex, status: number, body: string) => {
    socket.end(
      `HTTP/1.1 ${status} ${status === 404 ? "Not Found" : "Refused"}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  };

  const serve = async (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    if (url.pathname === GLOBAL_ROUTE && !closing) {
      let owner: string;
      try {
        owner = access.ownerOf(request.headers.authorization);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        refuse(socket, 401, JSON.stringify({ error: { code: "unauthorized", message } }));
        return;
      }
      const since = GlobalEventsQuerySchema.safeParse(Object.fromEntries(url.searchParams));
      if (!since.success) {
        const message = since.error.issues[0]?.message ?? "is invalid";
        refuse(socket, 400, JSON.stringify({ error: { code: "invalid_request", message, field: "since" } }));
        return;
      }
      wss.handleUpgrade(request, socket, head, (ws) =>
        streamAll(ws, owner, since.data.since, since.data.types),
      );
      return;
    }
    const match = ROUTE.exec(url.pathname);
    if (!match || closing) {
      refuse(
        socket,
        closing ? 503 : 404,
        JSON.stringify({
          error: { code: closing ? "server_closing" : "not_found", message: "no such WebSocket route" },
        }),
      );
      return;
    }
    const id = decodeURIComponent(match[1] as string);
    const sinceText = url.searchParams.get("since");
    const since = sinceText === null ? undefined : Number(sinceText);
    if (since !== undefined && !(Number.isSafeInteger(since) && since >= 0)) {
      refuse(
        socket,
        400,
        JSON.stringify({
          error: { code: "invalid_request", message: "since must be a whole number >= 0", field: "since" },
        }),
      );
      return;
    }
    const headers = new Headers();
    if (request.headers.authorization) headers.set("authorization", request.headers.authorization);
    const allowed = await fetchApi(
      new Request(`http://localhost/v1/sessions/${encodeURIComponent(id)}`, { headers }),
    );
    if (allowed.status !== 200) {
      refuse(socket, allowed.status, await allowed.text());
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => void stream(ws, id, since));
  };

  const stream = async (ws: Socket, id: string, since: number | undefined) => {
    sockets.add(ws);
    let subscription: ServedSubscription | undefined;
    let ended = false;
    const end = (code: number, reason: string) => {
      if (ended) return;
      ended = true;
      subscription?.unsubscribe();
      ws.close(code, reason);
    };
    ws.on("close", () => {
      sockets.delete(ws);
      ended = true;
      subscription?.unsubscribe();
    });
    ws.on("error", () => {});
    const send = (event: SessionEvent) => {
      if (ended) return;
      if (ws.bufferedAmount > MAX_BUFFERED) {
        end(TOO_SLOW, "too slow: reconnect with ?since=<the last seq read>");
        return;
      }
      ws.send(JSON.stringify(event));
      if (event.type === "session_terminated") end(1000, "the session was terminated");
    };
    try {
      subscription = await sessions.subscribe(id, send, since === undefined ? {} : { since });
      if (ended) subscription.unsubscribe();
    } catch (error) {
      logger.warn(
        { event: "websocket_subscribe_failed", sessionId: id, error },
        "could not subscribe a WebSocket",
      );
      end(1011, "could not subscribe");
    }
  };

  /**
   * Every session's events the owner may see (of `types`, if given), in order (one whose owner
   * must be read holds back the rest), each frame the event with its `globalId`; after `since`,
   * the kept ones first.
   */
  const streamAll = (
    ws: Socket,
    owner: string,
    since: string | undefined,
    types: Set<string> | undefined,
  ) => {
    sockets.add(ws);
    let pending: Promise<void> = Promise.resolve();
    let ended = false;
    const send = (frame: object) => {
      if (ended) return;
      if (ws.bufferedAmount > MAX_BUFFERED) {
        ended = true;
        ws.close(TOO_SLOW, "too slow: reconnect with ?since=<the last globalId read>");
        return;
      }
      ws.send(JSON.stringify(frame));
    };
    const follower = access.globalEvents.follow(
      since,
      (globalId, event) => {
        if (types && !types.has(event.type)) return;
        pending = pending.then(async () => {
          if (!ended && (await access.canSee(owner, event.sessionId).catch(() => false))) {
            send({ ...event, globalId });
          }
        });
      },
      (lost) => send(lost),
    );
    ws.on("close", () => {
      sockets.delete(ws);
      ended = true;
      follower.stop();
    });
    ws.on("error", () => {});
  };

  return {
    upgrade: (request, socket, head) => {
      serve(request, socket, head).catch((error: unknown) => {
        logger.error({ event: "websocket_upgrade_failed", error }, "a WebSocket upgrade failed");
        socket.destroy();
      });
    },
    close: () => {
      closing = true;
      for (const ws of sockets) ws.close(GOING_AWAY, "the server is closing");
      wss.close();
    },
  };
}
