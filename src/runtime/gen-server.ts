import type { ExitReason } from "./exit-reason.js";
import type { SystemMessage } from "./messages.js";
import type { From } from "./pending-call.js";
import type { Pid, Ref } from "./pid.js";
import type { Proc } from "./process.js";
import type { Runtime, SpawnOptions, Target, TimerRef } from "./runtime.js";

/** Returned from `handleCall` to answer later through `from.reply(...)`. */
export const NoReply: unique symbol = Symbol("sessionvisor.noreply");
export type NoReply = typeof NoReply;

/** Returned from `init` to not start (OTP's `ignore`): the spawn rejects with reason `ignore`. */
export const Ignore: unique symbol = Symbol("sessionvisor.ignore");
export type Ignore = typeof Ignore;

/** Where the runtime keeps the process a server instance runs as. Not exported from the package. */
export const PROC: unique symbol = Symbol("sessionvisor.proc");

// biome-ignore lint/suspicious/noExplicitAny: the widest server type, used only in constraints
export type AnyServer = GenServer<any, any, any, any, any>;
export type CallOf<S> = S extends { readonly __call: infer C } ? C : unknown;
export type ReplyOf<S> = S extends { readonly __reply: infer R } ? R : unknown;
export type CastOf<S> = S extends { readonly __cast: infer C } ? C : unknown;
export type InfoOf<S> = S extends { readonly __info: infer I } ? I : unknown;
export type ArgsOf<S> = S extends { readonly __args: infer A } ? A : unknown;

/**
 * A server process, as OTP's gen_server: one message at a time, state on `this`.
 * Any error thrown (or promise rejected) by a callback ends the process with that error as
 * its exit reason, after `terminate` runs. Helpers such as `send` and `call` act as this process.
 */
export abstract class GenServer<Call = never, Reply = unknown, Cast = never, Info = never, Args = void> {
  declare readonly __call: Call;
  declare readonly __reply: Reply;
  declare readonly __cast: Cast;
  declare readonly __info: Info;
  declare readonly __args: Args;

  [PROC]: Proc | undefined = undefined;

  // biome-ignore lint/suspicious/noConfusingVoidType: init returns nothing, Ignore, or a promise of either
  init?(args: Args): void | Ignore | Promise<void | Ignore>;
  handleCall?(message: Call, from: From<Reply>): Reply | NoReply | Promise<Reply | NoReply>;
  handleCast?(message: Cast): void | Promise<void>;
  handleInfo?(message: Info | SystemMessage): void | Promise<void>;
  terminate?(reason: ExitReason): void | Promise<void>;

  protected get proc(): Proc {
    const proc = this[PROC];
    if (!proc) throw new Error(`${this.constructor.name} is not running as a process`);
    return proc;
  }

  /** This process's pid. */
  get self(): Pid {
    return this.proc.pid;
  }

  protected get runtime(): Runtime {
    return this.proc.runtime;
  }

  protected send(target: Target, message: unknown): void {
    this.proc.runtime.sendFrom(this.proc, target, message);
  }

  protected cast<S>(target: Pid<S> | string, message: CastOf<S>): void {
    this.proc.runtime.castFrom(this.proc, target, message);
  }

  protected call<S>(target: Pid<S> | string, message: CallOf<S>, timeoutMs?: number): Promise<ReplyOf<S>> {
    return this.proc.runtime.callFrom(this.proc, target, message, timeoutMs) as Promise<ReplyOf<S>>;
  }

  /** Sends an exit signal to `target` from this process. */
  protected exit(target: Target, reason: ExitReason): void {
    this.proc.runtime.exitFrom(this.proc, target, reason);
  }

  protected link(target: Target): void {
    this.proc.runtime.linkFrom(this.proc, target);
  }

  protected unlink(target: Target): void {
    this.proc.runtime.unlinkFrom(this.proc, target);
  }

  protected monitor(target: Target): Ref {
    return this.proc.runtime.monitorFrom(this.proc, target);
  }

  protected demonitor(ref: Ref): void {
    this.proc.runtime.demonitor(ref);
  }

  /** While on, exit signals (except `kill`) arrive as `{ type: "EXIT" }` messages in `handleInfo`. */
  protected trapExits(on = true): void {
    this.proc.trapExit = on;
  }

  /** Delivers `message` to `handleInfo` after `ms`; the timer dies with the process. */
  protected sendAfter(ms: number, message: Info): TimerRef {
    return this.proc.runtime.sendAfterFrom(this.proc, ms, message);
  }

  protected cancelTimer(timer: TimerRef): void {
    this.proc.runtime.cancelTimer(timer);
  }

  /** Ends this process once the current callback returns (a pending call still gets its reply). */
  protected stop(reason: ExitReason = "normal"): void {
    this.proc.requestStop(reason);
  }

  protected spawn<S extends AnyServer>(server: S, options: SpawnOptions<ArgsOf<S>> = {}): Promise<Pid<S>> {
    return this.proc.runtime.spawn(server, { parent: this.proc.pid, ...options });
  }

  /** Spawns a process linked to this one, with this one as its parent. */
  protected spawnLink<S extends AnyServer>(
    server: S,
    options: SpawnOptions<ArgsOf<S>> = {},
  ): Promise<Pid<S>> {
    return this.proc.runtime.spawn(server, { parent: this.proc.pid, ...options, link: this.proc.pid });
  }
}
