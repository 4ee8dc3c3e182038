export { AlreadyStartedError } from "./already-started-error.js";
export { type Clock, ManualClock, settle, systemClock, type TimerHandle } from "./clock.js";
export {
  CallExitError,
  CallTimeoutError,
  InitError,
  InvalidArgumentError,
  NoProcError,
  RuntimeStoppedError,
  SessionvisorError,
} from "./errors.js";
export {
  describeReason,
  type ExitReason,
  isCleanExit,
  isShutdownReason,
  serializeReason,
} from "./exit-reason.js";
export { GenServer } from "./gen-server.js";
export { defaultLogger, type Logger, type LogMethod, logsAt, silentLogger, stderrLogger } from "./logger.js";
export {
  type DownMessage,
  type ExitMessage,
  isDownMessage,
  isExitMessage,
  type SystemMessage,
} from "./messages.js";
export type { From } from "./pending-call.js";
export { Pid, Ref } from "./pid.js";
export type { ProcState } from "./process-info.js";
export type { InboundEndpoint, RemoteRoute, RemoteRouter } from "./remote.js";
export { Ignore, NoReply } from "./replies.js";
export { err, ok, type Result, resultOf, unwrap } from "./result.js";
export {
  type ExitListener,
  type NameService,
  type ProcessInfo,
  pidBaseAt,
  Runtime,
  type RuntimeOptions,
  type SpawnOptions,
  type Target,
  type TimerRef,
} from "./runtime.js";
export type { ProcessScope } from "./scope.js";
export type { AnyServer, ArgsOf, CallOf, CastOf, InfoOf, ReplyOf } from "./server-types.js";
