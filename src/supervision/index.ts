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
  type AutoShutdown,
  type ChildCounts,
  type ChildInfo,
  type ChildStatus,
  type Strategy,
  Supervisor,
  type SupervisorCall,
  type SupervisorOptions,
} from "./supervisor.js";
