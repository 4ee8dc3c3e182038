import type { ExitReason } from "./exit-reason.js";
import type { SystemMessage } from "./messages.js";
import type { From } from "./pending-call.js";
import type { Pid, Ref } from "./pid.js";
import type { Ignore, NoReply } from "./replies.js";
import type { Runtime } from "./runtime.js";
import { type ProcessScope, SCOPE, type TimerRef } from "./scope.js";
import type { AnyServer, ArgsOf, CallOf, CastOf, ReplyOf } from "./server-types.js";
import type { SpawnOptions, Target } from "./target.js";

/**
 * A server process, as OTP's gen_server: one message at a time, state on `this`.
 * Any error thrown (or promise rejected) by a callback ends the process with that error as
 * its exit reason, after `terminate` runs. Helpers such as `send` and `call` act as this
 * process, through the scope the runtime hands it at spawn.
 */
export abstract class GenServer<Call = never, Reply = unknown, Cast = never, Info = never, Args = void> {
  declare readonly __call: Call;
  declare readonly __reply: Reply;
  declare readonly __cast: Cast;
  declare readonly __info: Info;
  declare readonly __args: Args;

  /** @internal Set by the runtime at spawn. */
  [SCOPE]: ProcessScope<Runtime> | undefined = undefined;

  // biome-ignore lint/suspicious/noConfusingVoidType: init returns nothing, Ignore, or a promise of either
  init?(args: Args): void | Ignore | Promise<void | Ignore>;
  handleCall?(message: Call, from: From<Reply>): Reply | NoReply | Promise<Reply | NoReply>;
  handleCast?(message: Cast): void | Promise<void>;
  handleInfo?(message: Info | SystemMessage): void | Promise<void>;
  terminate?(reason: ExitReason): void | Promise<void>;

  /** What this process may do as itself; throws when the server is not running as a process. */
  protected get scope(): ProcessScope<Runtime> {
    const scope = this[SCOPE];
    if (!scope) throw new Error(`${this.constructor.name} is not running as a process`);
    return scope;
  }

  /** This process's pid. */
  get self(): Pid {
    return this.scope.self;
  }

  protected get runtime(): Runtime {
    return this.scope.runtime;
  }

  protected send(target: Target, message: unknown): void {
    this.scope.send(target, message);
  }

  protected cast<S>(target: Pid<S> | string, message: CastOf<S>): void {
    this.scope.cast(target, message);
  }

  protected call<S>(target: Pid<S> | string, message: CallOf<S>, timeoutMs?: number): Promise<ReplyOf<S>> {
    return this.scope.call(target, message, timeoutMs);
  }

  /** Sends an exit signal to `target` from this process. */
  protected exit(target: Target, reason: ExitReason): void {
    this.scope.exit(target, reason);
  }

  protected link(target: Target): void {
    this.scope.link(target);
  }

  protected unlink(target: Target): void {
    this.scope.unlink(target);
  }

  protected monitor(target: Target): Ref {
    return this.scope.monitor(target);
  }

  protected demonitor(ref: Ref): void {
    this.scope.demonitor(ref);
  }

  /** While on, exit signals (except `kill`) arrive as `{ type: "EXIT" }` messages in `handleInfo`. */
  protected trapExits(on = true): void {
    this.scope.trapExit(on);
  }

  /** Delivers `message` to `handleInfo` after `ms`; the timer dies with the process. */
  protected sendAfter(ms: number, message: Info): TimerRef {
    return this.scope.sendAfter(ms, message);
  }

  protected cancelTimer(timer: TimerRef): void {
    this.scope.cancelTimer(timer);
  }

  /** Ends this process once the current callback returns (a pending call still gets its reply). */
  protected stop(reason: ExitReason = "normal"): void {
    this.scope.stop(reason);
  }

  protected spawn<S extends AnyServer>(server: S, options: SpawnOptions<ArgsOf<S>> = {}): Promise<Pid<S>> {
    return this.scope.spawn(server, options);
  }

  /** Spawns a process linked to this one, with this one as its parent. */
  protected spawnLink<S extends AnyServer>(
    server: S,
    options: SpawnOptions<ArgsOf<S>> = {},
  ): Promise<Pid<S>> {
    return this.scope.spawnLink(server, options);
  }
}
