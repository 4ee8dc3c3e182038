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
  /**
   * The same service, for calls nobody waits on — events, metrics, logs: each call is sent and
   * never answered, so a host streaming many of them receives no reply for each (OTP's cast
   * beside its call). Calls keep their order, among themselves and with `service` requests.
   * Arguments that cannot cross throw UnsendableMessageError at once; a call that fails in the
   * parent is logged there (`host_notify_failed`, naming the service, method and label), since
   * nobody is waiting to be told. Inline, the method is called at once and its failure logged.
   */
  notify<T extends object>(name: string): Notifier<T>;
}

/** A service's methods as `notify` gives them: each sends its call and returns nothing. */
export type Notifier<T> = {
  readonly [K in keyof T]: T[K] extends (...args: infer A) => unknown ? (...args: A) => void : never;
};

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
