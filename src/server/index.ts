export { type AppOptions, createApp, type SessionvisorApp } from "./app.js";
export {
  Auth,
  hashToken,
  IMPLICIT_OWNER,
  loadTokens,
  newToken,
  parseTokens,
  TOKENS_ENV,
  type TokenEntry,
} from "./auth.js";
export { type CommandIo, runServeCommand, runTokenCommand, type ServeFlags } from "./command.js";
export {
  assertDataDirFree,
  claimDataDir,
  type DataDirHolder,
  DataDirInUseError,
  dataDirHolder,
  LOCK_FILE,
} from "./data-dir-lock.js";
export { type ErrorBody, errorResponse, HttpError, STATUS_OF_CODE } from "./errors.js";
export {
  ErrorBodySchema,
  type OpenApiOptions,
  openApiDocument,
  ROUTE_DOCS,
  type RouteDoc,
} from "./openapi.js";
export { DEFAULT_SERVER_LIMITS, isLoopbackHost, type ServerLimits } from "./options.js";
export { ProcessInfoSchema, type TreeNode, TreeNodeSchema, TreeSchema } from "./schemas.js";
export {
  DEFAULT_DATA_DIR,
  DEFAULT_HOST,
  DEFAULT_PORT,
  type RunningServer,
  type ServeClusterOptions,
  type ServeOptions,
  STORE_FILE,
  serve,
} from "./serve.js";
export {
  localSessions,
  type ServedSessionInfo,
  type ServedSessions,
  type ServedSubscription,
} from "./served-sessions.js";
