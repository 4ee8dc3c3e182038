import type { Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { type Logger, silentLogger } from "../runtime/index.js";
import { SessionSystem } from "../session/index.js";
import { Auth, type TokenEntry } from "./auth.js";
import { ServerContext, type ServerEnv } from "./context.js";
import { errorResponse, HttpError } from "./errors.js";
import { eventRoutes } from "./event-routes.js";
import type { GlobalEvents } from "./global-events.js";
import { createMetrics } from "./metrics.js";
import { observerPage, observerRoutes } from "./observer.js";
import { openApiDocument } from "./openapi.js";
import { resolveServerLimits, type ServerLimits } from "./options.js";
import { SessionOwners } from "./owners.js";
import { localSessions, type ServedSessions } from "./served-sessions.js";
import { sessionRoutes } from "./session-routes.js";
import { treeRoutes } from "./tree-routes.js";
import { turnRoutes } from "./turn-routes.js";

export interface AppOptions {
  /**
   * The bearer tokens accepted, each naming its owner (see `loadTokens`). None: every request
   * is the one implicit owner's, which `serve` allows only on a loopback address.
   */
  tokens?: readonly TokenEntry[] | undefined;
  limits?: Partial<ServerLimits> | undefined;
  /** Where failed requests are logged (default: nowhere). */
  logger?: Logger | undefined;
  /** The version `/openapi.json` states (default 0.0.0). */
  version?: string | undefined;
  /**
   * Development mode: `POST /v1/processes/:pid/kill` and `POST /v1/hosts/:hostId/kill` work (and
   * the web observer shows their buttons); otherwise they answer 404. `serve` refuses it on an
   * address other than a loopback one. Default false.
   */
  dev?: boolean | undefined;
}

/** The HTTP API over one session system (or a cluster's), as a fetch handler (see `serve` for a listening server). */
export interface SessionvisorApp {
  readonly hono: Hono<ServerEnv>;
  readonly fetch: (request: Request) => Response | Promise<Response>;
  /** No tokens are configured: one implicit owner, who sees every session. */
  readonly implicitOwner: boolean;
  /** SSE streams open now. */
  readonly openStreams: number;
  /**
   * @internal Who an `Authorization` header speaks for, and whether that owner may see a
   * session: what the WebSocket events (served beside the app) check, by the app's own rules.
   */
  readonly access: {
    ownerOf(authorization: string | undefined): string;
    canSee(owner: string, sessionId: string): Promise<boolean>;
    readonly globalEvents: GlobalEvents;
    readonly sessions: ServedSessions;
  };
  /**
   * Stops taking requests (they answer 503 `server_closing`, `/readyz` too), ends every SSE
   * stream and cancels every turn in flight. The session system is left running.
   */
  close(): void;
}

/** A well-formed id no session has, to ask the store whether it answers. */
const PROBE_ID = "session_00000000-0000-4000-8000-000000000000";

/**
 * The HTTP API (routes under `/v1`, `/healthz`, `/readyz`) over a started session system, or
 * the sessions of a whole cluster (what `serve` gives it in cluster mode). Reads who owns each
 * stored session first.
 */
export async function createApp(
  served: SessionSystem | ServedSessions,
  options: AppOptions = {},
): Promise<SessionvisorApp> {
  const sessions = served instanceof SessionSystem ? localSessions(served) : served;
  const system = sessions.local;
  const limits = resolveServerLimits(options.limits);
  const auth = new Auth(options.tokens);
  const logger = options.logger ?? silentLogger();
  const owners = new SessionOwners(system.store);
  await owners.load();
  const ctx = new ServerContext(sessions, auth, owners, limits, logger);

  // Loaded here, not at import: a program that imports sessionvisor and never serves does not
  // pay for hono (about 40 ms with the node adapter).
  const { Hono } = await import("hono");
  const app = new Hono<ServerEnv>();
  app.onError((error, c) => {
    const { status, body, internal } = errorResponse(error);
    if (internal) {
      logger.error(
        { event: "http_request_failed", err: error, method: c.req.method, path: c.req.path },
        "request failed",
      );
    }
    if (status === 401) c.header("WWW-Authenticate", 'Bearer realm="sessionvisor"');
    if (error instanceof HttpError)
      for (const [name, value] of Object.entries(error.headers)) c.header(name, value);
    return c.json(body, status as ContentfulStatusCode);
  });
  app.notFound((c) =>
    c.json({ error: { code: "not_found", message: `no route ${c.req.method} ${c.req.path}` } }, 404),
  );

  app.get("/healthz", (c) => c.json({ status: "ok" }));
  let openApi: Record<string, unknown> | undefined;
  app.get("/openapi.json", (c) => {
    ctx.noQuery(c);
    openApi ??= openApiDocument({
      tokens: !auth.implicit,
      ...(options.version ? { version: options.version } : {}),
    });
    return c.json(openApi);
  });
  app.use("*", async (_c, next) => {
    if (ctx.closing.aborted) throw new HttpError(503, "server_closing", "the server is closing");
    await next();
  });
  app.get("/readyz", async (c) => {
    try {
      if (system.managerPid() === undefined)
        throw new HttpError(503, "not_ready", "the session system is not running");
      await system.store.getSession(PROBE_ID);
      await sessions.checkCluster();
    } catch (error) {
      const { body } = errorResponse(error);
      return c.json(
        { error: { ...body.error, code: "not_ready", message: `not ready: ${body.error.message}` } },
        503,
      );
    }
    return c.json({ status: "ready" });
  });
  // Open without tokens (which serve allows on loopback only); with tokens, any owner's token.
  const metrics = await createMetrics(system);
  ctx.closing.addEventListener("abort", () => metrics.close(), { once: true });
  app.get("/metrics", async (c) => {
    ctx.noQuery(c);
    auth.ownerOf(c.req.header("authorization"));
    return c.body(await metrics.scrape(), 200, { "Content-Type": metrics.contentType });
  });
  app.use("/v1/*", async (c, next) => {
    c.set("owner", auth.ownerOf(c.req.header("authorization")));
    await next();
  });

  sessionRoutes(app, ctx);
  turnRoutes(app, ctx);
  eventRoutes(app, ctx);
  observerRoutes(app, ctx, treeRoutes(app, ctx), { dev: options.dev === true });
  // Cluster mode: the nodes this one sees (any owner may look: it names no session).
  app.get("/v1/nodes", (c) => {
    ctx.noQuery(c);
    return c.json({ node: sessions.node ?? null, nodes: sessions.listNodes() });
  });
  observerPage(app);

  return {
    hono: app,
    fetch: (request) => app.fetch(request),
    implicitOwner: auth.implicit,
    get openStreams() {
      return ctx.openStreams;
    },
    access: {
      ownerOf: (authorization) => auth.ownerOf(authorization),
      canSee: (owner, sessionId) => (auth.implicit ? Promise.resolve(true) : ctx.canSee(owner, sessionId)),
      globalEvents: ctx.globalEvents,
      sessions,
    },
    close: () => ctx.close(),
  };
}
