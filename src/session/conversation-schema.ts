// The conversation schema: one schema reads a conversation back from the store
// (restoreContextState, and a host's parent for it) and checks one that is imported (the session
// document), so that nothing a session cannot work with gets in. Apart from context-state.ts, so
// that a host's session code, which takes conversations its parent checked, does not load zod.
import { z } from "zod";
import { ESTIMATE, type TokenCounter } from "../llm/index.js";
import { StoreCorruptError } from "../store/index.js";
import { jsonValue, MetadataSchema } from "./config.js";
import {
  type ContextLimits,
  type ContextSnapshot,
  ContextState,
  type ConversationTurn,
  type FileEntry,
  MAX_CONTENT,
  TURN_ROLES,
  TURN_STATUSES,
} from "./context-state.js";
import { fieldIssues } from "./field-issues.js";
import { MAX_PATH_LENGTH } from "./file-path.js";

const TURN_ID = /^t[1-9][0-9]{0,15}$/;
const isoTimestamp = z.iso.datetime();
const FilePathSchema = z
  .string()
  .min(1)
  .max(MAX_PATH_LENGTH)
  .refine((path) => !path.includes("\0"), "must not contain NUL");

const tokenCount = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const UsageSchema = z.object({ inputTokens: tokenCount, outputTokens: tokenCount }).strict();
const ToolNameSchema = z.string().min(1).max(128);

export const ConversationTurnSchema = z
  .object({
    id: z.string().regex(TURN_ID, "must be t<n>, n a whole number from 1"),
    role: z.enum(TURN_ROLES),
    content: z.string().max(MAX_CONTENT),
    at: isoTimestamp,
    status: z.enum(TURN_STATUSES),
    toolCalls: z
      .array(z.object({ id: z.string().min(1).max(256), name: ToolNameSchema, input: jsonValue }).strict())
      .min(1)
      .max(128)
      .optional(),
    toolCallId: z.string().min(1).max(256).optional(),
    toolName: ToolNameSchema.optional(),
    isError: z.boolean().optional(),
    usage: UsageSchema.optional(),
  })
  .strict()
  .superRefine((turn, ctx) => {
    if (turn.toolCalls !== undefined && turn.role !== "assistant")
      ctx.addIssue({ code: "custom", path: ["toolCalls"], message: "only an assistant turn has tool calls" });
    const isTool = turn.role === "tool";
    if (isTool !== (turn.toolCallId !== undefined && turn.toolName !== undefined)) {
      ctx.addIssue({
        code: "custom",
        path: [isTool ? "toolCallId" : "role"],
        message: "a tool turn, and only a tool turn, names the call it answers (toolCallId, toolName)",
      });
    }
  });

export const FileEntrySchema = z
  .object({
    path: FilePathSchema,
    metadata: MetadataSchema,
    lastAccessed: isoTimestamp,
    accessCount: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  })
  .strict();

/**
 * A stored conversation, with what must hold between its parts: turn ids unique and below
 * `nextTurn` (the next id is never one in use), active files unique and each in the file index.
 */
export const ContextSnapshotSchema = z
  .object({
    version: z.literal(1),
    nextTurn: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    usage: UsageSchema.optional(),
    turns: z.array(ConversationTurnSchema).max(100_000),
    activeFiles: z.array(FilePathSchema).max(10_000),
    fileIndex: z.array(FileEntrySchema),
  })
  .strict()
  .superRefine((snapshot, ctx) => {
    const ids = new Set<string>();
    snapshot.turns.forEach((turn, i) => {
      if (ids.has(turn.id))
        ctx.addIssue({ code: "custom", path: ["turns", i, "id"], message: "is not unique" });
      ids.add(turn.id);
      if (Number(turn.id.slice(1)) >= snapshot.nextTurn) {
        ctx.addIssue({
          code: "custom",
          path: ["turns", i, "id"],
          message: `must be below nextTurn (${snapshot.nextTurn}), or a later turn would reuse it`,
        });
      }
    });
    const indexed = new Set<string>();
    snapshot.fileIndex.forEach((entry, i) => {
      if (indexed.has(entry.path))
        ctx.addIssue({ code: "custom", path: ["fileIndex", i, "path"], message: "is not unique" });
      indexed.add(entry.path);
    });
    const active = new Set<string>();
    snapshot.activeFiles.forEach((path, i) => {
      if (active.has(path))
        ctx.addIssue({ code: "custom", path: ["activeFiles", i], message: "is not unique" });
      active.add(path);
      if (!indexed.has(path))
        ctx.addIssue({ code: "custom", path: ["activeFiles", i], message: "has no entry in fileIndex" });
    });
  });

// The schema and the types above describe one thing: a field added to one but not the other
// fails to compile here, instead of being refused (or dropped) when a conversation is read.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export const conversationSchemaMatchesTypes: [
  Same<z.output<typeof ConversationTurnSchema>, ConversationTurn>,
  Same<z.output<typeof FileEntrySchema>, FileEntry>,
  Same<z.output<typeof ContextSnapshotSchema>, ContextSnapshot>,
] = [true, true, true];

/** Reads a stored conversation; what cannot be read is a StoreCorruptError naming the field. */
export function readContextSnapshot(input: unknown, sessionId: string): ContextSnapshot {
  const parsed = ContextSnapshotSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const [first] = fieldIssues(parsed.error, "(conversation)");
  throw new StoreCorruptError(
    { sessionId, part: "conversation", field: first?.field ?? "(conversation)" },
    first?.message ?? "is invalid",
  );
}

/**
 * The state a stored conversation describes, checked against the conversation schema: one
 * that cannot be read is a StoreCorruptError naming `sessionId` and the field.
 */
export function restoreContextState(
  stored: unknown,
  limits: ContextLimits,
  sessionId = "(unknown)",
  counter: TokenCounter = ESTIMATE,
): ContextState {
  return ContextState.fromSnapshot(readContextSnapshot(stored, sessionId), limits, counter);
}
