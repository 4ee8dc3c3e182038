import { z } from "zod";
import { SESSION_STATUSES, type SessionStatus } from "../session/index.js";

/** A whole number written in a query string or header. */
const wholeNumber = z
  .string()
  .regex(/^\d{1,15}$/, "must be a whole number")
  .transform(Number);

/** Longest `reason` a cancel or a denial may give (as the client API allows). */
const reason = z.string().max(10_000);

/** `GET /v1/sessions`: filter by status, page by `limit` and the `cursor` of the previous page. */
export const ListQuerySchema = z
  .object({
    status: z.enum(SESSION_STATUSES as [SessionStatus, ...SessionStatus[]]).optional(),
    limit: wholeNumber.pipe(z.number().int().min(1)).optional(),
    cursor: z.string().min(1).max(1000).optional(),
  })
  .strict();

/** `POST /v1/sessions/:id/messages`. */
export const MessageBodySchema = z
  .object({
    text: z.string().min(1).max(100_000),
    /** The turn's deadline in ms (the session system's `turnTimeoutMs` by default). */
    timeoutMs: z
      .number()
      .positive()
      .max(2 ** 31 - 1 - 5000)
      .optional(),
  })
  .strict();

/** `GET /v1/sessions/:id/events?since=` (the `Last-Event-ID` header says the same, and wins). */
export const EventsQuerySchema = z.object({ since: wholeNumber.optional() }).strict();

/** What the `Last-Event-ID` header may hold: the `seq` of the last event the client got. */
export const LastEventIdSchema = z.object({ "last-event-id": wholeNumber }).strict();

/** `DELETE /v1/sessions/:id/turn?reason=`. */
export const CancelQuerySchema = z.object({ reason: reason.optional() }).strict();

/** `POST .../tool-calls/:callId/approve` takes no fields; `/deny` a `reason` for the model. */
export const ApproveBodySchema = z.object({}).strict();
export const DenyBodySchema = z.object({ reason: reason.optional() }).strict();

/** A tool call's id, as `tool_approval_requested` gave it (the route's `:callId`). */
export const CallIdParamSchema = z.object({ callId: z.string().min(1).max(512) }).strict();

/** A query string a route takes none of. */
export const NoQuerySchema = z.object({}).strict();

/** A body that must be a JSON object (a session config, a session document). */
export const JsonObjectSchema = z.record(z.string(), z.unknown());
