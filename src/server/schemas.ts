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

/** A global event's id, `<epoch>.<n>` (as `/v1/events` numbers them). */
const globalCursor = z
  .string()
  .regex(/^[0-9a-f]{8}\.\d{1,15}$/, "must be the id of an event of /v1/events (<epoch>.<n>)");

/** `?types=a,b`: only events of these types (at most 32 names of letters and `_`). */
const eventTypes = z
  .string()
  .regex(
    /^[a-z_]{1,40}(,[a-z_]{1,40}){0,31}$/,
    "must be event types separated by commas, e.g. session_status,session_crashed",
  )
  .transform((text) => new Set(text.split(",")));

/**
 * `GET /v1/events?since=<id>&types=<a,b>` (and the WebSocket's): resume after that event; only
 * events of those types (the others still count in the ids).
 */
export const GlobalEventsQuerySchema = z
  .object({ since: globalCursor.optional(), types: eventTypes.optional() })
  .strict();

/** The `Last-Event-ID` of `/v1/events`: the id of the last event the client got. */
export const GlobalLastEventIdSchema = z.object({ "last-event-id": globalCursor }).strict();

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

/** A process in `GET /v1/tree`: what the supervision tree shows of it. */
export interface TreeNode {
  pid: string;
  /** Its child id under its supervisor (`root` for the tree's root). */
  id: string;
  type: "supervisor" | "worker";
  names: string[];
  sessionId?: string | undefined;
  isolation?: "inline" | "thread" | "process" | undefined;
  host?: { id: string; kind: string; memory?: Record<string, number> | undefined } | undefined;
  mailbox?: number | undefined;
  restarts?: number | undefined;
  children?: TreeNode[] | undefined;
}

export const TreeNodeSchema: z.ZodType<TreeNode> = z
  .object({
    pid: z.string(),
    id: z.string(),
    type: z.enum(["supervisor", "worker"]),
    names: z.array(z.string()),
    sessionId: z.string().optional(),
    isolation: z.enum(["inline", "thread", "process"]).optional(),
    host: z
      .object({ id: z.string(), kind: z.string(), memory: z.record(z.string(), z.number()).optional() })
      .strict()
      .optional(),
    mailbox: z.number().int().min(0).optional(),
    restarts: z.number().int().min(0).optional(),
    get children() {
      return z.array(TreeNodeSchema).optional();
    },
  })
  .strict();

/** `GET /v1/tree`. */
export const TreeSchema = z.object({ root: TreeNodeSchema }).strict();

/** `GET /v1/processes/:pid`: a process's info, pids as text. */
export const ProcessInfoSchema = z
  .object({
    pid: z.string(),
    behaviour: z.string(),
    status: z.enum(["starting", "running", "exiting", "dead"]),
    busy: z.boolean(),
    mailboxLength: z.number().int().min(0),
    messagesHandled: z.number().int().min(0),
    trapExit: z.boolean(),
    parent: z.string(),
    links: z.array(z.string()),
    monitoredBy: z.array(z.string().nullable()),
    monitors: z.number().int().min(0),
    names: z.array(z.string()),
    sessionId: z.string().optional(),
  })
  .strict();
