import { AlreadyStartedError } from "./already-started-error.js";
import type { Clock, TimerHandle } from "./clock.js";
import { reportExit } from "./crash-report.js";
import { Distribution, Hop, type LocalNode } from "./distribution.js";
import { CallExitError, InvalidArgumentError, NoProcError, RuntimeStoppedError } from "./errors.js";
import type { ExitReason } from "./exit-reason.js";
import { IdTable } from "./id-table.js";
import type { Logger } from "./logger.js";
import { CAST, INFO } from "./mailbox.js";
import type { DownMessage, ExitMessage } from "./messages.js";
import { CallTimeouts, PendingCall, ResultCall } from "./pending-call.js";
import { Pid, Ref } from "./pid.js";
import { type KernelPort, Proc } from "./process.js";
import type { ExitListener, ProcessInfo } from "./process-info.js";
import { Queue } from "./queue.js";
import type { InboundEndpoint, RemoteRouter } from "./remote.js";
import { valueOfResult } from "./result.js";
import { Scheduler } from "./scheduler.js";
import { type ProcessScope, SCOPE, type TimerRef } from "./scope.js";
import type { AnyServer } from "./server-types.js";
import type { NameService, SpawnOptions, Target } from "./target.js";

export interface KernelConfig {
  readonly node: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly defaultCallTimeout: number;
  readonly reductions: number;
  readonly sliceMs: number;
  readonly firstPid: number;
}

/** A server as the kernel holds it: with the slot its scope goes in. */
type HostedServer = AnyServer & { [SCOPE]: ProcessScope | undefined };

/** A GenServer instance has the scope slot (undefined until it runs); nothing else does. */
function isServer(value: unknown): value is HostedServer {
  return typeof value === "object" && value !== null && SCOPE in value;
}

/** A timer started by `sendAfter`, with the process it belongs to. */
class ProcTimer implements TimerRef {
  constructor(
    readonly handle: TimerHandle,
    readonly owner: Proc,
  ) {}
}

type MonitorRecord = {
  refId: number;
  watcher: Proc | undefined;
  callback: ((r: ExitReason) => void) | undefined;
};

const EXTERNAL_ID = 0;

/**
 * A call's promise takes its settling functions through this one executor, instead of a closure
 * made per call over what the call needs (a closure and its context, ~130 bytes a call): the
 * executor runs synchronously inside `new Promise`, so the caller reads them right after.
 */
let capturedResolve: (value: unknown) => void = () => {};
let capturedReject: (reason: unknown) => void = () => {};
function captureSettlers(resolve: (value: unknown) => void, reject: (reason: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/**
 * The local node: its process table, scheduler, exit signals, links and monitors. Every
 * operation takes the acting process as a Proc; the Runtime (for code outside processes) and
 * each process's scope (for the process itself) are its only callers. Not exported from the
 * package.
 */
export class Kernel implements KernelPort, LocalNode {
  readonly node: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly external: Pid;
  readonly defaultCallTimeout: number;
  readonly distribution: Distribution;

  private readonly table = new IdTable<Proc>();
  /** The process each monitor of this node watches, by the monitor's id. */
  private readonly monitorTargets = new IdTable<Proc>();
  private readonly exitListeners = new Set<ExitListener>();
  private readonly timeouts: CallTimeouts;
  private readonly scheduler: Scheduler;
  private readonly exitQueue = new Queue<{ proc: Proc; reason: ExitReason; quiet: boolean }>();
  private names: NameService | undefined;
  private nextPid = EXTERNAL_ID + 1;
  private nextRef = 1;
  private flushingExits = false;
  private stopped = false;

  constructor(
    config: KernelConfig,
    /** The Runtime this kernel is the node of, handed to processes as their scope's `runtime`. */
    readonly owner: unknown,
  ) {
    this.node = config.node;
    this.clock = config.clock;
    this.logger = config.logger;
    this.defaultCallTimeout = config.defaultCallTimeout;
    this.external = new Pid(this.node, EXTERNAL_ID);
    this.nextPid = config.firstPid;
    this.timeouts = new CallTimeouts(this.clock);
    this.scheduler = new Scheduler(config.reductions, config.sliceMs);
    this.distribution = new Distribution(this);
  }

  // ---- processes -------------------------------------------------------------------------

  spawn(server: AnyServer, options: SpawnOptions, parent: Proc | undefined): Promise<Pid> {
    let linkTo: Proc | undefined;
    if (options.link !== undefined) {
      try {
        linkTo = this.resolve(options.link);
      } catch (error) {
        return Promise.reject(error);
      }
      if (!linkTo || linkTo.state === "dead") return Promise.reject(new NoProcError(String(options.link)));
    }
    return this.spawnUnder(
      server,
      options.args,
      options.parent ?? parent?.pid ?? linkTo?.pid,
      linkTo,
      options.trapExit === true,
      options.name,
    );
  }

  /**
   * `spawn` for a caller that already holds the process to link to (a process spawning a
   * linked child): no option object to copy, no name to resolve.
   */
  spawnUnder(
    server: AnyServer,
    args: unknown,
    parentPid: Pid | undefined,
    linkTo: Proc | undefined,
    trapExit: boolean,
    name: string | undefined,
  ): Promise<Pid> {
    try {
      const started = this.spawnNow(server, args, parentPid, linkTo, trapExit, name);
      return started instanceof Pid ? Promise.resolve(started) : started;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * `spawnUnder` that finishes at once when `init` returns synchronously: the pid, or a thrown
   * error; a promise only when `init` returned one. A supervisor starting a tree of synchronous
   * inits goes through without a promise per child.
   */
  spawnNow(
    server: AnyServer,
    args: unknown,
    parentPid: Pid | undefined,
    linkTo: Proc | undefined,
    trapExit: boolean,
    name: string | undefined,
  ): Pid | Promise<Pid> {
    if (this.stopped) throw new RuntimeStoppedError(this.node);
    if (!isServer(server)) {
      throw new InvalidArgumentError("server", "must be an instance of a GenServer subclass");
    }
    if (server[SCOPE]) {
      throw new InvalidArgumentError(
        "server",
        `this ${server.constructor.name} instance already runs as a process`,
      );
    }
    if (linkTo?.state === "dead") throw new NoProcError(String(linkTo.pid));
    if (name !== undefined) {
      const refused = this.checkFreeName(name);
      if (refused) throw refused;
    }
    // Code outside any process is the parent of top-level processes (as the shell is in
    // Erlang), so that its `exit(pid, "shutdown")` stops a trapping server through terminate.
    const parent = parentPid ?? this.external;
    const proc = new Proc(new Pid(this.node, this.nextPid++), server, parent, this);
    // The process record is the scope: one object per process, not two.
    server[SCOPE] = proc;
    this.table.set(proc.pid.id, proc);
    if (name !== undefined) {
      try {
        // Checked free just above, with nothing run in between: this only refuses what the
        // service itself finds malformed (a registry's key length, say).
        (this.names as Required<NameService>).register(name, proc.pid);
      } catch (error) {
        this.table.delete(proc.pid.id);
        server[SCOPE] = undefined;
        throw error;
      }
    }
    if (trapExit) proc.trapping = true;
    if (linkTo) this.linkProcs(proc, linkTo);
    return proc.start(args, linkTo);
  }

  /** Why a spawn cannot take `name`: malformed, no name service, or held (OTP's already_started). */
  private checkFreeName(name: string): Error | undefined {
    if (typeof name !== "string" || name.length === 0) {
      return new InvalidArgumentError("name", "must be a non-empty string");
    }
    if (!this.names?.register) {
      return new InvalidArgumentError(
        "name",
        `runtime ${this.node} has no name service to register ${JSON.stringify(name)} in (install a Registry with names: true)`,
      );
    }
    const holder = this.names.whereis(name);
    return holder ? new AlreadyStartedError(name, holder) : undefined;
  }

  isAlive(target: Target): boolean {
    const hop = this.distribution.hop(target);
    if (hop instanceof Hop) return hop.route !== undefined && hop.to instanceof Pid;
    const proc = this.resolve(hop);
    return proc !== undefined && proc.state !== "dead";
  }

  whereis(target: Target): Pid | undefined {
    const hop = this.distribution.hop(target);
    if (hop instanceof Hop) return hop.route && hop.to instanceof Pid ? hop.to : undefined;
    const proc = this.resolve(hop);
    return proc && proc.state !== "dead" ? proc.pid : undefined;
  }

  processes(): Pid[] {
    return this.table.values().map((proc) => proc.pid);
  }

  get processCount(): number {
    return this.table.size;
  }

  procOf(id: number): Proc | undefined {
    return this.table.get(id);
  }

  info(target: Target): ProcessInfo | undefined {
    const proc = this.resolve(target);
    if (!proc || proc.state === "dead") return undefined;
    return {
      pid: proc.pid,
      behaviour: proc.behaviour,
      status: proc.state,
      busy: proc.busy,
      mailboxLength: proc.mailbox.length,
      messagesHandled: proc.handled,
      trapExit: proc.trapping,
      parent: proc.parent,
      links: proc.linked().map((linked) => linked.pid),
      monitoredBy: proc.watcherList().map((w) => w.watcher?.pid),
      monitors: proc.watching?.size ?? 0,
      names: this.namesOf(proc.pid),
    };
  }

  // ---- messages --------------------------------------------------------------------------

  /**
   * `forResult`: the reply is a Result, taken apart as it arrives (see CALL_FOR_RESULT): the
   * promise settles with its value or rejects with its error.
   */
  callFrom(
    caller: Proc | undefined,
    target: Target,
    message: unknown,
    timeoutMs?: number,
    forResult = false,
  ): Promise<unknown> {
    let ms: number;
    let proc: Proc | undefined;
    try {
      ms = timeoutMs === undefined ? this.defaultCallTimeout : checkTimeout(timeoutMs, "timeout");
      const hop = this.distribution.hop(target);
      if (hop instanceof Hop) {
        if (!hop.route) return Promise.reject(new NoProcError(String(target)));
        if (caller && caller.state === "dead") return Promise.reject(new NoProcError(caller.pid.toString()));
        const reply = hop.route.call(caller?.pid, hop.to, message, ms);
        return forResult ? reply.then((result) => valueOfResult(result, target)) : reply;
      }
      proc = this.resolve(hop);
    } catch (error) {
      return Promise.reject(error);
    }
    if (!proc || proc.state === "dead") return Promise.reject(new NoProcError(String(target)));
    if (caller === proc) {
      return Promise.reject(
        new InvalidArgumentError("target", `${proc.pid} cannot call itself (it would deadlock)`),
      );
    }
    if (caller && caller.state === "dead") return Promise.reject(new NoProcError(caller.pid.toString()));
    const promise = new Promise(captureSettlers);
    const reject = capturedReject;
    try {
      const pending = forResult
        ? new ResultCall(target, caller?.pid, capturedResolve, reject, this.timeouts)
        : new PendingCall(target, caller?.pid, capturedResolve, reject, this.timeouts);
      this.timeouts.track(pending, ms);
      proc.mailbox.push(pending, message);
      this.scheduler.schedule(proc);
    } catch (error) {
      reject(error);
    }
    return promise;
  }

  castFrom(sender: Proc | undefined, target: Target, message: unknown): void {
    if (sender?.state === "dead") return;
    const hop = this.distribution.hop(target);
    if (hop instanceof Hop) {
      hop.route?.cast(hop.to, message);
      return;
    }
    const proc = this.resolve(hop);
    if (!proc || proc.state === "dead") return;
    proc.mailbox.push(CAST, message);
    this.scheduler.schedule(proc);
  }

  sendFrom(sender: Proc | undefined, target: Target, message: unknown): void {
    if (sender?.state === "dead") return;
    const hop = this.distribution.hop(target);
    if (hop instanceof Hop) {
      hop.route?.send(sender?.pid ?? this.external, hop.to, message);
      return;
    }
    const proc = this.resolve(hop);
    if (!proc) {
      if (typeof target === "string") throw new NoProcError(target);
      return;
    }
    this.deliverInfo(proc, message);
  }

  sendAfterFrom(owner: Proc, ms: number, message: unknown): TimerRef {
    checkTimeout(ms, "ms");
    const timers = owner.timers ?? new Set<TimerHandle>();
    owner.timers = timers;
    const handle: TimerHandle = this.clock.setTimeout(() => {
      timers.delete(handle);
      this.deliverInfo(owner, message);
    }, ms);
    timers.add(handle);
    return new ProcTimer(handle, owner);
  }

  cancelTimer(timer: TimerRef): void {
    if (timer instanceof ProcTimer && timer.owner.timers?.delete(timer.handle))
      this.clock.clearTimeout(timer.handle);
  }

  deliverInfo(proc: Proc, message: unknown): void {
    if (proc.state === "dead") return;
    proc.mailbox.push(INFO, message);
    this.scheduler.schedule(proc);
  }

  schedule(proc: Proc): void {
    this.scheduler.schedule(proc);
  }

  // ---- exits, links, monitors ------------------------------------------------------------

  exitFrom(sender: Proc | undefined, target: Target, reason: ExitReason): void {
    if (sender?.state === "dead") return;
    const hop = this.distribution.hop(target);
    if (hop instanceof Hop) {
      hop.route?.exit(sender?.pid ?? this.external, hop.to, reason);
      return;
    }
    const proc = this.resolve(hop);
    if (!proc) {
      if (typeof target === "string") throw new NoProcError(target);
      return;
    }
    this.signal(proc, sender?.pid ?? this.external, reason, false);
  }

  /** Delivers an exit signal with OTP's rules. */
  signal(proc: Proc, from: Pid, reason: ExitReason, viaLink: boolean): void {
    if (proc.state === "dead") return;
    if (reason === "kill" && !viaLink) {
      // A parent killing its own child is a shutdown decision, not a crash worth a report.
      this.terminate(proc, "killed", from.id !== EXTERNAL_ID && from.equals(proc.parent));
      return;
    }
    if (proc.trapping) {
      const exit: ExitMessage = { type: "EXIT", from, reason };
      this.deliverInfo(proc, exit);
      return;
    }
    if (reason === "normal") {
      if (!viaLink && from.equals(proc.pid)) this.terminate(proc, "normal", false);
      return;
    }
    this.terminate(proc, reason, false);
  }

  /**
   * Ends `proc` at once with `reason` (no `terminate` callback). Exits caused by this one
   * (through links) are queued and handled in order, so long link chains never recurse.
   */
  terminate(proc: Proc, reason: ExitReason, quiet: boolean): void {
    if (proc.state === "dead") return;
    this.exitQueue.push({ proc, reason, quiet });
    if (this.flushingExits) return;
    this.flushingExits = true;
    try {
      for (let next = this.exitQueue.shift(); next; next = this.exitQueue.shift()) {
        this.finalize(next.proc, next.reason, next.quiet);
      }
    } finally {
      this.flushingExits = false;
    }
  }

  private finalize(proc: Proc, reason: ExitReason, quiet: boolean): void {
    if (proc.state === "dead") return;
    proc.state = "dead";
    proc.busy = true;
    proc.exitReason = reason;
    const pid = proc.pid;

    if (proc.timers) {
      for (const handle of proc.timers) this.clock.clearTimeout(handle);
      proc.timers = undefined;
    }
    // Read names before exit listeners (the registry) drop them: the report must name the process.
    if (!quiet) reportExit(this, proc, reason);
    this.table.delete(pid.id);
    for (const listener of this.exitListeners) {
      try {
        listener(pid, reason);
      } catch (error) {
        this.logger.error(
          { event: "exit_listener_failed", process: pid.toString(), err: error },
          "exit listener threw",
        );
      }
    }

    const unanswered = () => new CallExitError(pid.toString(), reason);
    proc.current?.fail(unanswered());
    proc.current = undefined;
    if (proc.deferred) {
      for (const call of [...proc.deferred]) call.fail(unanswered());
      proc.deferred = undefined;
    }
    for (const call of proc.mailbox.drainCalls()) call.fail(unanswered());

    if (proc.watching) {
      for (const refId of proc.watching.values()) this.dropMonitor(refId);
      proc.watching = undefined;
    }
    if (proc.watchers) {
      const watchers = proc.watcherList();
      proc.watchers = undefined;
      for (const w of watchers) this.fireMonitor(w, pid, reason);
    }
    if (proc.links) {
      const linked = proc.linked();
      proc.links = undefined;
      const linkReason = reason === "kill" ? "killed" : reason;
      for (const other of linked) {
        other.dropLink(proc);
        this.signal(other, pid, linkReason, true);
      }
    }
    this.distribution.exited(proc, reason);
  }

  /** Links two processes (both must be alive); `b` may be a process of another node. */
  link(a: Target, b: Target): void {
    const pa = this.resolveLive(a);
    const hop = this.distribution.hop(b);
    if (hop instanceof Hop) {
      if (!hop.route || !(hop.to instanceof Pid)) throw new NoProcError(String(b));
      this.distribution.link(pa, hop.route, hop.to);
      return;
    }
    const pb = this.resolveLive(hop);
    this.linkProcs(pa, pb);
  }

  unlink(a: Target, b: Target): void {
    const pa = this.resolve(a);
    if (pa) this.unlinkFrom(pa, b);
  }

  /** As OTP: linking to a dead process sends this one an exit signal `noproc`. */
  linkFrom(proc: Proc, target: Target): void {
    const hop = this.distribution.hop(target);
    if (hop instanceof Hop) {
      if (!(hop.to instanceof Pid)) throw new NoProcError(String(target));
      if (hop.route) this.distribution.link(proc, hop.route, hop.to);
      else this.signal(proc, hop.to, "noproc", true);
      return;
    }
    const other = this.resolve(hop);
    if (!other || other.state === "dead") {
      if (typeof target === "string" && !other) throw new NoProcError(target);
      this.signal(proc, other?.pid ?? (target as Pid), "noproc", true);
      return;
    }
    this.linkProcs(proc, other);
  }

  unlinkFrom(proc: Proc, target: Target): void {
    const hop = this.distribution.hop(target);
    if (hop instanceof Hop) {
      this.distribution.unlink(proc, hop);
      return;
    }
    const other = this.resolve(hop);
    if (other) this.unlinkProcs(proc, other);
  }

  linkProcs(a: Proc, b: Proc): void {
    if (a === b || a.state === "dead" || b.state === "dead") return;
    a.addLink(b);
    b.addLink(a);
  }

  unlinkProcs(a: Proc, b: Proc): void {
    a.dropLink(b);
    b.dropLink(a);
  }

  monitor(watcher: Target, target: Target): Ref {
    return this.monitorFrom(this.resolveLive(watcher), target);
  }

  monitorFrom(watcher: Proc, target: Target): Ref {
    const ref = new Ref(this.node, this.nextRef++);
    const hop = this.distribution.hop(target);
    if (hop instanceof Hop) {
      this.distribution.monitor(ref, hop, watcher, undefined);
      return ref;
    }
    const proc = this.resolve(hop);
    if (!proc || proc.state === "dead") {
      const down: DownMessage = {
        type: "DOWN",
        ref,
        pid: proc?.pid ?? (typeof target === "string" ? this.external : target),
        reason: "noproc",
      };
      this.deliverInfo(watcher, down);
      return ref;
    }
    this.addWatcher(proc, { refId: ref.id, watcher, callback: undefined });
    if (!watcher.watching) watcher.watching = new IdTable();
    watcher.watching.set(ref.id, ref.id);
    return ref;
  }

  watch(target: Target, callback: (reason: ExitReason) => void): Ref {
    if (typeof callback !== "function") throw new InvalidArgumentError("callback", "must be a function");
    const ref = new Ref(this.node, this.nextRef++);
    const hop = this.distribution.hop(target);
    if (hop instanceof Hop) {
      this.distribution.monitor(ref, hop, undefined, callback);
      return ref;
    }
    const proc = this.resolve(hop);
    if (!proc || proc.state === "dead") {
      queueMicrotask(() => this.runCallback(callback, "noproc", target));
      return ref;
    }
    this.addWatcher(proc, { refId: ref.id, watcher: undefined, callback });
    return ref;
  }

  /** Resolves with the exit reason of `target` (`noproc` if it is not alive). */
  whenExited(target: Target): Promise<ExitReason> {
    const promise = new Promise(captureSettlers) as Promise<ExitReason>;
    const resolve = capturedResolve;
    const reject = capturedReject;
    try {
      this.watch(target, resolve);
    } catch (error) {
      reject(error);
    }
    return promise;
  }

  demonitor(ref: Ref): void {
    if (ref.node !== this.node) return;
    this.dropMonitor(ref.id);
  }

  private addWatcher(proc: Proc, watcher: MonitorRecord): void {
    proc.addWatcher(watcher);
    this.monitorTargets.set(watcher.refId, proc);
  }

  private dropMonitor(refId: number): void {
    if (this.distribution.demonitor(refId)) return;
    const target = this.monitorTargets.get(refId);
    if (!target) return;
    this.monitorTargets.delete(refId);
    const watcher = target.takeWatcher(refId);
    watcher?.watcher?.watching?.delete(refId);
  }

  private fireMonitor(w: MonitorRecord, pid: Pid, reason: ExitReason): void {
    this.monitorTargets.delete(w.refId);
    if (w.watcher) {
      w.watcher.watching?.delete(w.refId);
      const down: DownMessage = { type: "DOWN", ref: new Ref(this.node, w.refId), pid, reason };
      this.deliverInfo(w.watcher, down);
    } else if (w.callback) {
      this.runCallback(w.callback, reason, pid);
    }
  }

  runCallback(callback: (reason: ExitReason) => void, reason: ExitReason, target: Target): void {
    try {
      callback(reason);
    } catch (error) {
      this.logger.error(
        { event: "watch_callback_failed", target: String(target), err: error },
        "exit watcher threw",
      );
    }
  }

  // ---- names, routers and listeners ------------------------------------------------------

  useRouter(router: RemoteRouter): InboundEndpoint {
    return this.distribution.install(router);
  }

  useNames(names: NameService): () => void {
    if (this.names && this.names !== names) {
      throw new InvalidArgumentError("names", `runtime ${this.node} already has a name service`);
    }
    this.names = names;
    return () => {
      if (this.names === names) this.names = undefined;
    };
  }

  namesOf(pid: Pid): readonly string[] {
    return this.names?.namesOf(pid) ?? [];
  }

  lookup(name: string): Pid | undefined {
    return this.names?.whereis(name);
  }

  onExit(listener: ExitListener): () => void {
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  resolve(target: Target): Proc | undefined {
    if (target instanceof Pid) return target.node === this.node ? this.table.get(target.id) : undefined;
    if (typeof target === "string") {
      if (target.length === 0) throw new InvalidArgumentError("target", "a name must not be empty");
      const pid = this.names?.whereis(target);
      return pid && pid.node === this.node ? this.table.get(pid.id) : undefined;
    }
    throw new InvalidArgumentError("target", `expected a Pid or a registered name, got ${typeof target}`);
  }

  private resolveLive(target: Target): Proc {
    const proc = this.resolve(target);
    if (!proc || proc.state === "dead") throw new NoProcError(String(target));
    return proc;
  }

  // ---- stopping --------------------------------------------------------------------------

  async shutdown(timeoutMs: number): Promise<void> {
    this.stopped = true;
    const roots = this.table
      .values()
      .filter((proc) => !this.table.has(proc.parent.id))
      .reverse();
    for (const proc of roots) {
      if (proc.state === "dead") continue;
      const exited = new Promise<ExitReason>((resolve) => this.watch(proc.pid, resolve));
      this.signal(proc, this.external, "shutdown", false);
      let timer: TimerHandle | undefined;
      const timedOut = new Promise<"timeout">((resolve) => {
        timer = this.clock.setTimeout(() => resolve("timeout"), timeoutMs);
      });
      const outcome = await Promise.race([exited, timedOut]);
      if (timer) this.clock.clearTimeout(timer);
      if (outcome === "timeout") this.terminate(proc, "killed", true);
    }
    for (const proc of this.table.values()) this.terminate(proc, "killed", true);
  }

  get isStopped(): boolean {
    return this.stopped;
  }
}

export function checkTimeout(ms: number, what: string): number {
  if (typeof ms !== "number" || Number.isNaN(ms) || ms < 0) {
    throw new InvalidArgumentError(
      what,
      `must be a non-negative number of ms or Infinity, got ${String(ms)}`,
    );
  }
  return ms;
}
