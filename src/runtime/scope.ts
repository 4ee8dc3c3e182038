import type { Clock, TimerHandle } from "./clock.js";
import type { ExitReason } from "./exit-reason.js";
import type { Logger } from "./logger.js";
import type { Pid, Ref } from "./pid.js";
import type { AnyServer, ArgsOf, CallOf, CastOf, ReplyOf } from "./server-types.js";
import type { SpawnOptions, Target } from "./target.js";

/** Where a running server finds its scope. Not exported from the package. */
export const SCOPE: unique symbol = Symbol("sessionvisor.scope");

/** A timer started by `sendAfter`; cancel it with `cancelTimer`. */
export interface TimerRef {
  readonly handle: TimerHandle;
}

/**
 * What a process may do, acting as itself: the narrow view of the runtime the runtime hands a
 * server when it spawns it (as xstate hands actor logic its ActorScope). Every operation is
 * sent from this process; none reaches another process's state. `R` is the runtime's type,
 * given by the runtime itself so that this module need not know it.
 */
export interface ProcessScope<R = unknown> {
  readonly self: Pid;
  /** The runtime this process runs in, for what is not an act of this process (its clock, names…). */
  readonly runtime: R;
  readonly logger: Logger;
  readonly clock: Clock;
  send(target: Target, message: unknown): void;
  cast<S>(target: Pid<S> | string, message: CastOf<S>): void;
  call<S>(target: Pid<S> | string, message: CallOf<S>, timeoutMs?: number): Promise<ReplyOf<S>>;
  /** Sends an exit signal to `target` from this process. */
  exit(target: Target, reason: ExitReason): void;
  link(target: Target): void;
  unlink(target: Target): void;
  monitor(target: Target): Ref;
  demonitor(ref: Ref): void;
  /** Delivers `message` to this process's `handleInfo` after `ms`; the timer dies with the process. */
  sendAfter(ms: number, message: unknown): TimerRef;
  cancelTimer(timer: TimerRef): void;
  /** While on, exit signals (except `kill`) arrive as `{ type: "EXIT" }` messages. */
  trapExit(on: boolean): void;
  /** Ends this process once the current callback returns (a pending call still gets its reply). */
  stop(reason: ExitReason): void;
  /** Spawns a process with this one as its parent (not linked unless `options.link` says so). */
  spawn<S extends AnyServer>(server: S, options?: SpawnOptions<ArgsOf<S>>): Promise<Pid<S>>;
  /**
   * @internal `spawnLink` that finishes at once when the child's `init` returns synchronously:
   * its pid, or a thrown error; a promise only when `init` returned one.
   */
  spawnLinkNow<S extends AnyServer>(
    server: S,
    options?: Omit<SpawnOptions<ArgsOf<S>>, "link">,
  ): Pid<S> | Promise<Pid<S>>;
  /** Spawns a process linked to this one, with this one as its parent (a supervisor's start). */
  spawnLink<S extends AnyServer>(server: S, options?: Omit<SpawnOptions<ArgsOf<S>>, "link">): Promise<Pid<S>>;
}
