import type { Registry } from "../registry/index.js";
import type { AnyServer, Logger, Runtime } from "../runtime/index.js";
import { loadModule } from "./host-code.js";
import type { Isolation } from "./limits.js";

/**
 * What a hosted subtree's root is built with, wherever it runs. In a thread or process host
 * the runtime and registry are the host's own (its registry's keys are mirrored in the
 * parent's), and services are reached over the host's channel; inline, they are the parent's.
 */
export interface HostContext {
  readonly isolation: Isolation;
  /** The host's id (its runtime's node name); the parent's node name when inline. */
  readonly hostId: string;
  /** The label the parent gave the host (a session id, for a session). */
  readonly label: string;
  readonly runtime: Runtime;
  readonly registry: Registry;
  readonly logger: Logger;
  /**
   * A service the parent provides (`Hosts.provide`). Across a host boundary every method
   * returns a promise and its arguments must be sendable, so always `await` the result.
   */
  service<T extends object>(name: string): T;
}

/**
 * What a module names for a hosted subtree: builds the root process (usually a Supervisor).
 * It runs inside the host, so it receives only `args`, which crossed the boundary as a copy.
 */
export type HostedRootFactory = (context: HostContext, args: unknown) => AnyServer | Promise<AnyServer>;

export async function loadRootFactory(module: string, exportName: string): Promise<HostedRootFactory> {
  const loaded = await loadModule(module);
  const factory = loaded[exportName];
  if (typeof factory !== "function") {
    throw new TypeError(
      `${module} has no function export ${JSON.stringify(exportName)} to build a hosted root`,
    );
  }
  return factory as HostedRootFactory;
}
