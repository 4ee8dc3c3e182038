// MCP tool servers: each one a supervised process owning its connection (and, for stdio, the
// server's process group); the SDK is loaded only when a server starts.
export {
  type McpServerConfig,
  type McpServerConfigInput,
  mcpServerConfigSchema,
  parseMcpServerConfig,
  prefixedToolName,
} from "./config.js";
export {
  McpServerExitError,
  McpServerHungError,
  McpServerStartError,
  McpServerUnavailableError,
  McpToolCallError,
  McpToolTimeoutError,
} from "./errors.js";
export { expandReferences, literalSecrets } from "./references.js";
export type { McpToolResult } from "./results.js";
export {
  type McpCallOptions,
  McpServer,
  type McpServerOptions,
  type McpServerState,
  mcpServerSpec,
} from "./server.js";
export {
  MCP_STOP_GRACE_MS,
  type McpServerArgs,
  type McpServerCall,
  type McpServerCast,
  McpServerProcess,
  type McpToolDescription,
} from "./server-process.js";
