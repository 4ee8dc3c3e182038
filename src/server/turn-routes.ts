import type { Hono } from "hono";
import type { TurnPart } from "../session/index.js";
import type { ServerContext, ServerEnv } from "./context.js";
import { errorResponse } from "./errors.js";
import { parseWith, queryOf, readJsonBody } from "./request.js";
import {
  ApproveBodySchema,
  CallIdParamSchema,
  CancelQuerySchema,
  DenyBodySchema,
  MessageBodySchema,
} from "./schemas.js";
import { sseResponse } from "./sse.js";

/**
 * Turns: send a message (the reply as JSON, or the turn streamed as SSE), cancel the running
 * turn, answer a tool call waiting for approval.
 */
export function turnRoutes(app: Hono<ServerEnv>, ctx: ServerContext): void {
  const { sessions, limits } = ctx;

  app.post("/v1/sessions/:id/messages", async (c) => {
    ctx.noQuery(c);
    const id = await ctx.ownedId(c);
    const body = parseWith(MessageBodySchema, (await readJsonBody(c.req.raw, limits.maxBodyBytes)) ?? {});
    const owner = c.get("owner");
    const timeout = body.timeoutMs === undefined ? {} : { timeoutMs: body.timeoutMs };
    const accept = (c.req.header("accept") ?? "").toLowerCase();
    if (!accept.includes("text/event-stream")) {
      ctx.takeMessage(owner);
      // The client leaving (or the server closing) cancels the turn, as closing a stream does.
      const { signal, done } = ctx.turnSignal(c);
      try {
        return c.json(await sessions.sendMessage(id, body.text, { ...timeout, signal }));
      } finally {
        done();
      }
    }

    const release = ctx.acquireStream(owner);
    const cancel = new AbortController();
    let parts: AsyncIterableIterator<TurnPart>;
    try {
      // Counted once the stream is allowed (a 429 for streams costs no message).
      ctx.takeMessage(owner);
      // Made here, not in the stream, so that an argument it refuses is a 4xx rather than a broken stream.
      parts = sessions.stream(id, body.text, { ...timeout, signal: cancel.signal });
    } catch (error) {
      release();
      throw error;
    }
    return sseResponse({
      signal: c.req.raw.signal,
      heartbeatMs: limits.heartbeatMs,
      maxQueued: limits.maxQueuedEvents,
      start: async (writer) => {
        writer.onClose(() => {
          // The client closed the connection (or the server closes): the turn is cancelled.
          cancel.abort(new Error("the stream was closed"));
          release();
        });
        ctx.track(writer);
        try {
          for await (const part of parts) writer.send({ event: part.type, data: part });
        } catch (error) {
          if (!writer.closed) writer.send({ event: "error", data: errorResponse(error).body });
        } finally {
          writer.close();
        }
      },
    });
  });

  app.delete("/v1/sessions/:id/turn", async (c) => {
    const query = parseWith(CancelQuerySchema, queryOf(c.req.url));
    const id = await ctx.ownedId(c);
    return c.json({ cancelled: await sessions.cancelTurn(id, query.reason) });
  });

  app.post("/v1/sessions/:id/tool-calls/:callId/approve", async (c) => {
    ctx.noQuery(c);
    const id = await ctx.ownedId(c);
    const { callId } = parseWith(CallIdParamSchema, { callId: c.req.param("callId") });
    parseWith(ApproveBodySchema, (await readJsonBody(c.req.raw, limits.maxBodyBytes)) ?? {});
    await sessions.approveToolCall(id, callId);
    return c.body(null, 204);
  });

  app.post("/v1/sessions/:id/tool-calls/:callId/deny", async (c) => {
    ctx.noQuery(c);
    const id = await ctx.ownedId(c);
    const { callId } = parseWith(CallIdParamSchema, { callId: c.req.param("callId") });
    const body = parseWith(DenyBodySchema, (await readJsonBody(c.req.raw, limits.maxBodyBytes)) ?? {});
    await sessions.denyToolCall(id, callId, body.reason);
    return c.body(null, 204);
  });
}
