import { type Pid, type Ref, serializeReason } from "../runtime/index.js";
import type { StoredJson } from "../store/index.js";
import type { SessionConfig } from "./config.js";
import type { SessionEventInput } from "./events.js";
import { formatIso } from "./iso-time.js";
import type { SessionInfo } from "./session-info.js";
import { applyTransition, type SessionStatus } from "./status.js";

/** A session's record as the store keeps it: its info as JSON, and its config. */
export type SessionRecord = { [key: string]: StoredJson };

/**
 * For values checked as JSON data on their way in (`parseSessionConfig`, a stored record's or a
 * session document's schema, each of which copies its input with `toJsonData` first): they are
 * StoredJson, which their declared types (objects with optional fields, `unknown` values)
 * cannot say.
 */
export function asStoredJson(value: object): StoredJson {
  return value as StoredJson;
}

/**
 * The store's record of a session (what `readStoredSession` reads back): its info as
 * `sessionInfoToJSON` writes it, and its config. Built directly, in one object.
 */
export function sessionRecord(info: SessionInfo, config: SessionConfig): SessionRecord {
  // A create or a transition stamps its times with one Date: each is formatted once.
  const updatedAt = formatIso(info.updatedAt);
  const iso = (date: Date) => (date === info.updatedAt ? updatedAt : formatIso(date));
  const record: SessionRecord = {
    id: info.id,
    status: info.status,
    metadata: asStoredJson(info.metadata),
    llm: asStoredJson(info.llm),
    limits: asStoredJson(info.limits),
    createdAt: iso(info.createdAt),
    updatedAt,
    statusChangedAt: iso(info.statusChangedAt),
    restarts: info.restarts,
    hibernated: info.hibernated,
  };
  if (info.name !== undefined) record.name = info.name;
  if (info.projectPath !== undefined) record.projectPath = info.projectPath;
  if (info.previousStatus !== undefined) record.previousStatus = info.previousStatus;
  record.config = asStoredJson(config);
  return record;
}

/**
 * One session as the SessionManager knows it: its info (what clients are told), its config,
 * and the supervisor it watches. The one place an entry is built, turned into the store's
 * record, tested for liveness, and its crash announced.
 */
export class SessionEntry {
  supervisor: Pid | undefined = undefined;
  monitor: Ref | undefined = undefined;

  private constructor(
    public info: SessionInfo,
    readonly config: SessionConfig,
    /** Runtime clock ms of the last message, for the idle timeout. */
    public lastActivity: number,
  ) {}

  /** A new session, `initializing`. */
  static created(id: string, config: SessionConfig, at: Date, clockNow: number): SessionEntry {
    const info: SessionInfo = {
      id,
      name: config.name,
      projectPath: config.projectPath,
      status: "initializing",
      previousStatus: undefined,
      metadata: config.metadata,
      llm: config.llm,
      limits: config.limits,
      createdAt: at,
      updatedAt: at,
      statusChangedAt: at,
      restarts: 0,
      hibernated: false,
      usage: { inputTokens: 0, outputTokens: 0 },
    };
    return new SessionEntry(info, config, clockNow);
  }

  /** A stored (terminated) or imported session starting a new lifecycle under its old id, `initializing`. */
  static revived(old: SessionInfo, config: SessionConfig, at: Date, clockNow: number): SessionEntry {
    const info: SessionInfo = {
      ...old,
      status: "initializing",
      previousStatus: undefined,
      hibernated: false,
      updatedAt: at,
      statusChangedAt: at,
    };
    return new SessionEntry(info, config, clockNow);
  }

  /** A session as the store holds it, status and all (a restarted manager rebuilding its table). */
  static stored(info: SessionInfo, config: SessionConfig, clockNow: number): SessionEntry {
    return new SessionEntry(info, config, clockNow);
  }

  get id(): string {
    return this.info.id;
  }

  /** Its processes are meant to be running and answering: `active` or `idle`. */
  get live(): boolean {
    const { status } = this.info;
    return status === "active" || status === "idle";
  }

  /** The store's record of it. */
  record(): SessionRecord {
    return sessionRecord(this.info, this.config);
  }

  /** Moves it through the status machine; the `session_status` event to announce it. */
  transition(to: SessionStatus, at: Date): SessionEventInput {
    const next = applyTransition(this.info, to, at);
    this.info = { ...this.info, ...next, updatedAt: at };
    return {
      type: "session_status",
      sessionId: this.info.id,
      status: next.status,
      previousStatus: next.previousStatus as SessionStatus,
      at: formatIso(at),
    };
  }

  /** Counts one more time its processes were brought back after a crash. */
  restarted(): void {
    this.info = { ...this.info, restarts: this.info.restarts + 1 };
  }

  /** The `session_crashed` event of its processes dying (or failing to start) for `reason`. */
  crashed(reason: unknown, at: Date): SessionEventInput {
    return {
      type: "session_crashed",
      sessionId: this.info.id,
      reason: serializeReason(reason),
      at: formatIso(at),
    };
  }
}
