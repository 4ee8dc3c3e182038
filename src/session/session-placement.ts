// Not the hosts layer's public API: a session's root started before its supervisor takes it.
import { startHostedRoot } from "../hosts/hosted-child.js";
import { type HostedChildOptions, type Hosts, hostedChild, type Isolation } from "../hosts/index.js";
import { InvalidArgumentError, type Pid } from "../runtime/index.js";
import { type ChildStarter, PreparedSpec } from "../supervision/child-spec.js";
import type { ChildSpec, ChildType, RestartType, Shutdown, StartContext } from "../supervision/index.js";
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
  options: {
    /** A session just created, with no conversation stored (see AgentArgs.fresh). */
    fresh?: boolean;
    /** Its hosted root, started already (startHostedSession): the first start takes it. */
    started?: Pid;
  } = {},
): ChildSpec {
  const placed = hostedSession(sessionId, config, deps);
  if (!placed) return new InlineSessionSpec(sessionId, config, deps, options.fresh === true);
  const { hosts, hosted } = placed;
  const later = hostedChild(hosts, hosted);
  let started = options.started;
  // As inline: only the first start is of a fresh session, a restart finds what it stored.
  const first = options.fresh === true ? hostedChild(hosts, freshArgs(hosted)) : later;
  if (first === later && started === undefined) return later;
  let firstStart = true;
  return {
    ...later,
    start: (ctx) => {
      const pid = started;
      started = undefined;
      const start = firstStart ? first.start : later.start;
      firstStart = false;
      return pid ? Promise.resolve(pid) : start(ctx);
    },
  };
}

/**
 * Starts a new session's hosted root (its supervisor, in a thread or process host), linked to
 * `parent` (the sessions supervisor), without the sessions supervisor waiting for the host to
 * boot: the manager then gives the pid to `sessionChildSpec(…, { started })`. Undefined for an
 * inline session, which starts at once anyway.
 */
export function startHostedSession(
  sessionId: string,
  config: SessionConfig,
  deps: SessionDeps,
  parent: Pid,
): Promise<Pid> | undefined {
  const placed = hostedSession(sessionId, config, deps);
  return placed && startHostedRoot(placed.hosts, freshArgs(placed.hosted), parent);
}

/** Where a session with this config runs: its own choice, else the system's default. */
export function isolationOf(config: SessionConfig, deps: SessionDeps): Isolation {
  return config.isolation ?? deps.hosting?.isolation ?? "inline";
}

/** The hosts the session's supervisor runs in and how, or undefined when it runs inline. */
function hostedSession(
  sessionId: string,
  config: SessionConfig,
  deps: SessionDeps,
): { hosts: Hosts; hosted: HostedChildOptions } | undefined {
  const hosting = deps.hosting;
  const isolation = isolationOf(config, deps);
  if (isolation === "inline") return undefined;
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
  const hosted: HostedChildOptions = {
    id: sessionId,
    isolation,
    module: HOSTED_SESSION_MODULE,
    export: "hostedSessionRoot",
    args,
    limits,
    restart: "permanent",
    shutdown: "infinity",
    type: "supervisor",
    // A spare for the next session imports its providers' module too, as hostedSessionRoot will.
    ...(hosting.providers ? { preload: [hosting.providers.module] } : {}),
  };
  return { hosts: hosting.hosts, hosted };
}

function freshArgs(options: HostedChildOptions): HostedChildOptions {
  return { ...options, args: { ...(options.args as HostedSessionArgs), fresh: true } };
}

/**
 * An inline session's supervisor as a child of the sessions supervisor: permanent, waited for
 * when stopped. One object per session, started through the class's methods; its start
 * finishes at once when the session supervisor's and its agents' inits are synchronous.
 */
class InlineSessionSpec extends PreparedSpec {
  constructor(
    readonly id: string,
    private readonly config: SessionConfig,
    private readonly deps: SessionDeps,
    /** Only the first start is of a fresh session: a restart of its tree finds what it stored. */
    private fresh: boolean,
  ) {
    super();
  }

  // The same for every session: on the prototype, not four fields of each session's spec.
  get restart(): RestartType {
    return "permanent";
  }

  get shutdown(): Shutdown {
    return "infinity";
  }

  get type(): ChildType {
    return "supervisor";
  }

  get significant(): boolean {
    return false;
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
