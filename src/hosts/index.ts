export { HostStartError, UnsendableMessageError } from "./errors.js";
export type { HostMemory } from "./frames.js";
export type { HostCodeState } from "./host-code.js";
export type { HostContext, HostedRootFactory, Notifier } from "./host-context.js";
export { type HostDownCause, HostDownError, isHostDown } from "./host-down.js";
export { type HostedChildOptions, hostedChild } from "./hosted-child.js";
export {
  type HostInfo,
  Hosts,
  type HostsOptions,
  type ServiceCaller,
  type ServiceFactory,
  type SpawnRootOptions,
} from "./hosts.js";
export {
  checkIsolation,
  DEFAULT_HOST_LIMITS,
  type HostKind,
  type HostLimits,
  ISOLATIONS,
  type Isolation,
  MIN_PROCESS_MEMORY_MB,
  resolveLimits,
} from "./limits.js";
export { decodeTerm, encodeTerm, registerRevivableError } from "./term-codec.js";
