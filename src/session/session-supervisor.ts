import { Supervisor, worker } from "../supervision/index.js";
import type { SessionConfig } from "./config.js";
import { type AgentArgs, ContextManager } from "./context-manager.js";
import type { SessionDeps } from "./deps.js";
import { LlmOrchestrator } from "./llm-orchestrator.js";
import { sessionKeys } from "./session-id.js";
import { mcpStartErrorIn, sessionChildren, sessionMcpServers } from "./session-mcp.js";

/**
 * One session's supervisor (one_for_one), registered as `session_supervisor:<id>`, owning the
 * session's ContextManager, its MCP servers (one small supervisor each, with the server's own
 * restart budget: a server given up costs the session its tools, never the session) and its
 * LLMOrchestrator, started in that order. Its agents register themselves under
 * `context_manager:<id>` and `llm_orchestrator:<id>`, and are handed the servers' handles.
 * Where it runs is decided by `sessionChildSpec` (session-placement.ts).
 */
export class SessionSupervisor extends Supervisor {
  constructor(
    private readonly sessionId: string,
    private readonly deps: SessionDeps,
    config: SessionConfig,
  ) {
    const mcpServers = sessionMcpServers(config);
    const args: AgentArgs =
      mcpServers === undefined ? { sessionId, config, deps } : { sessionId, config, deps, mcpServers };
    super({
      strategy: "one_for_one",
      maxRestarts: 3,
      period: 5000,
      children: sessionChildren(
        worker("context_manager", () => new ContextManager(), { args }),
        mcpServers,
        worker("llm_orchestrator", () => new LlmOrchestrator(), { args }),
      ),
    });
  }

  /** Registered only once both agents run, so that a registered supervisor means a session that is up. */
  override async init(): Promise<void> {
    try {
      await super.init();
    } catch (error) {
      // What started is stopped already; a server that would not start is named, not nested.
      throw mcpStartErrorIn(error) ?? error;
    }
    this.deps.registry.register(sessionKeys(this.sessionId).supervisor, this.self);
  }
}
