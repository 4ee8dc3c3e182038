import type { Logger } from "pino";
import type { Clock } from "./clock.js";
import type { ExitReason } from "./exit-reason.js";
import type { Kernel } from "./kernel.js";
import type { Pid, Ref } from "./pid.js";
import type { Proc } from "./process.js";
import type { ProcessScope, TimerRef } from "./scope.js";
import type { AnyServer, ArgsOf, CallOf, CastOf, ReplyOf } from "./server-types.js";
import type { SpawnOptions, Target } from "./target.js";

/**
 * One process's scope: each operation is the kernel's, acting as this process. One small
 * object per process, its methods on the prototype, so that a spawn allocates no closures.
 */
export class ProcScope<R> implements ProcessScope<R> {
  constructor(
    private readonly kernel: Kernel,
    private readonly proc: Proc,
    readonly runtime: R,
  ) {}

  get self(): Pid {
    return this.proc.pid;
  }

  get logger(): Logger {
    return this.kernel.logger;
  }

  get clock(): Clock {
    return this.kernel.clock;
  }

  send(target: Target, message: unknown): void {
    this.kernel.sendFrom(this.proc, target, message);
  }

  cast<S>(target: Pid<S> | string, message: CastOf<S>): void {
    this.kernel.castFrom(this.proc, target, message);
  }

  call<S>(target: Pid<S> | string, message: CallOf<S>, timeoutMs?: number): Promise<ReplyOf<S>> {
    return this.kernel.callFrom(this.proc, target, message, timeoutMs) as Promise<ReplyOf<S>>;
  }

  exit(target: Target, reason: ExitReason): void {
    this.kernel.exitFrom(this.proc, target, reason);
  }

  link(target: Target): void {
    this.kernel.linkFrom(this.proc, target);
  }

  unlink(target: Target): void {
    this.kernel.unlinkFrom(this.proc, target);
  }

  monitor(target: Target): Ref {
    return this.kernel.monitorFrom(this.proc, target);
  }

  demonitor(ref: Ref): void {
    this.kernel.demonitor(ref);
  }

  sendAfter(ms: number, message: unknown): TimerRef {
    return this.kernel.sendAfterFrom(this.proc, ms, message);
  }

  cancelTimer(timer: TimerRef): void {
    this.kernel.cancelTimer(timer);
  }

  trapExit(on: boolean): void {
    this.proc.trapExit = on;
  }

  stop(reason: ExitReason): void {
    this.proc.requestStop(reason);
  }

  spawn<S extends AnyServer>(server: S, options: SpawnOptions<ArgsOf<S>> = {}): Promise<Pid<S>> {
    return this.kernel.spawn(server, options, this.proc) as Promise<Pid<S>>;
  }

  spawnLinkNow<S extends AnyServer>(
    server: S,
    options: Omit<SpawnOptions<ArgsOf<S>>, "link"> = {},
  ): Pid<S> | Promise<Pid<S>> {
    const proc = this.proc;
    return this.kernel.spawnNow(
      server,
      options.args,
      options.parent ?? proc.pid,
      proc,
      options.trapExit === true,
      options.name,
    ) as Pid<S> | Promise<Pid<S>>;
  }

  spawnLink<S extends AnyServer>(
    server: S,
    options: Omit<SpawnOptions<ArgsOf<S>>, "link"> = {},
  ): Promise<Pid<S>> {
    const proc = this.proc;
    return this.kernel.spawnUnder(
      server,
      options.args,
      options.parent ?? proc.pid,
      proc,
      options.trapExit === true,
      options.name,
    ) as Promise<Pid<S>>;
  }
}
