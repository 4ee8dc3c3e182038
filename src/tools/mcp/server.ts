import { z } from "zod";
import {
  CallExitError,
  CallTimeoutError,
  describeReason,
  type ExitReason,
  NoProcError,
  type Pid,
  type Runtime,
  unwrap,
} from "../../runtime/index.js";
import { type ChildSpec, Supervisor, type SupervisorEvent, worker } from "../../supervision/index.js";
import { ToolAbortedError } from "../errors.js";
import { type AnyTool, defineTool } from "../tool.js";
import type { ToolDefinition } from "../tool-set.js";
import {
  type McpServerConfig,
  type McpServerConfigInput,
  parseMcpServerConfig,
  prefixedToolName,
} from "./config.js";
import { McpServerExitError, McpServerUnavailableError } from "./errors.js";
import type { McpToolResult } from "./results.js";
import {
  MCP_STOP_GRACE_MS,
  type McpServerCall,
  McpServerProcess,
  type McpToolDescription,
} from "./server-process.js";

export interface McpServerOptions {
  /**
   * A name to register the server's process under (needs the runtime's name service; unique in
   * the runtime, e.g. `mcp:<sessionId>:<server>`). Not needed to reach it: the handle follows
   * the process through its supervisor's events.
   */
  processName?: string;
  /** The environment a command server starts from (scrubbed of secrets first); default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

export interface McpCallOptions {
  /** At most the server's `callTimeoutMs`. */
  timeoutMs?: number;
  /** Cancels the call (MCP's notifications/cancelled is sent to the server). */
  signal?: AbortSignal;
}

/** Where a server stands, as its supervisor last said. */
export type McpServerState = "not_started" | "running" | "restarting" | "stopped" | "given_up";

// Room, beyond the call's own timeout, for the reply to come back through the process.
const REPLY_MARGIN_MS = 2_000;

let nextCallId = 1;

/**
 * One MCP server a session attaches: `spec` is the child its supervisor starts (a small
 * supervisor holding the server's process, with the server's own restart budget), and the rest
 * talks to whichever process currently runs it, found by its registered name.
 */
export class McpServer {
  readonly config: McpServerConfig;
  readonly processName: string | undefined;
  readonly #env: NodeJS.ProcessEnv | undefined;
  #state: McpServerState = "not_started";
  #lastExit: ExitReason | undefined;
  #pid: Pid | undefined;

  constructor(config: McpServerConfigInput, options: McpServerOptions = {}) {
    this.config = parseMcpServerConfig(config);
    this.processName = options.processName;
    this.#env = options.env;
  }

  get name(): string {
    return this.config.name;
  }

  get state(): McpServerState {
    return this.#state;
  }

  /** Why the server's process last ended, if it has. */
  get lastExit(): ExitReason | undefined {
    return this.#lastExit;
  }

  /** The process that runs the server now, if one does. */
  get pid(): Pid | undefined {
    return this.#pid;
  }

  /**
   * The child spec for a session's supervisor: a one_for_one supervisor (id `mcp:<server>`)
   * over the server's process, restarting it up to `maxRestarts` times in `periodMs`. Beyond
   * that it gives up: the small supervisor stops with `shutdown`, and since it is `transient`
   * the session's supervisor leaves it stopped, so a broken server costs the session its tools,
   * never the session. A server that cannot start at all fails the session's start with a
   * ChildStartError whose reason is the McpServerStartError.
   */
  get spec(): ChildSpec {
    const { config } = this;
    const args = { config, ...(this.#env === undefined ? {} : { env: this.#env }) };
    return Supervisor.childSpec(
      `mcp:${config.name}`,
      {
        strategy: "one_for_one",
        maxRestarts: config.maxRestarts,
        period: config.periodMs,
        onEvent: (event) => this.#observe(event),
        children: [
          worker("server", () => new McpServerProcess(), {
            args,
            ...(this.processName === undefined ? {} : { name: this.processName }),
            restart: config.restart,
            trapExit: true,
            // terminate closes stdin, waits, SIGTERMs, waits, SIGKILLs: give it all of that.
            shutdown: MCP_STOP_GRACE_MS * 2 + 1_000,
          }),
        ],
      },
      { restart: "transient" },
    );
  }

  /** The server's tools as it describes them, names not prefixed. */
  async describeTools(runtime: Runtime): Promise<McpToolDescription[]> {
    return unwrap(await this.#ask(runtime, { op: "tools" }, 5_000)) as McpToolDescription[];
  }

  /** The OS pid of a stdio server's process (and process group); undefined for an HTTP server. */
  async osPid(runtime: Runtime): Promise<number | undefined> {
    return unwrap(await this.#ask(runtime, { op: "pid" }, 5_000)) as number | undefined;
  }

  /** The tools' definitions as a model is told them, each named `<server>__<tool>`. */
  async definitions(runtime: Runtime): Promise<ToolDefinition[]> {
    return (await this.describeTools(runtime)).map((tool) => ({
      name: prefixedToolName(this.name, tool.name),
      description: tool.description,
      inputSchema: tool.inputSchema,
    }));
  }

  /**
   * Calls a tool (its own name, not prefixed). Fails with McpToolTimeoutError after the timeout
   * (the call is cancelled on the server, which stays up for other calls), McpServerExitError
   * when the server dies during the call, McpServerUnavailableError when no server is running
   * (restarting, or given up), McpToolCallError when the server answers with an error.
   */
  async callTool(
    runtime: Runtime,
    tool: string,
    input: unknown,
    options: McpCallOptions = {},
  ): Promise<McpToolResult> {
    const timeoutMs = Math.min(options.timeoutMs ?? this.config.callTimeoutMs, this.config.callTimeoutMs);
    const { signal } = options;
    if (signal?.aborted) throw new ToolAbortedError(tool, signal.reason);
    const id = nextCallId++;
    const pid = this.#pid;
    const onAbort = () => {
      if (pid !== undefined) runtime.cast(pid, { op: "cancel", id, reason: signal?.reason });
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const call: McpServerCall = { op: "call", id, tool, input, timeoutMs };
      return unwrap(await this.#ask(runtime, call, timeoutMs + REPLY_MARGIN_MS, pid)) as McpToolResult;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /**
   * The server's tools as ToolSet entries (`<server>__<tool>`, of the configured approval kind,
   * default `command`). Each call goes to whichever process runs the server at that moment, with
   * the context's signal; the input is checked by the server against its own schema, and the
   * model is shown that schema.
   */
  async tools(runtime: Runtime): Promise<AnyTool[]> {
    return (await this.describeTools(runtime)).map((tool) =>
      defineTool({
        name: prefixedToolName(this.name, tool.name),
        description: tool.description,
        kind: this.config.kind,
        // Any object passes here; the meta makes the definition the model sees the server's schema.
        input: z.looseObject({}).meta(tool.inputSchema),
        execute: (input, context) => this.callTool(runtime, tool.name, input, { signal: context.signal }),
      }),
    );
  }

  async #ask(runtime: Runtime, message: McpServerCall, timeoutMs: number, pid = this.#pid) {
    try {
      if (pid === undefined) throw new NoProcError("mcp server");
      return await runtime.call(pid as Pid<McpServerProcess>, message, timeoutMs);
    } catch (error) {
      if (error instanceof NoProcError) throw new McpServerUnavailableError(this.name, this.#whyNotRunning());
      if (error instanceof CallExitError) {
        const reason = error.reason;
        throw reason instanceof McpServerExitError
          ? reason
          : new McpServerUnavailableError(this.name, `it stopped (${describeReason(reason)})`);
      }
      if (error instanceof CallTimeoutError) {
        throw new McpServerUnavailableError(this.name, `it did not answer within ${timeoutMs} ms`);
      }
      throw error;
    }
  }

  #whyNotRunning(): string {
    const last = this.#lastExit === undefined ? "" : `; it last stopped: ${describeReason(this.#lastExit)}`;
    switch (this.#state) {
      case "given_up":
        return `given up after more than ${this.config.maxRestarts} restarts in ${this.config.periodMs} ms${last}`;
      case "restarting":
        return `restarting${last}`;
      case "not_started":
        return "not started";
      case "running":
      case "stopped":
        return `not running${last}`;
    }
  }

  #observe(event: SupervisorEvent): void {
    switch (event.type) {
      case "child_started":
      case "child_restarted":
        this.#state = "running";
        this.#pid = event.pid;
        break;
      case "child_exited":
        this.#pid = undefined;
        this.#lastExit = event.reason;
        this.#state = event.restarting ? "restarting" : "stopped";
        break;
      case "restart_failed":
        this.#lastExit = event.reason as ExitReason;
        this.#state = "restarting";
        break;
      case "intensity_exceeded":
        this.#state = "given_up";
        break;
    }
  }
}

/**
 * The child spec of one MCP server, with the handle to reach it:
 * `const { server, spec } = mcpServerSpec(config)`; put `spec` among a supervisor's children,
 * and `await server.tools(runtime)` once it runs.
 */
export function mcpServerSpec(
  config: McpServerConfigInput,
  options: McpServerOptions = {},
): { server: McpServer; spec: ChildSpec } {
  const server = new McpServer(config, options);
  return { server, spec: server.spec };
}
