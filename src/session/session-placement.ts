import { hostedChild } from "../hosts/index.js";
import { InvalidArgumentError, type Pid } from "../runtime/index.js";
import { type ChildStarter, PreparedChildSpec } from "../supervision/child-spec.js";
import type { ChildSpec, StartContext } from "../supervision/index.js";
import { McpServer } from "../tools/index.js";
import type { SessionConfig } from "./config.js";
import type { SessionDeps } from "./deps.js";
import type { HostedSessionArgs } from "./hosted-session.js";
import { provideMcpServer } from "./session-mcp.js";
import { SessionSupervisor } from "./session-supervisor.js";

// Inline sessions build their MCP servers here; a host loads the class itself (hosted-session.ts).
provideMcpServer(McpServer);

// Under tsx (tests, `npm start`) this layer runs from its sources; built, from .js files.
const HOSTED_SESSION_MODULE = new URL(
  import.meta.url.endsWith(".ts") ? "./hosted-session.ts" : "./hosted-session.js",
  import.meta.url,
);

/**
 * The child spec of one session's supervisor under the sessions DynamicSupervisor, which
 * decides where the session runs: in this event loop, or in a worker thread or child process
 * host, as the session's `isolation` (or the system's default) says. Permanent: a session
 * supervisor that dies is restarted under its own restart budget.
 */
export function sessionChildSpec(
  sessionId: string,
  config: SessionConfig,
  deps: SessionDeps,
  /** `fresh`: a session just created, with no conversation stored (see AgentArgs.fresh). */
  options: { fresh?: boolean } = {},
): ChildSpec {
  const hosting = deps.hosting;
  const isolation = config.isolation ?? hosting?.isolation ?? "inline";
  if (isolation === "inline") {
    return new InlineSessionSpec(sessionId, config, deps, options.fresh === true);
  }
  if (!hosting) throw new InvalidArgumentError("isolation", `${isolation} needs a session system with hosts`);
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
  const spec = (rootArgs: HostedSessionArgs) =>
    hostedChild(hosting.hosts, {
      id: sessionId,
      isolation,
      module: HOSTED_SESSION_MODULE,
      export: "hostedSessionRoot",
      args: rootArgs,
      limits,
      restart: "permanent",
      shutdown: "infinity",
      type: "supervisor",
      // A spare for the next session imports its providers' module too, as hostedSessionRoot will.
      ...(hosting.providers ? { preload: [hosting.providers.module] } : {}),
    });
  const later = spec(args);
  if (options.fresh !== true) return later;
  // As inline: only the first start is of a fresh session, a restart finds what it stored.
  const first = spec({ ...args, fresh: true });
  let fresh = true;
  return {
    ...later,
    start: (ctx) => {
      const start = fresh ? first.start : later.start;
      fresh = false;
      return start(ctx);
    },
  };
}

/**
 * An inline session's supervisor as a child of the sessions supervisor: permanent, waited for
 * when stopped. One object per session, started through the class's methods; its start
 * finishes at once when the session supervisor's and its agents' inits are synchronous.
 */
class InlineSessionSpec extends PreparedChildSpec {
  constructor(
    sessionId: string,
    private readonly config: SessionConfig,
    private readonly deps: SessionDeps,
    /** Only the first start is of a fresh session: a restart of its tree finds what it stored. */
    private fresh: boolean,
  ) {
    super(sessionId, "permanent", "infinity", "supervisor");
  }

  start(ctx: StartContext): Promise<Pid> {
    return ctx.spawnLink(this.supervisor(), { trapExit: true });
  }

  startNow(starter: ChildStarter): Pid | Promise<Pid> {
    return starter.spawnLinkNow(this.supervisor(), { trapExit: true });
  }

  private supervisor(): SessionSupervisor {
    const supervisor = new SessionSupervisor(this.id, this.deps, this.config, this.fresh);
    this.fresh = false;
    return supervisor;
  }
}
