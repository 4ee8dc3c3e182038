/**
 * A session whose supervision tree runs in a worker thread or a child process. The host builds
 * the same SessionSupervisor as inline, with deps of its own: its runtime and registry (whose
 * keys the parent mirrors), a file cache that dies with it, and the parent's store and event
 * bus reached through the `session` service, which serves this session only.
 */
// Not in the hosts layer's index: how a host loads a module is no business of its users.
import { loadModule } from "../hosts/host-code.js";
import type { HostContext } from "../hosts/index.js";
import { defaultProviders, ProviderRegistry } from "../llm/index.js";
import { PubSub } from "../registry/index.js";
import { InvalidArgumentError } from "../runtime/index.js";
import type { ConversationChange, StoredJson } from "../store/index.js";
import type { SessionConfig } from "./config.js";
import type { ContextSnapshot } from "./context-state.js";
import { ContextStore } from "./context-store.js";
import type { ConversationStore, SessionDeps } from "./deps.js";
import type { SessionEventInput } from "./events.js";
import { assertSessionId } from "./session-id.js";
import { provideMcpServer } from "./session-mcp.js";
import { SessionSupervisor } from "./session-supervisor.js";

export interface HostedSessionArgs {
  sessionId: string;
  /**
   * As the parent parsed it (parseSessionConfig): the host takes it as it is, so that its
   * session code needs neither the config's schemas nor the tools they name.
   */
  config: SessionConfig;
  providers?: { module: string; export: string };
  /**
   * A session just created, with no conversation stored: its context manager starts empty
   * without asking the parent for it (see AgentArgs.fresh). Only its first start says so.
   */
  fresh?: boolean;
}

/** What a hosted session asks of its parent: its own conversation, and its events published. */
export interface SessionService {
  getConversation(id: string): Promise<StoredJson | undefined>;
  /** Its conversation read and checked by the parent (the conversation schema stays there). */
  getContextSnapshot(id: string): Promise<ContextSnapshot | undefined>;
  /** One change to its conversation, one commit in the parent's store (see SessionStore). */
  changeConversation(id: string, change: ConversationChange): Promise<void>;
  /** The parent numbers the event (any `seq` sent along is replaced). */
  publish(event: SessionEventInput): Promise<void>;
}

export const SESSION_SERVICE = "session";

export async function hostedSessionRoot(context: HostContext, raw: unknown): Promise<SessionSupervisor> {
  const args = raw as HostedSessionArgs;
  assertSessionId(args?.sessionId);
  const config = args.config;
  // The MCP server class comes with the tools layer, loaded only for a session that has servers.
  if ((config.mcpServers?.length ?? 0) > 0) provideMcpServer((await import("../tools/index.js")).McpServer);
  const parent = context.service<SessionService>(SESSION_SERVICE);
  const events = context.notify<SessionService>(SESSION_SERVICE);
  // The agents use only these store methods; the rest of the store stays with the manager. The
  // parent checks the conversation it sends, as the context manager does inline.
  const store: ConversationStore = {
    getConversation: (id) => parent.getConversation(id),
    getContextSnapshot: (id) => parent.getContextSnapshot(id),
    changeConversation: (id, change) => parent.changeConversation(id, change),
  };
  const deps: SessionDeps = {
    runtime: context.runtime,
    registry: context.registry,
    pubsub: new PubSub(context.runtime),
    store,
    contextStore: new ContextStore(),
    providers: await loadProviders(args.providers),
    now: () => new Date(),
    // Notified, not requested: nothing waits on an event, and a streaming turn would otherwise
    // receive a reply for each of its deltas. The parent logs a publish that fails.
    emit: (event) => {
      try {
        events.publish(event);
      } catch (error) {
        // Only an event that cannot cross the boundary throws here.
        context.logger.warn(
          { event: "session_event_lost", type: event.type, error },
          "could not publish an event",
        );
      }
    },
  };
  return new SessionSupervisor(args.sessionId, deps, config, args.fresh === true);
}

async function loadProviders(source: HostedSessionArgs["providers"]): Promise<ProviderRegistry> {
  if (!source) return defaultProviders();
  const loaded = await loadModule(source.module);
  const build = loaded[source.export];
  const providers = typeof build === "function" ? await build() : undefined;
  if (!(providers instanceof ProviderRegistry)) {
    throw new InvalidArgumentError(
      "hostProviders",
      `${source.module} export ${JSON.stringify(source.export)} must be a function returning a ProviderRegistry`,
    );
  }
  return providers;
}
