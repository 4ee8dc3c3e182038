export {
  type ChildSpec,
  type ChildType,
  type RestartType,
  type Shutdown,
  type StartContext,
  type WorkerOptions,
  worker,
} from "./child-spec.js";
export {
  DynamicSupervisor,
  type DynamicSupervisorCall,
  type DynamicSupervisorOptions,
  type DynamicSupervisorRequests,
  type RestartBudget,
} from "./dynamic-supervisor.js";
export {
  ChildAlreadyPresentError,
  ChildNotFoundError,
  ChildRestartingError,
  ChildRunningError,
  ChildStartError,
  MaxChildrenError,
} from "./errors.js";
export type { SupervisorEvent, SupervisorEventListener } from "./events.js";
export {
  type Caller,
  type Reply,
  type ReplyResult,
  type Request,
  type Requester,
  type RequestMap,
  requester,
} from "./requests.js";
export {
  type AutoShutdown,
  type ChildCounts,
  type ChildInfo,
  type ChildStatus,
  type Strategy,
  Supervisor,
  type SupervisorCall,
  type SupervisorOptions,
  type SupervisorRequests,
} from "./supervisor.js";
export type { ChildRequests } from "./supervisor-base.js";
