import { isDeepStrictEqual } from "node:util";
import { z } from "zod";
import { parseSessionConfig, type SessionConfig } from "./config.js";
import type { ContextSnapshot } from "./context-state.js";
import { ContextSnapshotSchema } from "./conversation-schema.js";
import { InvalidSessionDocumentError, SessionConfigError } from "./errors.js";
import { dataIssue, fieldIssues } from "./field-issues.js";
import { toJsonData } from "./json-data.js";
import { type SessionInfo, SessionRecordSchema, sessionInfoFromParsed } from "./session-info.js";

/** Most characters a session document may take as JSON (128 MiB). */
export const MAX_DOCUMENT_LENGTH = 128 * 1024 * 1024;

/** The fields a session's info repeats from its config: an import must not make them disagree. */
const REPEATED_FROM_CONFIG = ["name", "projectPath", "metadata", "llm", "limits"] as const;

/**
 * A whole session document: the record (info and config) as the store keeps it, and the
 * conversation checked by the very schema that reads a stored conversation back.
 */
export const SessionDocumentSchema = z
  .object({
    format: z.literal("sessionvisor.session"),
    version: z.literal(1),
    session: SessionRecordSchema,
    conversation: ContextSnapshotSchema.optional(),
  })
  .strict()
  .superRefine((document, ctx) => {
    const { config, ...info } = document.session;
    for (const field of REPEATED_FROM_CONFIG) {
      if (!isDeepStrictEqual(info[field], config[field])) {
        ctx.addIssue({
          code: "custom",
          path: ["session", field],
          message: `differs from session.config.${field}`,
        });
      }
    }
  });

/** A document that passed every check: what the manager starts the session from. */
export interface ImportedSession {
  info: SessionInfo;
  config: SessionConfig;
  conversation: ContextSnapshot | undefined;
}

// Sessions this module produced, so that the manager, handed one, need not check it again.
const checked = new WeakSet<object>();

/**
 * Checks a document given to `importSession`, whole, before anything is written: it is first
 * copied as JSON data (so a cycle, a throwing getter or a BigInt is refused like any bad field),
 * then parsed by SessionDocumentSchema. What is wrong is an InvalidSessionDocumentError whose
 * `field` is the path from the document's root, such as `conversation.turns.0.role`.
 */
export function parseSessionDocument(
  input: unknown,
  options: { providers?: string[] } = {},
): ImportedSession {
  if (typeof input === "object" && input !== null && checked.has(input)) {
    checkProvider((input as ImportedSession).config, options.providers);
    return input as ImportedSession;
  }
  const copied = toJsonData(input, { maxLength: MAX_DOCUMENT_LENGTH });
  if (!copied.ok)
    throw new InvalidSessionDocumentError([dataIssue(copied.path, copied.message, "(document)")]);
  const parsed = SessionDocumentSchema.safeParse(copied.value);
  if (!parsed.success) throw new InvalidSessionDocumentError(fieldIssues(parsed.error, "(document)"));
  const { config, ...info } = parsed.data.session;
  const session: ImportedSession = {
    info: sessionInfoFromParsed(info),
    config: parseSessionConfig(config),
    conversation: parsed.data.conversation,
  };
  checkProvider(session.config, options.providers);
  checked.add(session);
  return session;
}

function checkProvider(config: SessionConfig, providers: string[] | undefined): void {
  try {
    parseSessionConfig(config, { providers });
  } catch (error) {
    if (!(error instanceof SessionConfigError)) throw error;
    throw new InvalidSessionDocumentError(
      error.issues.map((issue) => ({ field: `session.config.${issue.field}`, message: issue.message })),
    );
  }
}
