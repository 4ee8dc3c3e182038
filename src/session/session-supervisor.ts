import { preparedChildList, SharedWorkerSpec } from "../supervision/child-spec.js";
import { Supervisor, type SupervisorOptions } from "../supervision/index.js";
import type { SessionConfig } from "./config.js";
import { type AgentArgs, ContextManager } from "./context-manager.js";
import type { SessionDeps } from "./deps.js";
import { LlmOrchestrator } from "./llm-orchestrator.js";
import { type SessionKeys, sessionKeys } from "./session-id.js";
import { mcpStartErrorIn, sessionChildren, sessionMcpServers } from "./session-mcp.js";

/**
 * The two agents' specs, shared by every session's supervisor: each start takes its args from
 * the supervisor starting it (see SharedWorkerSpec), so a session makes no specs of its own.
 */
const agentArgsOf = (supervisor: SessionSupervisor) => supervisor.agentArgs;
const CONTEXT_MANAGER = new SharedWorkerSpec("context_manager", () => new ContextManager(), agentArgsOf);
const ORCHESTRATOR = new SharedWorkerSpec("llm_orchestrator", () => new LlmOrchestrator(), agentArgsOf);

/** A session supervisor's options when it has no MCP servers, as most have: one object for all. */
const AGENTS_ONLY: SupervisorOptions = {
  strategy: "one_for_one",
  maxRestarts: 3,
  period: 5000,
  children: preparedChildList([CONTEXT_MANAGER, ORCHESTRATOR]),
};

/**
 * One session's supervisor (one_for_one), registered as `session_supervisor:<id>`, owning the
 * session's ContextManager, its MCP servers (one small supervisor each, with the server's own
 * restart budget: a server given up costs the session its tools, never the session) and its
 * LLMOrchestrator, started in that order. Its agents register themselves under
 * `context_manager:<id>` and `llm_orchestrator:<id>`, and are handed the servers' handles.
 * Where it runs is decided by `sessionChildSpec` (session-placement.ts).
 */
export class SessionSupervisor extends Supervisor {
  /** What both agents start with, each time (see AgentArgs); its keys and deps are this one's too. */
  readonly agentArgs: AgentArgs & { readonly keys: SessionKeys };

  constructor(
    sessionId: string,
    deps: SessionDeps,
    config: SessionConfig,
    /** Just created: its context manager need not read a conversation (see AgentArgs.fresh). */
    fresh = false,
  ) {
    const mcpServers = sessionMcpServers(config);
    const keys = sessionKeys(sessionId);
    // Two literals rather than a spread: this runs once per session created.
    const args: AgentArgs & { keys: SessionKeys } =
      mcpServers === undefined
        ? { sessionId, config, deps, fresh, contextManagerStarts: 0, orchestratorStarts: 0, keys }
        : {
            sessionId,
            config,
            deps,
            mcpServers,
            fresh,
            contextManagerStarts: 0,
            orchestratorStarts: 0,
            keys,
          };
    super(
      mcpServers === undefined
        ? AGENTS_ONLY
        : { ...AGENTS_ONLY, children: sessionChildren(CONTEXT_MANAGER, mcpServers, ORCHESTRATOR) },
    );
    this.agentArgs = args;
  }

  /**
   * Registered only once both agents run, so that a registered supervisor means a session that
   * is up. Synchronous when every child started at once.
   */
  override init(): void | Promise<void> {
    let started: void | Promise<void>;
    try {
      started = super.init();
    } catch (error) {
      throw mcpStartErrorIn(error) ?? error;
    }
    if (!started) return this.registerSelf();
    return started.then(
      () => this.registerSelf(),
      (error: unknown) => {
        // What started is stopped already; a server that would not start is named, not nested.
        throw mcpStartErrorIn(error) ?? error;
      },
    );
  }

  private registerSelf(): void {
    const { deps, keys } = this.agentArgs;
    deps.registry.register(keys.supervisor, this.self);
  }
}
