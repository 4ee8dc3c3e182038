import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { CallToolResult, Tool as McpToolInfo } from "@modelcontextprotocol/sdk/types.js";
import { err, type From, GenServer, NoReply, ok, type Result } from "../../runtime/index.js";
import { scrubEnvironment } from "../environment.js";
import { ToolAbortedError } from "../errors.js";
import type { McpServerConfig } from "./config.js";
import {
  McpServerExitError,
  McpServerHungError,
  McpServerStartError,
  McpToolCallError,
  McpToolTimeoutError,
} from "./errors.js";
import { expandReferences } from "./references.js";
import { type McpToolResult, toToolResult } from "./results.js";
import { ProcessGroupStdioTransport } from "./stdio-transport.js";

/** A tool as the server describes it (its own name, not prefixed). */
export interface McpToolDescription {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
}

export type McpServerCall =
  | { op: "tools" }
  | { op: "pid" }
  | { op: "call"; id: number; tool: string; input: unknown; timeoutMs: number };

export type McpServerCast = { op: "cancel"; id: number; reason?: unknown };

type Info = { type: "mcp_closed" } | { type: "mcp_hung" };

export interface McpServerArgs {
  config: McpServerConfig;
  /** The environment a command server starts from, scrubbed of secrets; default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

const STOPPING = Symbol("the MCP server process is stopping");

/** After closing stdin, how long a stdio server has to exit before SIGTERM, then SIGKILL. */
export const MCP_STOP_GRACE_MS = 2_000;

/**
 * One MCP server, owned by one process: the connection (and for stdio, the server's process
 * group) lives exactly as long as this process. The server going away ends this process with
 * McpServerExitError, so its supervisor restarts it under its budget; this process ending, for
 * any reason, stops the server. Calls run concurrently, each with its own timeout.
 */
export class McpServerProcess extends GenServer<
  McpServerCall,
  Result<unknown>,
  McpServerCast,
  Info,
  McpServerArgs
> {
  #config!: McpServerConfig;
  #client!: Client;
  #transport: Transport | undefined;
  #tools: McpToolDescription[] = [];
  readonly #calls = new Map<number, AbortController>();
  /** Set once this process stops the server itself: the close that follows is no news. */
  #stopping = false;
  #pinging = false;

  override async init({ config, env }: McpServerArgs): Promise<void> {
    this.#config = config;
    const self = this.self;
    const runtime = this.runtime;
    const sdk = await loadSdk();
    const transport = this.#makeTransport(sdk, env ?? process.env);
    this.#transport = transport;
    // The backstop: however this process ends (even by an untrappable kill, which skips
    // terminate), a server still running is killed with its group.
    runtime.watch(self, () => {
      if (transport instanceof ProcessGroupStdioTransport) transport.kill();
    });
    const client = new sdk.Client({ name: "sessionvisor", version: "1" });
    this.#client = client;
    client.onclose = () => {
      if (!this.#stopping) runtime.send(self, { type: "mcp_closed" } satisfies Info);
    };
    try {
      await withDeadline(config.startTimeoutMs, async () => {
        await client.connect(transport, { timeout: config.startTimeoutMs });
        this.#tools = await listAllTools(client, config.startTimeoutMs);
      });
    } catch (error) {
      const stderr = transport instanceof ProcessGroupStdioTransport ? transport.stderrTail : "";
      this.#stopping = true;
      await transport.close().catch(() => undefined);
      throw new McpServerStartError(config.name, startProblem(error, config, transport), stderr, {
        cause: error,
      });
    }
  }

  override handleCall(message: McpServerCall, from: From<Result<unknown>>): Result<unknown> | NoReply {
    switch (message.op) {
      case "tools":
        return ok(structuredClone(this.#tools));
      case "pid":
        return ok(this.#transport instanceof ProcessGroupStdioTransport ? this.#transport.pid : undefined);
      case "call":
        this.#call(message, from);
        return NoReply;
    }
  }

  override handleCast(message: McpServerCast): void {
    this.#calls.get(message.id)?.abort(message.reason);
  }

  override handleInfo(message: Info): void {
    const type = (message as { type?: string }).type;
    if (type === "mcp_hung") {
      this.stop(new McpServerHungError(this.#config.name, this.#config.pingTimeoutMs));
      return;
    }
    if (type !== "mcp_closed") return;
    const transport = this.#transport;
    this.stop(
      transport instanceof ProcessGroupStdioTransport
        ? new McpServerExitError(this.#config.name, transport.exit, transport.stderrTail)
        : new McpServerExitError(this.#config.name, undefined),
    );
  }

  override async terminate(): Promise<void> {
    for (const call of this.#calls.values()) call.abort(STOPPING);
    this.#stopping = true;
    await this.#transport?.close().catch(() => undefined);
  }

  /** Runs one call in the background and replies when it ends; the mailbox stays free. */
  #call(message: Extract<McpServerCall, { op: "call" }>, from: From<Result<unknown>>): void {
    const { id, tool, input, timeoutMs } = message;
    const name = this.#config.name;
    const controller = new AbortController();
    this.#calls.set(id, controller);
    const transport = this.#transport;
    this.#client
      .callTool({ name: tool, arguments: (input ?? {}) as Record<string, unknown> }, undefined, {
        timeout: timeoutMs,
        signal: controller.signal,
      })
      .then(
        (result) => {
          const answer = result as CallToolResult;
          if (answer.isError === true) {
            const text = toToolResult(answer, this.#config.maxOutputBytes).text;
            from.reply(err(new McpToolCallError(name, tool, text || "the tool reported an error")));
          } else {
            from.reply(ok(toToolResult(answer, this.#config.maxOutputBytes) satisfies McpToolResult));
          }
        },
        (error: unknown) => {
          // Stopped with the process: the runtime fails the call with the process's exit reason.
          if (controller.signal.reason === STOPPING) return;
          if (controller.signal.aborted) {
            from.reply(err(new ToolAbortedError(tool, controller.signal.reason)));
          } else if (isMcpError(error, REQUEST_TIMEOUT)) {
            from.reply(err(new McpToolTimeoutError(name, tool, timeoutMs)));
            this.#checkAnswering();
          } else if (isMcpError(error, CONNECTION_CLOSED)) {
            from.reply(
              err(
                transport instanceof ProcessGroupStdioTransport
                  ? new McpServerExitError(name, transport.exit, transport.stderrTail)
                  : new McpServerExitError(name, undefined),
              ),
            );
          } else {
            from.reply(err(new McpToolCallError(name, tool, (error as Error)?.message ?? String(error))));
          }
        },
      )
      .finally(() => this.#calls.delete(id));
  }

  /**
   * After a timeout: a slow tool is no reason to drop the server (other calls may be running
   * fine), but a server that no longer answers a ping is hung, and this process ends so that
   * its supervisor starts a fresh one.
   */
  #checkAnswering(): void {
    if (this.#pinging || this.#stopping) return;
    this.#pinging = true;
    const self = this.self;
    const runtime = this.runtime;
    this.#client
      .ping({ timeout: this.#config.pingTimeoutMs })
      .then(
        () => undefined,
        () => {
          if (!this.#stopping) runtime.send(self, { type: "mcp_hung" } satisfies Info);
        },
      )
      .finally(() => {
        this.#pinging = false;
      });
  }

  #makeTransport(sdk: Sdk, env: NodeJS.ProcessEnv): Transport {
    const config = this.#config;
    if (config.url !== undefined) {
      return new sdk.StreamableHTTPClientTransport(new URL(config.url), {
        requestInit: { headers: expandReferences(config.name, "headers", config.headers, env) },
      });
    }
    return new ProcessGroupStdioTransport(
      {
        command: config.command!,
        args: config.args,
        // References are read from the environment before it is scrubbed: given on purpose.
        env: { ...scrubEnvironment(env), ...expandReferences(config.name, "env", config.env, env) },
        cwd: config.cwd,
        graceMs: MCP_STOP_GRACE_MS,
      },
      sdk.framing,
    );
  }
}

// The SDK's numeric error codes (ErrorCode.ConnectionClosed, ErrorCode.RequestTimeout), here so
// that matching them needs no import of the SDK outside init.
const CONNECTION_CLOSED = -32000;
const REQUEST_TIMEOUT = -32001;

function isMcpError(error: unknown, code: number): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === code;
}

type Sdk = Awaited<ReturnType<typeof loadSdk>>;

/** The SDK, loaded the first time a server starts: programs that never use MCP never load it. */
async function loadSdk() {
  const [client, http, framing] = await Promise.all([
    import("@modelcontextprotocol/sdk/client/index.js"),
    import("@modelcontextprotocol/sdk/client/streamableHttp.js"),
    import("@modelcontextprotocol/sdk/shared/stdio.js"),
  ]);
  return {
    Client: client.Client,
    StreamableHTTPClientTransport: http.StreamableHTTPClientTransport,
    framing,
  };
}

async function listAllTools(client: Client, timeoutMs: number): Promise<McpToolDescription[]> {
  const tools: McpToolDescription[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor === undefined ? {} : { cursor }, { timeout: timeoutMs });
    for (const tool of page.tools as McpToolInfo[]) {
      tools.push({
        name: tool.name,
        description: tool.description ?? tool.title ?? tool.name,
        inputSchema: tool.inputSchema as Record<string, unknown>,
      });
    }
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return tools;
}

class StartTimeout extends Error {}

async function withDeadline(ms: number, work: () => Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StartTimeout()), ms);
  });
  try {
    await Promise.race([work(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function startProblem(error: unknown, config: McpServerConfig, transport: Transport): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOENT") return `command not found: ${config.command}`;
  if (code === "EACCES") return `command not executable: ${config.command}`;
  if (error instanceof StartTimeout || isMcpError(error, REQUEST_TIMEOUT)) {
    return `no MCP handshake and tool list within ${config.startTimeoutMs} ms`;
  }
  if (transport instanceof ProcessGroupStdioTransport && transport.exit !== undefined) {
    const { exitCode, signal } = transport.exit;
    return signal !== null
      ? `its process was killed by ${signal} before the handshake`
      : `its process exited with code ${exitCode} before the handshake`;
  }
  return (error as Error)?.message ?? String(error);
}
