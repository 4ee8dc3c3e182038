import { Supervisor, worker } from "../supervision/index.js";
import type { SessionConfig } from "./config.js";
import { type AgentArgs, ContextManager } from "./context-manager.js";
import type { SessionDeps } from "./deps.js";
import { LlmOrchestrator } from "./llm-orchestrator.js";
import { sessionKeys } from "./session-id.js";

/**
 * One session's supervisor (one_for_one), registered as `session_supervisor:<id>`, owning the
 * session's ContextManager and LLMOrchestrator. Its children register themselves under
 * `context_manager:<id>` and `llm_orchestrator:<id>`. Where it runs is decided by `sessionChildSpec` (session-placement.ts).
 */
export class SessionSupervisor extends Supervisor {
  constructor(
    private readonly sessionId: string,
    private readonly deps: SessionDeps,
    config: SessionConfig,
  ) {
    const args: AgentArgs = { sessionId, config, deps };
    super({
      strategy: "one_for_one",
      maxRestarts: 3,
      period: 5000,
      children: [
        worker("context_manager", () => new ContextManager(), { args }),
        worker("llm_orchestrator", () => new LlmOrchestrator(), { args }),
      ],
    });
  }

  /** Registered only once both agents run, so that a registered supervisor means a session that is up. */
  override async init(): Promise<void> {
    await super.init();
    this.deps.registry.register(sessionKeys(this.sessionId).supervisor, this.self);
  }
}
