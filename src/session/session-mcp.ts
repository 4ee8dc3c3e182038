import { InitError } from "../runtime/index.js";
import { type ChildSpec, ChildStartError } from "../supervision/index.js";
import type { McpServer } from "../tools/index.js";
import { McpServerStartError } from "../tools/mcp/errors.js";
import type { SessionConfig } from "./config.js";

/**
 * The MCP server class, given by whoever builds session supervisors: the main process has it
 * loaded (session-placement.ts), and a host imports it only for a session that has servers
 * (hosted-session.ts), so that a host's session code does not load the tools and their schemas.
 */
let McpServerClass: typeof McpServer | undefined;

export function provideMcpServer(server: typeof McpServer): void {
  McpServerClass = server;
}

/**
 * The MCP servers of one session, one handle each, in the order the config lists them; undefined
 * for a session without any (most sessions: nothing is allocated for them).
 *
 * Each handle's `spec` is a small supervisor over the server's process, with the server's own
 * restart budget, a child of the session's supervisor. No process name is registered: the handle
 * follows the process through its supervisor's events, and a name would be one more thing a
 * leftover process of a restarted session tree could hold in the new tree's way.
 */
export function sessionMcpServers(config: SessionConfig): readonly McpServer[] | undefined {
  const configs = config.mcpServers;
  if (configs === undefined || configs.length === 0) return undefined;
  const Server = McpServerClass;
  if (Server === undefined) throw new Error("sessionMcpServers: no McpServer class was provided");
  return configs.map((server) => new Server(server));
}

/**
 * A session supervisor's children: its context manager, then its MCP servers (so that their
 * tools are there when the orchestrator starts and asks for them), then its orchestrator.
 */
export function sessionChildren(
  contextManager: ChildSpec,
  servers: readonly McpServer[] | undefined,
  orchestrator: ChildSpec,
): ChildSpec[] {
  if (servers === undefined) return [contextManager, orchestrator];
  return [contextManager, ...servers.map((server) => server.spec), orchestrator];
}

/**
 * The McpServerStartError inside a failed session start, if that is what failed it: it says
 * which server and why (its command, its stderr), where the supervisors' wrapping around it
 * would say only which child of which child.
 */
export function mcpStartErrorIn(error: unknown): McpServerStartError | undefined {
  let cause = error;
  for (let depth = 0; depth < 8 && cause !== undefined; depth++) {
    if (cause instanceof McpServerStartError) return cause;
    cause = cause instanceof ChildStartError || cause instanceof InitError ? cause.reason : undefined;
  }
  return undefined;
}
