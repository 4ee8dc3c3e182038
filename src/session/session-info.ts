import { z } from "zod";
import {
  LimitsSchema,
  LlmConfigSchema,
  MetadataSchema,
  type SessionConfig,
  SessionConfigSchema,
} from "./config.js";
import { SessionConfigError } from "./errors.js";
import { fieldIssues } from "./field-issues.js";
import { formatIso } from "./iso-time.js";
import { isSessionId } from "./session-id.js";
import { SESSION_STATUSES, type SessionStatus } from "./status.js";

/** What the client API reports about a session. */
export interface SessionInfo {
  id: string;
  name: string | undefined;
  projectPath: string | undefined;
  status: SessionStatus;
  previousStatus: SessionStatus | undefined;
  metadata: Record<string, unknown>;
  llm: SessionConfig["llm"];
  limits: SessionConfig["limits"];
  createdAt: Date;
  updatedAt: Date;
  statusChangedAt: Date;
  /** How many times the session's processes were brought back after a crash. */
  restarts: number;
  /** Its processes are stopped to free memory; the next message wakes it. */
  hibernated: boolean;
  /**
   * Tokens of every model call the session made. The conversation holds the exact count; this
   * copy is brought up to date at each turn's end and whenever the session's processes start.
   */
  usage: { inputTokens: number; outputTokens: number };
}

const iso = z.iso.datetime({ offset: false });
const status = z.enum(SESSION_STATUSES as [SessionStatus, ...SessionStatus[]]);

export const SessionInfoJsonSchema = z
  .object({
    id: z.string().refine(isSessionId, "must be session_<uuid>"),
    name: z.string().optional(),
    projectPath: z.string().optional(),
    status,
    previousStatus: status.optional(),
    metadata: MetadataSchema,
    llm: LlmConfigSchema,
    limits: LimitsSchema,
    createdAt: iso,
    updatedAt: iso,
    statusChangedAt: iso,
    restarts: z.number().int().min(0),
    hibernated: z.boolean().default(false),
    usage: z
      .object({ inputTokens: z.number().int().min(0), outputTokens: z.number().int().min(0) })
      .strict()
      .default({ inputTokens: 0, outputTokens: 0 }),
  })
  .strict();

export type SessionInfoJson = z.input<typeof SessionInfoJsonSchema>;

/** A session as the store keeps it and a session document carries it: its info and its config. */
export const SessionRecordSchema = SessionInfoJsonSchema.extend({ config: SessionConfigSchema });

/** JSON with string keys and ISO-8601 timestamps; optional fields are left out, not null. */
export function sessionInfoToJSON(info: SessionInfo): SessionInfoJson {
  const json: SessionInfoJson = {
    id: info.id,
    status: info.status,
    metadata: info.metadata,
    llm: info.llm,
    limits: info.limits,
    createdAt: formatIso(info.createdAt),
    updatedAt: formatIso(info.updatedAt),
    statusChangedAt: formatIso(info.statusChangedAt),
    restarts: info.restarts,
    hibernated: info.hibernated,
    usage: { ...info.usage },
  };
  if (info.name !== undefined) json.name = info.name;
  if (info.projectPath !== undefined) json.projectPath = info.projectPath;
  if (info.previousStatus !== undefined) json.previousStatus = info.previousStatus;
  return json;
}

export function sessionInfoFromJSON(input: unknown): SessionInfo {
  const parsed = SessionInfoJsonSchema.safeParse(input);
  if (!parsed.success) throw new SessionConfigError(fieldIssues(parsed.error, "(record)"));
  return sessionInfoFromParsed(parsed.data);
}

/** The info of JSON that SessionInfoJsonSchema (or SessionRecordSchema) has parsed. */
export function sessionInfoFromParsed(json: z.output<typeof SessionInfoJsonSchema>): SessionInfo {
  return {
    id: json.id,
    name: json.name,
    projectPath: json.projectPath,
    status: json.status,
    previousStatus: json.previousStatus,
    metadata: json.metadata as Record<string, unknown>,
    llm: json.llm,
    limits: json.limits,
    createdAt: new Date(json.createdAt),
    updatedAt: new Date(json.updatedAt),
    statusChangedAt: new Date(json.statusChangedAt),
    restarts: json.restarts,
    hibernated: json.hibernated,
    usage: { ...json.usage },
  };
}
