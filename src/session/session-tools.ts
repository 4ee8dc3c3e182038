import type { LlmToolDefinition } from "../llm/index.js";
import type { Runtime } from "../runtime/index.js";
import type { AnyTool, Approver, Project, ToolContext, ToolOutcome, ToolSet } from "../tools/index.js";
import type { AgentArgs } from "./context-manager.js";

type ToolsModule = typeof import("../tools/index.js");

/**
 * The tools layer, loaded when a session first has tools to offer or a call to run: a session
 * without a project or MCP servers never needs it, and a host's session code then does not load
 * the tools and their schemas (zod). Once loaded, every session shares the settled promise.
 */
let toolsModule: Promise<ToolsModule> | undefined;

function loadTools(): Promise<ToolsModule> {
  toolsModule ??= import("../tools/index.js");
  return toolsModule;
}

/**
 * The signal the session's context is made with: every run gets its turn's own (`withSignal`),
 * and without one ToolContext would make an AbortController per session for nothing.
 */
const UNUSED_SIGNAL = new AbortController().signal;

/** Stands for the project of a session that has none; only MCP tools run with it. */
const NO_PROJECT: object = Object.freeze({});

/**
 * The tools one session's model may call: the built-in coding tools when the session has a
 * `projectPath` (those its `tools.enabled` names), and the tools of its MCP servers. Built once
 * per orchestrator for the project (it is opened then, so a project path that went away fails
 * the turn that needs it, not the session); MCP tools are gathered again each turn, as a server
 * that restarted may offer other tools.
 */
export class SessionTools {
  readonly #builtin: readonly AnyTool[];
  #context: ToolContext | undefined;
  readonly #makeContext: (tools: ToolsModule) => ToolContext;
  readonly #args: AgentArgs;
  /** Undefined for a session with no tool at all, until a model calls one all the same. */
  #set: ToolSet | undefined;
  #definitions: LlmToolDefinition[];
  /** Each MCP server's tools as last listed: offered while it restarts or after it is given up. */
  readonly #lastListed = new Map<string, AnyTool[]>();

  private constructor(
    args: AgentArgs,
    builtin: readonly AnyTool[],
    makeContext: (tools: ToolsModule) => ToolContext,
    tools: ToolsModule | undefined,
  ) {
    this.#args = args;
    this.#builtin = builtin;
    this.#makeContext = makeContext;
    // Made now when a tool can run (a bad limit then fails the turn that opens the tools, as it
    // always did); a session without any tool (no project, no MCP server) makes it only if a
    // model calls one all the same, rather than at every session's first turn.
    if (tools === undefined) {
      this.#definitions = [];
      return;
    }
    this.#context = makeContext(tools);
    this.#set = new tools.ToolSet(builtin);
    this.#definitions = this.#set.definitions();
  }

  /** Opens the session's project (ProjectOpenError if it cannot be), with `approve` for `ask` calls. */
  static async open(args: AgentArgs, approve: Approver): Promise<SessionTools> {
    const { config } = args;
    const hasTools = config.projectPath !== undefined || (args.mcpServers?.length ?? 0) > 0;
    const tools = hasTools ? await loadTools() : undefined;
    // Without a project only MCP tools are offered, and none of them touches `project`.
    const project =
      config.projectPath === undefined || tools === undefined
        ? (NO_PROJECT as Project)
        : await tools.Project.open(config.projectPath);
    const enabled = config.tools.enabled;
    const builtin =
      config.projectPath === undefined || tools === undefined
        ? []
        : enabled
          ? tools.BUILTIN_TOOLS.filter((tool) => enabled.includes(tool.name))
          : tools.BUILTIN_TOOLS;
    const makeContext = ({ ToolContext }: ToolsModule) =>
      new ToolContext({
        project,
        signal: UNUSED_SIGNAL,
        approval: config.tools.approval,
        approve,
        ...(config.tools.commandTimeoutMs === undefined
          ? {}
          : { limits: { commandTimeoutMs: config.tools.commandTimeoutMs } }),
      });
    return new SessionTools(args, builtin, makeContext, tools);
  }

  /** Whether the model is offered any tool at all (without any, a request carries no tool list). */
  get empty(): boolean {
    return this.#definitions.length === 0;
  }

  definitions(): readonly LlmToolDefinition[] {
    return this.#definitions;
  }

  /** Whether `refresh` has anything to gather (the session has MCP servers). */
  get refreshes(): boolean {
    return (this.#args.mcpServers?.length ?? 0) > 0;
  }

  /**
   * Gathers the MCP servers' tools again. A server not running now (restarting, or given up)
   * keeps offering the tools it last listed: a call to one then fails with the reason
   * (McpServerUnavailableError: "given up after …"), which tells the model more than a tool that
   * vanished. One that never ran offers none.
   */
  async refresh(runtime: Runtime): Promise<void> {
    const servers = this.#args.mcpServers ?? [];
    if (servers.length === 0) return;
    const gathered: AnyTool[] = [...this.#builtin];
    for (const server of servers) {
      try {
        const tools = await server.tools(runtime);
        this.#lastListed.set(server.name, tools);
        gathered.push(...tools);
      } catch (error) {
        gathered.push(...(this.#lastListed.get(server.name) ?? []));
        runtime.logger.warn(
          { event: "mcp_tools_unavailable", sessionId: this.#args.sessionId, server: server.name, error },
          `MCP server ${server.name} did not list its tools this turn`,
        );
      }
    }
    this.#set = new (await loadTools()).ToolSet(gathered);
    this.#definitions = this.#set.definitions();
  }

  /** The kind of a tool by name (for the approval event), or undefined for an unknown one. */
  kindOf(name: string): AnyTool["kind"] | undefined {
    return this.#set?.get(name)?.kind;
  }

  /**
   * Runs one call with the turn's signal: a ToolError (unknown tool, bad input, denied, refused
   * path, failed command) becomes an outcome the model reads; so does a fault of ours, so that
   * one broken tool never ends the turn, and it is logged.
   */
  async run(
    call: { id: string; name: string; input: unknown },
    signal: AbortSignal,
    runtime: Runtime,
  ): Promise<ToolOutcome> {
    // A call to a session with no tools: answered as an unknown tool, as by any other set.
    if (this.#set === undefined || this.#context === undefined) {
      const tools = await loadTools();
      this.#set ??= new tools.ToolSet(this.#builtin);
      this.#context ??= this.#makeContext(tools);
    }
    const set = this.#set;
    const context = this.#context.withSignal(signal);
    try {
      return await set.run(call, context);
    } catch (error) {
      runtime.logger.error(
        { event: "tool_failed", sessionId: this.#args.sessionId, tool: call.name, error },
        `tool ${call.name} failed`,
      );
      const message = error instanceof Error ? error.message : String(error);
      return { ok: false, error: { code: "tool_failed", message } };
    }
  }
}
