import { z } from "zod";
import { SessionConfigSchema } from "../session/config.js";
import { ConversationTurnSchema } from "../session/conversation-schema.js";
import { SessionDocumentSchema } from "../session/session-document.js";
import { SessionInfoJsonSchema } from "../session/session-info.js";
import {
  ApproveBodySchema,
  CallIdParamSchema,
  CancelQuerySchema,
  DenyBodySchema,
  EventsQuerySchema,
  GlobalEventsQuerySchema,
  ListQuerySchema,
  MessageBodySchema,
  NoQuerySchema,
  ProcessInfoSchema,
  TreeSchema,
} from "./schemas.js";

/** The error body every route answers with (see errors.ts). */
export const ErrorBodySchema = z
  .object({
    error: z
      .object({
        code: z.string().describe("one of the project's error codes, e.g. session_not_found"),
        message: z.string(),
        field: z.string().optional().describe("the input at fault, as a dotted path"),
      })
      .strict(),
  })
  .strict();

const SessionSchema = SessionInfoJsonSchema.extend({
  owner: z.string().optional(),
  node: z.string().optional().describe("cluster mode: the node that runs the session"),
});
const NodesSchema = z
  .object({
    node: z.string().nullable().describe("this server's node id; null when it runs alone"),
    nodes: z.array(
      z
        .object({
          node: z.string(),
          sessions: z.number().int(),
          rssMb: z.number(),
          startedAt: z.string(),
          lastSeen: z.string(),
        })
        .strict(),
    ),
  })
  .strict();
const SessionListSchema = z
  .object({ sessions: z.array(SessionSchema), nextCursor: z.string().optional() })
  .strict();
const HistorySchema = z.object({ turns: z.array(ConversationTurnSchema) }).strict();
const CancelledSchema = z.object({ cancelled: z.boolean() }).strict();
const HealthSchema = z.object({ status: z.literal("ok") }).strict();
const FileEntrySchema = z
  .object({
    path: z.string(),
    metadata: z.record(z.string(), z.unknown()),
    lastAccessed: z.string(),
    accessCount: z.number().int().min(0),
  })
  .strict();
const FilesSchema = z.object({ active: z.array(z.string()), index: z.array(FileEntrySchema) }).strict();
const KilledSchema = z.object({ killed: z.string() }).strict();
const ReadySchema = z.object({ status: z.literal("ready") }).strict();
/** The session config a client sends: the session system's own schema, without `owner`. */
const SessionConfigBodySchema = SessionConfigSchema.omit({ owner: true });

/** Schemas shared by several routes, kept once under `components.schemas` and referenced. */
const COMPONENTS: Readonly<Record<string, { schema: z.ZodType; io: "input" | "output" }>> = {
  Error: { schema: ErrorBodySchema, io: "output" },
  Session: { schema: SessionSchema, io: "output" },
  SessionConfig: { schema: SessionConfigBodySchema, io: "input" },
  SessionDocument: { schema: SessionDocumentSchema, io: "input" },
  SessionDocumentOut: { schema: SessionDocumentSchema, io: "output" },
  ConversationTurn: { schema: ConversationTurnSchema, io: "output" },
  Tree: { schema: TreeSchema, io: "output" },
  ProcessInfo: { schema: ProcessInfoSchema, io: "output" },
};

type Method = "get" | "post" | "delete";

/** What the document says of one route. Every route hono registers must have one (a test walks `app.routes`). */
export interface RouteDoc {
  method: Method;
  /** As hono writes it: `/v1/sessions/:id`. */
  path: string;
  summary: string;
  tag: string;
  /** Needs the bearer token when tokens are configured (default true). */
  auth?: boolean;
  query?: z.ZodType;
  /** The JSON body: a schema, or the name of a component. */
  body?: z.ZodType | string;
  bodyRequired?: boolean;
  /** Extra request headers. */
  headers?: { name: string; description: string; schema: z.ZodType }[];
  status: number;
  /** The answer's JSON schema (a schema, or the name of a component); none for 204 and non-JSON. */
  response?: z.ZodType | string;
  /** Another content type the answer may have (`text/event-stream`, the Prometheus text). */
  otherContent?: { type: string; description: string };
  description?: string;
}

const SESSION = "sessions";
const TURNS = "turns";
const EVENTS = "events";
const OPS = "operations";
const OBSERVER = "observer";

/** Every route of the API, in the order the document lists them. */
export const ROUTE_DOCS: readonly RouteDoc[] = [
  {
    method: "get",
    path: "/healthz",
    summary: "Liveness",
    tag: OPS,
    auth: false,
    status: 200,
    response: HealthSchema,
  },
  {
    method: "get",
    path: "/readyz",
    summary: "Readiness: the session system runs and its store answers (503 not_ready otherwise)",
    tag: OPS,
    auth: false,
    status: 200,
    response: ReadySchema,
  },
  {
    method: "get",
    path: "/openapi.json",
    summary: "This document",
    tag: OPS,
    auth: false,
    status: 200,
    response: z.record(z.string(), z.unknown()),
  },
  {
    method: "post",
    path: "/v1/sessions",
    summary: "Create a session owned by the token's owner",
    tag: SESSION,
    query: NoQuerySchema,
    body: "SessionConfig",
    status: 201,
    response: "Session",
  },
  {
    method: "get",
    path: "/v1/sessions",
    summary: "List the caller's sessions, oldest first, in pages",
    tag: SESSION,
    query: ListQuerySchema,
    status: 200,
    response: SessionListSchema,
  },
  {
    method: "post",
    path: "/v1/sessions/import",
    summary: "Import a session document (owned by the importer)",
    tag: SESSION,
    query: NoQuerySchema,
    body: "SessionDocument",
    bodyRequired: true,
    status: 201,
    response: "Session",
  },
  {
    method: "get",
    path: "/v1/sessions/:id",
    summary: "Get a session",
    tag: SESSION,
    query: NoQuerySchema,
    status: 200,
    response: "Session",
  },
  {
    method: "delete",
    path: "/v1/sessions/:id",
    summary: "Terminate a session",
    tag: SESSION,
    query: NoQuerySchema,
    status: 204,
  },
  {
    method: "post",
    path: "/v1/sessions/:id/restore",
    summary: "Restore a terminated session",
    tag: SESSION,
    query: NoQuerySchema,
    body: ApproveBodySchema,
    status: 200,
    response: "Session",
  },
  {
    method: "post",
    path: "/v1/sessions/:id/hibernate",
    summary:
      "Stop an idle session's processes to free memory (it stays listed and wakes on use; 409 if not idle)",
    tag: SESSION,
    query: NoQuerySchema,
    body: ApproveBodySchema,
    status: 204,
  },
  {
    method: "post",
    path: "/v1/sessions/:id/wake",
    summary: "Start a hibernated session's processes again (a message does this too)",
    tag: SESSION,
    query: NoQuerySchema,
    body: ApproveBodySchema,
    status: 200,
    response: "Session",
  },
  {
    method: "get",
    path: "/v1/sessions/:id/export",
    summary: "Export a session as a document",
    tag: SESSION,
    query: NoQuerySchema,
    status: 200,
    response: "SessionDocumentOut",
  },
  {
    method: "get",
    path: "/v1/sessions/:id/history",
    summary: "A session's conversation",
    tag: SESSION,
    query: NoQuerySchema,
    status: 200,
    response: HistorySchema,
  },
  {
    method: "post",
    path: "/v1/sessions/:id/messages",
    summary: "Send a message: the turn's reply, or with Accept: text/event-stream the turn as SSE",
    tag: TURNS,
    query: NoQuerySchema,
    body: MessageBodySchema,
    bodyRequired: true,
    status: 200,
    otherContent: {
      type: "text/event-stream",
      description:
        "one event per part: turn_started, text, tool_call, tool_result, tool_approval_requested, done (or error)",
    },
    description: "The JSON answer is the turn's reply: turnId, text, usage, stopReason, steps, toolCalls.",
  },
  {
    method: "delete",
    path: "/v1/sessions/:id/turn",
    summary: "Cancel the running turn",
    tag: TURNS,
    query: CancelQuerySchema,
    status: 200,
    response: CancelledSchema,
  },
  {
    method: "post",
    path: "/v1/sessions/:id/tool-calls/:callId/approve",
    summary: "Approve a tool call waiting for approval",
    tag: TURNS,
    query: NoQuerySchema,
    body: ApproveBodySchema,
    status: 204,
  },
  {
    method: "post",
    path: "/v1/sessions/:id/tool-calls/:callId/deny",
    summary: "Deny a tool call waiting for approval",
    tag: TURNS,
    query: NoQuerySchema,
    body: DenyBodySchema,
    status: 204,
  },
  {
    method: "get",
    path: "/v1/sessions/:id/events",
    summary: "A session's events as SSE, resumable with Last-Event-ID or ?since=",
    tag: EVENTS,
    query: EventsQuerySchema,
    headers: [
      {
        name: "Last-Event-ID",
        description: "the seq of the last event received; wins over ?since=",
        schema: z.string().regex(/^\d{1,15}$/),
      },
    ],
    status: 200,
    otherContent: {
      type: "text/event-stream",
      description: "event: <type>, id: <seq>, data: the event as JSON",
    },
  },
  {
    method: "get",
    path: "/v1/events",
    summary:
      "Every event of the caller's sessions as SSE, resumable after an event's id (Last-Event-ID or ?since=)",
    tag: EVENTS,
    query: GlobalEventsQuerySchema,
    status: 200,
    otherContent: {
      type: "text/event-stream",
      description:
        "event: <type>, id: <epoch>.<n>, data: the event as JSON; first `events_lost` when events after the cursor are gone",
    },
  },
  {
    method: "get",
    path: "/v1/tree",
    summary: "The supervision tree the caller may see",
    tag: OPS,
    query: NoQuerySchema,
    status: 200,
    response: "Tree",
  },
  {
    method: "get",
    path: "/v1/nodes",
    summary: "The live nodes of the cluster (cluster mode; none when the server runs alone)",
    tag: OPS,
    query: NoQuerySchema,
    status: 200,
    response: NodesSchema,
  },
  {
    method: "get",
    path: "/v1/processes/:pid",
    summary: "One process's info (404 for an unknown pid or another owner's session)",
    tag: OPS,
    query: NoQuerySchema,
    status: 200,
    response: "ProcessInfo",
  },
  {
    method: "get",
    path: "/v1/tree/stream",
    summary: "The tree the caller may see as SSE: a snapshot, then its changes at most once a second",
    tag: OBSERVER,
    query: NoQuerySchema,
    status: 200,
    otherContent: {
      type: "text/event-stream",
      description:
        "event: snapshot, data: { dev, system, sessions } first; then event: changes, data: { system?, sessions, removed }",
    },
  },
  {
    method: "get",
    path: "/v1/sessions/:id/files",
    summary: "A running session's context files: the active ones and the index",
    tag: OBSERVER,
    query: NoQuerySchema,
    status: 200,
    response: FilesSchema,
  },
  {
    method: "post",
    path: "/v1/processes/:pid/kill",
    summary: "Development mode only (404 otherwise): kill a process with reason kill",
    tag: OBSERVER,
    query: NoQuerySchema,
    body: ApproveBodySchema,
    status: 200,
    response: KilledSchema,
  },
  {
    method: "post",
    path: "/v1/hosts/:hostId/kill",
    summary: "Development mode only (404 otherwise): kill a session's host (thread or process)",
    tag: OBSERVER,
    query: NoQuerySchema,
    body: ApproveBodySchema,
    status: 200,
    response: KilledSchema,
  },
  {
    method: "get",
    path: "/",
    summary: "The web observer's page (404 observer_not_built when the package was not built)",
    tag: OBSERVER,
    auth: false,
    status: 200,
    otherContent: { type: "text/html", description: "the observer's page; it asks for a token itself" },
  },
  {
    method: "get",
    path: "/assets/:file",
    summary: "The web observer's scripts and styles (hashed names, cached for good)",
    tag: OBSERVER,
    auth: false,
    status: 200,
    otherContent: { type: "text/javascript", description: "a built asset (or text/css)" },
  },
  {
    method: "get",
    path: "/metrics",
    summary: "Prometheus metrics (needs a token when tokens are configured)",
    tag: OPS,
    query: NoQuerySchema,
    status: 200,
    otherContent: { type: "text/plain; version=0.0.4", description: "the Prometheus text format" },
  },
];

const PATH_PARAMS: Readonly<Record<string, { description: string; schema: z.ZodType }>> = {
  id: {
    description: "a session id",
    schema: z.string().regex(/^session_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
  },
  callId: { description: "a tool call's id", schema: CallIdParamSchema.shape.callId },
  hostId: { description: "a host's id (its node name)", schema: z.string().min(1).max(200) },
  file: { description: "a built asset's file name", schema: z.string().min(1).max(200) },
  pid: {
    description: "a pid, <node.id> (URL-encoded)",
    schema: z.string().regex(/^<[A-Za-z0-9_-]{1,64}\.\d{1,15}>$/),
  },
};

type Json = Record<string, unknown>;

/** Where zod's conversion of a registry keeps what several of its schemas share. */
const SHARED = "__shared";

/** A zod schema as JSON Schema (draft 2020-12, as OpenAPI 3.1 takes it), without `$schema`. */
function jsonSchema(schema: z.ZodType, io: "input" | "output"): Json {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as Json;
  return rest;
}

function schemaOrRef(schema: z.ZodType | string, io: "input" | "output"): Json {
  return typeof schema === "string" ? { $ref: `#/components/schemas/${schema}` } : jsonSchema(schema, io);
}

function components(): Json {
  const schemas: Json = {};
  for (const io of ["input", "output"] as const) {
    const names = Object.entries(COMPONENTS).filter(([, c]) => c.io === io);
    if (names.length === 0) continue;
    const reg = z.registry<{ id: string }>();
    for (const [name, { schema }] of names) reg.add(schema, { id: name });
    const converted = z.toJSONSchema(reg, {
      io,
      unrepresentable: "any",
      uri: (id) => `#/components/schemas/${id}`,
    }).schemas as Record<string, Json>;
    // Subschemas used by several components come in `__shared.$defs`: each becomes a component
    // of its own (named by io, as the two passes number theirs alike), its references rewritten.
    const shared = `#/components/schemas/${SHARED}#/$defs/`;
    const prefix = io === "input" ? "SharedIn_" : "SharedOut_";
    const text = JSON.stringify(converted).replaceAll(shared, `#/components/schemas/${prefix}`);
    const rewritten = JSON.parse(text) as Record<string, Json>;
    for (const [name, schema] of Object.entries(rewritten)) {
      if (name === SHARED) {
        for (const [def, sub] of Object.entries((schema.$defs ?? {}) as Record<string, Json>)) {
          schemas[`${prefix}${def}`] = sub;
        }
        continue;
      }
      const { $schema: _s, $id: _i, ...rest } = schema;
      schemas[name] = rest;
    }
  }
  return schemas;
}

/** The query schema's properties as OpenAPI query parameters. */
function queryParameters(query: z.ZodType | undefined): Json[] {
  if (!query) return [];
  const schema = jsonSchema(query, "input");
  const properties = (schema.properties ?? {}) as Record<string, Json>;
  const required = new Set((schema.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: "query",
    required: required.has(name),
    schema: property,
    ...(typeof property.description === "string" ? { description: property.description } : {}),
  }));
}

const ERROR_RESPONSE = {
  description: "an error: { error: { code, message, field? } }",
  content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
};

function operation(route: RouteDoc): Json {
  const parameters: Json[] = [];
  for (const match of route.path.matchAll(/:([A-Za-z]+)/g)) {
    const name = match[1] as string;
    const param = PATH_PARAMS[name];
    parameters.push({
      name,
      in: "path",
      required: true,
      description: param?.description ?? name,
      schema: param ? jsonSchema(param.schema, "input") : { type: "string" },
    });
  }
  parameters.push(...queryParameters(route.query));
  for (const header of route.headers ?? []) {
    parameters.push({
      name: header.name,
      in: "header",
      required: false,
      description: header.description,
      schema: jsonSchema(header.schema, "input"),
    });
  }
  const content: Json = {};
  if (route.response !== undefined)
    content["application/json"] = { schema: schemaOrRef(route.response, "output") };
  else if (route.status !== 204 && !route.otherContent)
    content["application/json"] = { schema: { type: "object" } };
  if (route.otherContent) {
    content[route.otherContent.type] = {
      schema: { type: "string", description: route.otherContent.description },
    };
  }
  const auth = route.auth ?? true;
  return {
    operationId: operationId(route),
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: [route.tag],
    ...(auth ? {} : { security: [] }),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(route.body === undefined
      ? {}
      : {
          requestBody: {
            required: route.bodyRequired ?? false,
            content: { "application/json": { schema: schemaOrRef(route.body, "input") } },
          },
        }),
    responses: {
      [String(route.status)]: {
        description: route.status === 204 ? "done, no body" : route.summary,
        ...(Object.keys(content).length > 0 ? { content } : {}),
      },
      ...(auth ? { "401": ERROR_RESPONSE } : {}),
      default: ERROR_RESPONSE,
    },
  };
}

function operationId(route: RouteDoc): string {
  const words = route.path
    .split("/")
    .filter((part) => part && part !== "v1")
    .map((part) => part.replace(/^:/, "by-").replace(/\.json$/, ""));
  return [route.method, ...words]
    .join("-")
    .replace(/[^A-Za-z0-9]+(.)/g, (_m, c: string) => c.toUpperCase())
    .replace(/[^A-Za-z0-9]/g, "");
}

/** `/v1/sessions/:id` as OpenAPI writes it: `/v1/sessions/{id}`. */
export function openApiPath(honoPath: string): string {
  return honoPath.replace(/:([A-Za-z]+)/g, "{$1}");
}

export interface OpenApiOptions {
  version?: string;
  /** Whether tokens are configured (the document says so in its description). */
  tokens?: boolean;
}

/**
 * The OpenAPI 3.1 document of the API, made from the zod schemas the routes parse with (and the
 * session system's own, for configs, documents, sessions and turns).
 */
export function openApiDocument(options: OpenApiOptions = {}): Json {
  const paths: Record<string, Json> = {};
  for (const route of ROUTE_DOCS) {
    const path = openApiPath(route.path);
    paths[path] = { ...(paths[path] ?? {}), [route.method]: operation(route) };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "sessionvisor",
      version: options.version ?? "0.0.0",
      description:
        "The HTTP API of sessionvisor serve. Bodies are JSON; unknown fields and query parameters are refused." +
        (options.tokens === false
          ? " This server runs without tokens (loopback only): no token is needed."
          : ""),
    },
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    tags: [SESSION, TURNS, EVENTS, OPS, OBSERVER].map((name) => ({ name })),
    security: [{ bearer: [] }],
    paths,
    components: {
      schemas: components(),
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "a token from sessionvisor token" },
      },
    },
  };
}
