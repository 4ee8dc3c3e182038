import { hostedChild } from "../hosts/index.js";
import { InvalidArgumentError, type Pid } from "../runtime/index.js";
import { type ChildSpec, Supervisor, worker } from "../supervision/index.js";
import type { SessionConfig } from "./config.js";
import { type AgentArgs, ContextManager } from "./context-manager.js";
import type { SessionDeps } from "./deps.js";
import type { HostedSessionArgs } from "./hosted-session.js";
import { LlmOrchestrator } from "./llm-orchestrator.js";
import { sessionKeys } from "./session-id.js";

// Under tsx (tests, `npm start`) this layer runs from its sources; built, from .js files.
const HOSTED_SESSION_MODULE = new URL(
  import.meta.url.endsWith(".ts") ? "./hosted-session.ts" : "./hosted-session.js",
  import.meta.url,
);

/**
 * One session's supervisor (one_for_one), registered as `session_supervisor:<id>`, owning the
 * session's ContextManager and LLMOrchestrator. Its children register themselves under
 * `context_manager:<id>` and `llm_orchestrator:<id>`.
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

  /**
   * Permanent: a session supervisor that dies is restarted under its own restart budget. It
   * runs where the session's `isolation` (or the system's default) says.
   */
  static spec(sessionId: string, config: SessionConfig, deps: SessionDeps): ChildSpec {
    const hosting = deps.hosting;
    const isolation = config.isolation ?? hosting?.isolation ?? "inline";
    if (isolation !== "inline") {
      if (!hosting)
        throw new InvalidArgumentError("isolation", `${isolation} needs a session system with hosts`);
      const { maxHeapMb, maxMemoryMb, hangTimeoutMs, maxInFlightMb } = config.limits;
      const limits = Object.fromEntries(
        Object.entries({ maxHeapMb, maxMemoryMb, hangTimeoutMs, maxInFlightMb }).filter(
          ([, v]) => v !== undefined,
        ),
      );
      const args: HostedSessionArgs = {
        sessionId,
        config,
        ...(hosting.providers ? { providers: hosting.providers } : {}),
      };
      return hostedChild(hosting.hosts, {
        id: sessionId,
        isolation,
        module: HOSTED_SESSION_MODULE,
        export: "hostedSessionRoot",
        args,
        limits,
        restart: "permanent",
        shutdown: "infinity",
        type: "supervisor",
      });
    }
    return {
      id: sessionId,
      type: "supervisor",
      restart: "permanent",
      shutdown: "infinity",
      start: (ctx): Promise<Pid> =>
        ctx.spawnLink(new SessionSupervisor(sessionId, deps, config), { trapExit: true }),
    };
  }
}
