import type { Hono } from "hono";
import {
  type SessionConfigInput,
  type SessionDocument,
  type SessionInfo,
  SessionNotFoundError,
} from "../session/index.js";
import type { ServerContext, ServerEnv } from "./context.js";
import { HttpError } from "./errors.js";
import { pageOf } from "./pagination.js";
import { parseWith, queryOf, readJsonBody } from "./request.js";
import { ApproveBodySchema, JsonObjectSchema, ListQuerySchema } from "./schemas.js";

/**
 * Sessions: create, list (the caller's, filtered, in pages), get, terminate, restore, export,
 * import, history. Each `:id` is checked to be the caller's before anything is done with it.
 */
export function sessionRoutes(app: Hono<ServerEnv>, ctx: ServerContext): void {
  const { sessions, auth, owners, limits } = ctx;

  app.post("/v1/sessions", async (c) => {
    ctx.noQuery(c);
    const body = (await readJsonBody(c.req.raw, limits.maxBodyBytes)) ?? {};
    // Checked to be an object, and passed on as parsed (zod's copy would drop a `__proto__`
    // key, which the session system's schema refuses as unknown).
    parseWith(JsonObjectSchema, body, "invalid_config");
    if (Object.hasOwn(body as object, "owner")) {
      throw new HttpError(
        400,
        "invalid_config",
        "owner is set by the server: a session belongs to the owner of the token that creates it",
        "owner",
      );
    }
    const owner = c.get("owner");
    // The config is checked by the session system's own schema (unknown keys refused, the field named).
    const config = (auth.implicit ? body : { ...(body as object), owner }) as SessionConfigInput;
    const info = await sessions.createSession(config);
    owners.set(info.id, auth.implicit ? null : owner);
    return c.json(ctx.sessionJson(info), 201, { Location: `/v1/sessions/${info.id}` });
  });

  app.get("/v1/sessions", async (c) => {
    const query = parseWith(ListQuerySchema, queryOf(c.req.url));
    const limit = query.limit ?? limits.defaultPageSize;
    if (limit > limits.maxPageSize) {
      throw new HttpError(400, "invalid_request", `limit must be at most ${limits.maxPageSize}`, "limit");
    }
    const owner = c.get("owner");
    const mine: SessionInfo[] = [];
    // Terminated sessions are not among the live ones: the store keeps them until they are purged.
    const listed =
      query.status === "terminated" ? await sessions.listTerminatedSessions() : await sessions.listSessions();
    for (const info of listed) {
      if (query.status !== undefined && info.status !== query.status) continue;
      if (auth.implicit || (await owners.ownerOf(info.id)) === owner) mine.push(info);
    }
    const page = pageOf(mine, limit, query.cursor);
    return c.json({
      sessions: page.sessions.map((info) => ctx.sessionJson(info)),
      ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }),
    });
  });

  // Before the `:id` routes, so that "import" is never read as an id.
  app.post("/v1/sessions/import", async (c) => {
    ctx.noQuery(c);
    const body = await readJsonBody(c.req.raw, limits.maxImportBytes);
    parseWith(JsonObjectSchema, body, "invalid_session_document");
    const document = body as Record<string, unknown>;
    const owner = c.get("owner");
    const info = await sessions.importSession(withOwner(document, auth.implicit ? undefined : owner));
    owners.set(info.id, auth.implicit ? null : owner);
    return c.json(ctx.sessionJson(info), 201, { Location: `/v1/sessions/${info.id}` });
  });

  app.get("/v1/sessions/:id", async (c) => {
    ctx.noQuery(c);
    const id = await ctx.ownedId(c);
    const info = await sessions.getSession(id);
    if (!info) throw new SessionNotFoundError(id);
    return c.json(ctx.sessionJson(info));
  });

  app.delete("/v1/sessions/:id", async (c) => {
    ctx.noQuery(c);
    const id = await ctx.ownedId(c);
    await sessions.terminateSession(id);
    return c.body(null, 204);
  });

  app.post("/v1/sessions/:id/restore", async (c) => {
    ctx.noQuery(c);
    const id = await ctx.ownedId(c);
    parseWith(ApproveBodySchema, (await readJsonBody(c.req.raw, limits.maxBodyBytes)) ?? {});
    const info = await sessions.restoreSession(id);
    return c.json(ctx.sessionJson(info));
  });

  app.post("/v1/sessions/:id/hibernate", async (c) => {
    ctx.noQuery(c);
    const id = await ctx.ownedId(c);
    parseWith(ApproveBodySchema, (await readJsonBody(c.req.raw, limits.maxBodyBytes)) ?? {});
    await sessions.hibernateSession(id);
    return c.body(null, 204);
  });

  app.post("/v1/sessions/:id/wake", async (c) => {
    ctx.noQuery(c);
    const id = await ctx.ownedId(c);
    parseWith(ApproveBodySchema, (await readJsonBody(c.req.raw, limits.maxBodyBytes)) ?? {});
    return c.json(ctx.sessionJson(await sessions.wakeSession(id)));
  });

  app.get("/v1/sessions/:id/export", async (c) => {
    ctx.noQuery(c);
    const id = await ctx.ownedId(c);
    return c.json(await sessions.exportSession(id));
  });

  app.get("/v1/sessions/:id/history", async (c) => {
    ctx.noQuery(c);
    const id = await ctx.ownedId(c);
    return c.json({ turns: await sessions.getHistory(id) });
  });
}

/**
 * The document with its session's owner set to the importer (or removed, when there are no
 * owners): an import never takes the owner a document names, so a document cannot hand a
 * session to someone else. The rest of the document is the session system's to check.
 */
function withOwner(document: Record<string, unknown>, owner: string | undefined): SessionDocument {
  const session = document.session;
  if (!isObject(session) || !isObject(session.config)) return document as unknown as SessionDocument;
  const { owner: _given, ...config } = session.config;
  return {
    ...document,
    session: { ...session, config: owner === undefined ? config : { ...config, owner } },
  } as unknown as SessionDocument;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
