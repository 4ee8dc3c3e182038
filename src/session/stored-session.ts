import { StoreCorruptError, type StoredSession } from "../store/index.js";
import { parseSessionConfig, type SessionConfig } from "./config.js";
import { fieldIssues } from "./field-issues.js";
import { type SessionInfo, SessionRecordSchema, sessionInfoFromParsed } from "./session-info.js";

/**
 * A session's stored record as its info and config. A record that cannot be read — damaged, or
 * written under another key — is a StoreCorruptError naming the session and the field, never a
 * config error: nothing the caller gave was wrong.
 */
export function readStoredSession(stored: StoredSession): { info: SessionInfo; config: SessionConfig } {
  const corrupt = (field: string, message: string) =>
    new StoreCorruptError({ sessionId: stored.id, part: "record", field }, message);
  const parsed = SessionRecordSchema.safeParse(stored.record);
  if (!parsed.success) {
    const [first] = fieldIssues(parsed.error, "(record)");
    throw corrupt(first?.field ?? "(record)", first?.message ?? "is invalid");
  }
  if (parsed.data.id !== stored.id) throw corrupt("id", `is ${parsed.data.id}, stored under ${stored.id}`);
  const { config, ...info } = parsed.data;
  return { info: sessionInfoFromParsed(info), config: parseSessionConfig(config) };
}
