import { registerRevivableError, SessionvisorError } from "../../errors.js";
import { ToolError } from "../errors.js";

/**
 * An MCP server did not start: its command was not found, it exited at once, or it did not
 * finish the MCP handshake and list its tools within the start timeout. `stderr` is the end of
 * what it wrote there, which usually says why.
 */
export class McpServerStartError extends SessionvisorError {
  readonly server: string;
  readonly stderr: string;

  constructor(server: string, problem: string, stderr = "", options?: ErrorOptions) {
    super(
      "mcp_server_start_failed",
      `MCP server ${JSON.stringify(server)} failed to start: ${problem}${stderr ? `; its stderr ended with: ${stderr.trimEnd()}` : ""}`,
      options,
    );
    this.server = server;
    this.stderr = stderr;
  }
}

/**
 * A running MCP server went away (its process exited, or its connection closed): the exit
 * reason of its process, and what a call in flight at that moment fails with.
 */
export class McpServerExitError extends ToolError {
  readonly server: string;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stderr: string;

  constructor(
    server: string,
    exit: { exitCode: number | null; signal: string | null } | undefined,
    stderr = "",
  ) {
    const how =
      exit === undefined
        ? "its connection closed"
        : exit.signal !== null
          ? `its process was killed by ${exit.signal}`
          : `its process exited with code ${exit.exitCode}`;
    super(
      "mcp_server_exited",
      `MCP server ${JSON.stringify(server)} stopped: ${how}${stderr ? `; its stderr ended with: ${stderr.trimEnd()}` : ""}`,
    );
    this.server = server;
    this.exitCode = exit?.exitCode ?? null;
    this.signal = exit?.signal ?? null;
    this.stderr = stderr;
  }
}

/** The MCP server stopped answering (a call timed out, then a ping did too): it is restarted. */
export class McpServerHungError extends ToolError {
  readonly server: string;

  constructor(server: string, pingTimeoutMs: number) {
    super(
      "mcp_server_hung",
      `MCP server ${JSON.stringify(server)} stopped answering (a call timed out and a ping got no answer within ${pingTimeoutMs} ms); it is being restarted`,
    );
    this.server = server;
  }
}

/** The MCP server is not running now: restarting, or given up after its restart budget. */
export class McpServerUnavailableError extends ToolError {
  readonly server: string;

  constructor(server: string, why: string) {
    super("mcp_server_unavailable", `MCP server ${JSON.stringify(server)} is not available: ${why}`);
    this.server = server;
  }
}

/** An MCP tool call took longer than its timeout; it was cancelled on the server. */
export class McpToolTimeoutError extends ToolError {
  readonly server: string;
  readonly tool: string;
  readonly timeoutMs: number;

  constructor(server: string, tool: string, timeoutMs: number) {
    super(
      "mcp_tool_timeout",
      `${tool} on MCP server ${JSON.stringify(server)} did not answer within ${timeoutMs} ms and was cancelled`,
    );
    this.server = server;
    this.tool = tool;
    this.timeoutMs = timeoutMs;
  }
}

/** The MCP server answered the call with an error (a tool error, or a protocol error). */
export class McpToolCallError extends ToolError {
  readonly server: string;
  readonly tool: string;

  constructor(server: string, tool: string, message: string) {
    super("mcp_tool_error", `${tool} on MCP server ${JSON.stringify(server)} failed: ${message}`);
    this.server = server;
    this.tool = tool;
  }
}

for (const type of [
  McpServerStartError,
  McpServerExitError,
  McpServerHungError,
  McpServerUnavailableError,
  McpToolTimeoutError,
  McpToolCallError,
]) {
  registerRevivableError(type);
}
