import type { Hosts, Isolation } from "../hosts/index.js";
import type { ProviderRegistry } from "../llm/index.js";
import type { PubSub, Registry } from "../registry/index.js";
import { InvalidArgumentError, type Runtime } from "../runtime/index.js";
import type { SessionStore } from "../store/index.js";
import type { ContextSnapshot } from "./context-state.js";
import type { ContextStore } from "./context-store.js";
import type { EventLog } from "./event-log.js";
import type { SessionEventInput } from "./events.js";
import { GLOBAL_SESSION_TOPIC, sessionTopic } from "./session-id.js";
import type { SessionOwnership } from "./session-ownership.js";

/**
 * What a session's agents use of the store: their conversation, read whole and changed. In a
 * host these two go to the parent's store through the `session` service; the rest of the
 * store (records, event logs) is the manager's alone.
 */
export type ConversationStore = Pick<SessionStore, "getConversation" | "changeConversation"> & {
  /**
   * The conversation read and checked against the conversation schema already (a host's parent
   * does it, so that the session code in a host does not load the schema); without it, the
   * context manager checks what `getConversation` returns.
   */
  getContextSnapshot?(id: string): Promise<ContextSnapshot | undefined>;
};

/** What every session process needs, handed down from the SessionSystem that owns it all. */
export interface SessionDeps {
  runtime: Runtime;
  registry: Registry;
  pubsub: PubSub;
  store: ConversationStore;
  contextStore: ContextStore;
  providers: ProviderRegistry;
  /** Wall-clock time for timestamps (injectable for tests). */
  now: () => Date;
  /** Where sessions run that are not inline; absent inside a host. */
  hosting?: SessionHosting;
  /** Numbers and keeps events; in the main process only (a host's events are numbered there). */
  eventLog?: EventLog;
  /** Inside a host: events go to the parent's bus through this, not to `pubsub`. */
  emit?: (event: SessionEventInput) => void;
}

export interface SessionHosting {
  hosts: Hosts;
  /** For sessions whose config names none. */
  isolation: Isolation;
  /** A module whose export builds the ProviderRegistry sessions in hosts use (default: the built-in providers). */
  providers?: { module: string; export: string };
}

/** What the SessionManager needs besides: the whole store, and the event log that numbers events. */
export interface ManagerDeps extends SessionDeps {
  store: SessionStore;
  eventLog: EventLog;
  /** Cluster mode: the sessions this system owns in a store it shares (see SessionOwnership). */
  ownership?: SessionOwnership;
}

export const SESSION_MANAGER_NAME = "session_manager";
export const SESSIONS_SUPERVISOR_NAME = "sessions_supervisor";

/**
 * Numbers an event, keeps it if it is durable, and sends it to the global topic and to the
 * session's own topic. In a host, hands it to the parent, which does all that.
 */
export function publish(deps: SessionDeps, input: SessionEventInput): void {
  if (deps.emit) {
    deps.emit(input);
    return;
  }
  if (!deps.eventLog)
    throw new InvalidArgumentError("deps", "publishing needs the session system's event log");
  const event = deps.eventLog.record(input);
  deps.pubsub.broadcast(GLOBAL_SESSION_TOPIC, event);
  deps.pubsub.broadcast(topicOf(event.sessionId), event);
}

/**
 * The session's topic, kept for the last session published to: a turn publishes a run of
 * events for one session, and a topic built per event is a new string the bus hashes again.
 */
let lastTopic = { sessionId: "", topic: "" };

function topicOf(sessionId: string): string {
  if (sessionId !== lastTopic.sessionId) lastTopic = { sessionId, topic: sessionTopic(sessionId) };
  return lastTopic.topic;
}

export { err, ok, type Result, unwrap } from "../runtime/index.js";
