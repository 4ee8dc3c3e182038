// The tools layer's public API: the coding tools confined to a session's project.
export {
  type ApprovalDecision,
  type ApprovalPolicies,
  type ApprovalPolicy,
  type Approver,
  DEFAULT_APPROVAL,
  type ToolCallRequest,
  type ToolKind,
} from "./approval.js";
export { BUILTIN_TOOLS, builtinToolSet } from "./builtin-tools.js";
export { type CommandOptions, type CommandOutcome, runCommand } from "./command-runner.js";
export { ToolContext, type ToolContextOptions } from "./context.js";
export { editTool } from "./edit-tool.js";
export { scrubEnvironment } from "./environment.js";
export {
  EditMatchError,
  FileNotFoundError,
  FileTooLargeError,
  InvalidToolInputError,
  NotARegularFileError,
  PathOutsideProjectError,
  ProjectOpenError,
  ReadBeforeWriteError,
  ToolAbortedError,
  ToolDeniedError,
  ToolError,
  UnknownToolError,
} from "./errors.js";
export type { FileChange } from "./file-changes.js";
export { DEFAULT_TOOL_LIMITS, type ToolLimits } from "./limits.js";
export { type ListFilesResult, listFilesTool } from "./list-files-tool.js";
export {
  expandReferences,
  literalSecrets,
  MCP_STOP_GRACE_MS,
  type McpCallOptions,
  McpServer,
  type McpServerArgs,
  type McpServerCall,
  type McpServerCast,
  type McpServerConfig,
  type McpServerConfigInput,
  McpServerExitError,
  McpServerHungError,
  type McpServerOptions,
  McpServerProcess,
  McpServerStartError,
  type McpServerState,
  McpServerUnavailableError,
  McpToolCallError,
  type McpToolDescription,
  type McpToolResult,
  McpToolTimeoutError,
  mcpServerConfigSchema,
  mcpServerSpec,
  parseMcpServerConfig,
  prefixedToolName,
} from "./mcp/index.js";
export { type FileRead, Project, type ResolvedPath } from "./project.js";
export type { WalkEntry } from "./project-walk.js";
export { type ReadFileResult, readFileTool } from "./read-file-tool.js";
export { type RunCommandResult, runCommandTool } from "./run-command-tool.js";
export { type SearchResult, searchTool } from "./search-tool.js";
export { type AnyTool, defineTool, type Tool } from "./tool.js";
export { type ToolCall, type ToolDefinition, type ToolOutcome, ToolSet } from "./tool-set.js";
export { writeFileTool } from "./write-file-tool.js";
