import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import { AlreadyStartedError } from "./already-started-error.js";
import { type Clock, systemClock, type TimerHandle } from "./clock.js";
import { reportExit } from "./crash-report.js";
import { CallExitError, InvalidArgumentError, NoProcError, RuntimeStoppedError } from "./errors.js";
import type { ExitReason } from "./exit-reason.js";
import {
  type AnyServer,
  type ArgsOf,
  type CallOf,
  type CastOf,
  GenServer,
  PROC,
  type ReplyOf,
} from "./gen-server.js";
import { defaultLogger } from "./logger.js";
import { CAST, INFO } from "./mailbox.js";
import type { DownMessage, ExitMessage } from "./messages.js";
import { CallTimeouts, PendingCall } from "./pending-call.js";
import { assertNodeName, Pid, Ref } from "./pid.js";
import { Proc, type ProcState } from "./process.js";
import { Queue } from "./queue.js";
import type { RemoteRoute, RemoteRouter } from "./remote.js";

/** A process addressed by pid or by a name registered in the runtime's name service. */
export type Target = Pid | string;

/** Resolves names for `call`/`cast`/`send`/`exit` (installed by a Registry; see `useNames`). */
export interface NameService {
  whereis(name: string): Pid | undefined;
  namesOf(pid: Pid): readonly string[];
  /**
   * Gives `name` to `pid` (a spawn's `name`); throws when it is taken or malformed. The service
   * drops a process's names the moment it exits (an `onExit` listener), which is what releases
   * the name of a process whose `init` failed. A service without it cannot name at spawn.
   */
  register?(name: string, pid: Pid): void;
}

export type ExitListener = (pid: Pid, reason: ExitReason) => void;

export interface RuntimeOptions {
  /** This runtime's node name, the first part of every pid (`<node.id>`). Random by default. */
  node?: string;
  clock?: Clock | undefined;
  logger?: Logger | undefined;
  /** Timeout of `call` when none is given, in ms (default 5000, as OTP). */
  defaultCallTimeout?: number;
  /** Messages handled per process before the next runnable process gets a turn (default 200). */
  reductions?: number;
  /**
   * Longest stretch, in ms, processes run before the scheduler yields to timers and I/O
   * (default 10). Counted across every drain of one event-loop turn, async handlers included.
   */
  sliceMs?: number;
}

export interface SpawnOptions<Args = unknown> {
  /** Passed to `init`. */
  args?: Args;
  /** Link the new process to this one before `init` runs. */
  link?: Target;
  /**
   * The process that started this one (its supervisor); a trapped exit from it stops the
   * server. Defaults to `link`, else to `runtime.external` (code outside any process).
   */
  parent?: Pid;
  /** Trap exits from the start, before `init` runs. */
  trapExit?: boolean;
  /**
   * Registers the process under this name before `init` runs, as OTP's `gen:start` with a name:
   * a name already held fails the spawn with AlreadyStartedError and nothing starts; a failed
   * (or ignored) `init` releases it. Needs a name service (a Registry with `names: true`).
   */
  name?: string;
}

export interface ProcessInfo {
  pid: Pid;
  behaviour: string;
  status: ProcState;
  busy: boolean;
  mailboxLength: number;
  messagesHandled: number;
  trapExit: boolean;
  /** The supervisor or spawner; `runtime.external` for a top-level process. */
  parent: Pid;
  links: Pid[];
  /** Processes (or callbacks, as undefined) monitoring this one. */
  monitoredBy: (Pid | undefined)[];
  /** Number of monitors this process holds on others. */
  monitors: number;
  names: readonly string[];
}

/** A timer started by `sendAfter`. */
export interface TimerRef {
  readonly handle: TimerHandle;
  readonly owner: Proc;
}

const EXTERNAL_ID = 0;
/**
 * Process steps between two reads of the clock at first and at most (see `sliceUsedUp`). The
 * most bounds how far a slice can overrun when cheap messages are suddenly followed by
 * expensive ones; a read every 64 steps costs well under a nanosecond per message.
 */
const INITIAL_CHECK_EVERY = 1;
const MAX_CHECK_EVERY = 64;

/** Where an operation on a pid or name of another node goes; `route` is undefined when that node is gone. */
class Hop {
  constructor(
    readonly route: RemoteRoute | undefined,
    readonly to: Pid | string,
  ) {}
}

/** A monitor this runtime holds on a process of another node. */
interface RemoteWatch {
  readonly refId: number;
  readonly watcher: Proc | undefined;
  readonly callback: ((reason: ExitReason) => void) | undefined;
  readonly target: Pid | string;
  readonly node: string;
}

/**
 * A set of processes with their own pids, names, scheduler and clock. Runtimes share nothing:
 * two in one program never see each other's processes.
 */
export class Runtime {
  readonly node: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The sender of signals and calls made by code that is not a process. */
  readonly external: Pid;
  readonly defaultCallTimeout: number;

  private readonly table = new Map<number, Proc>();
  private readonly monitorTargets = new Map<number, Proc>();
  private readonly exitListeners = new Set<ExitListener>();
  private readonly timeouts: CallTimeouts;
  private readonly runQueue = new Queue<Proc>();
  private readonly exitQueue = new Queue<{ proc: Proc; reason: ExitReason; quiet: boolean }>();
  private readonly reductions: number;
  private readonly sliceMs: number;
  private names: NameService | undefined;
  private router: RemoteRouter | undefined;
  private readonly remoteWatches = new Map<number, RemoteWatch>();
  /** Local processes holding links to processes of each other node, for when that node goes down. */
  private readonly remoteLinked = new Map<string, Set<Proc>>();
  private nextPid = EXTERNAL_ID + 1;
  private nextRef = 1;
  private drainPending = false;
  /**
   * A time slice spans every drain from the first one after the event loop had a turn to the
   * loop's next check phase (where `closeSlice` runs), so that drains chained through
   * microtasks (an async handler's turns) count against one slice instead of each starting
   * afresh.
   */
  private sliceOpen = false;
  private sliceStart = 0;
  /** Steps left before the clock is read; reading it per message would cost more than a cast. */
  private stepsToCheck = 0;
  /** Steps between clock reads, adapted so that the clock is read a few times per slice. */
  private checkEvery = INITIAL_CHECK_EVERY;
  private lastCheck = 0;
  private flushingExits = false;
  private stopped = false;

  constructor(options: RuntimeOptions = {}) {
    this.node = options.node ?? `n${randomBytes(4).toString("hex")}`;
    assertNodeName(this.node);
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? defaultLogger();
    this.defaultCallTimeout = checkTimeout(options.defaultCallTimeout ?? 5000, "defaultCallTimeout");
    this.reductions = checkReductions(options.reductions ?? 200);
    this.sliceMs = checkSlice(options.sliceMs ?? 10);
    this.external = new Pid(this.node, EXTERNAL_ID);
    this.timeouts = new CallTimeouts(this.clock);
  }

  // ---- processes -------------------------------------------------------------------------

  /** Starts `server` as a process; resolves with its pid once `init` has returned. */
  spawn<S extends AnyServer>(server: S, options: SpawnOptions<ArgsOf<S>> = {}): Promise<Pid<S>> {
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
      options.parent ?? linkTo?.pid,
      linkTo,
      options.trapExit === true,
      options.name,
    );
  }

  /**
   * @internal `spawn` for a caller that already holds the process to link to (a supervisor
   * starting its child): no option object to copy, no name to resolve.
   */
  spawnUnder<S extends AnyServer>(
    server: S,
    args: ArgsOf<S> | undefined,
    parentPid: Pid | undefined,
    linkTo: Proc | undefined,
    trapExit: boolean,
    name?: string,
  ): Promise<Pid<S>> {
    if (this.stopped) return Promise.reject(new RuntimeStoppedError(this.node));
    if (!(server instanceof GenServer)) {
      return Promise.reject(
        new InvalidArgumentError("server", "must be an instance of a GenServer subclass"),
      );
    }
    if (server[PROC]) {
      return Promise.reject(
        new InvalidArgumentError(
          "server",
          `this ${server.constructor.name} instance already runs as a process`,
        ),
      );
    }
    if (linkTo?.state === "dead") return Promise.reject(new NoProcError(String(linkTo.pid)));
    if (name !== undefined) {
      const refused = this.checkFreeName(name);
      if (refused) return Promise.reject(refused);
    }
    // Code outside any process is the parent of top-level processes (as the shell is in
    // Erlang), so that its `exit(pid, "shutdown")` stops a trapping server through terminate.
    const parent = parentPid ?? this.external;
    const proc = new Proc(new Pid(this.node, this.nextPid++), server, parent, this);
    server[PROC] = proc;
    this.table.set(proc.pid.id, proc);
    if (name !== undefined) {
      try {
        // Checked free just above, with nothing run in between: this only refuses what the
        // service itself finds malformed (a registry's key length, say).
        (this.names as Required<NameService>).register(name, proc.pid);
      } catch (error) {
        this.table.delete(proc.pid.id);
        server[PROC] = undefined;
        return Promise.reject(error);
      }
    }
    if (trapExit) proc.trapExit = true;
    if (linkTo) this.linkProcs(proc, linkTo);
    return proc.start(args, linkTo) as Promise<Pid<S>>;
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

  /** For a pid of another node: whether that node is connected (its process may still be gone). */
  isAlive(target: Target): boolean {
    const hop = this.hop(target);
    if (hop instanceof Hop) return hop.route !== undefined && hop.to instanceof Pid;
    const proc = this.resolve(hop);
    return proc !== undefined && proc.state !== "dead";
  }

  /** The live pid behind a pid or name, or undefined. */
  whereis(target: Target): Pid | undefined {
    const hop = this.hop(target);
    if (hop instanceof Hop) return hop.route && hop.to instanceof Pid ? hop.to : undefined;
    const proc = this.resolve(hop);
    return proc && proc.state !== "dead" ? proc.pid : undefined;
  }

  processes(): Pid[] {
    return [...this.table.values()].map((proc) => proc.pid);
  }

  get processCount(): number {
    return this.table.size;
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
      trapExit: proc.trapExit,
      parent: proc.parent,
      links: [...(proc.links ?? [])].map((linked) => linked.pid),
      monitoredBy: [...(proc.watchers?.values() ?? [])].map((w) => w.watcher?.pid),
      monitors: proc.watching?.size ?? 0,
      names: this.namesOf(proc.pid),
    };
  }

  // ---- messages --------------------------------------------------------------------------

  /**
   * Sends `message` to `handleCall` of `target` and resolves with the reply. Rejects with
   * NoProcError (target not alive), CallTimeoutError, or CallExitError (target exited first).
   */
  call<S>(target: Pid<S> | string, message: CallOf<S>, timeoutMs?: number): Promise<ReplyOf<S>> {
    return this.callFrom(undefined, target, message, timeoutMs) as Promise<ReplyOf<S>>;
  }

  /** Fire-and-forget to `handleCast`. As OTP, a cast to a dead process or unknown name is dropped. */
  cast<S>(target: Pid<S> | string, message: CastOf<S>): void {
    this.castFrom(undefined, target, message);
  }

  /** Delivers `message` to `handleInfo`. Dropped for a dead pid; an unknown name throws NoProcError. */
  send(target: Target, message: unknown): void {
    this.sendFrom(undefined, target, message);
  }

  /** Sends an exit signal, as OTP's `exit/2`: `kill` cannot be trapped; `normal` is ignored by others. */
  exit(target: Target, reason: ExitReason): void {
    this.exitFrom(undefined, target, reason);
  }

  /** @internal */
  callFrom(caller: Proc | undefined, target: Target, message: unknown, timeoutMs?: number): Promise<unknown> {
    let ms: number;
    let proc: Proc | undefined;
    try {
      ms = timeoutMs === undefined ? this.defaultCallTimeout : checkTimeout(timeoutMs, "timeout");
      const hop = this.hop(target);
      if (hop instanceof Hop) {
        if (!hop.route) return Promise.reject(new NoProcError(String(target)));
        if (caller && caller.state === "dead") return Promise.reject(new NoProcError(caller.pid.toString()));
        return hop.route.call(caller?.pid, hop.to, message, ms);
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
    const callee = proc;
    return new Promise((resolve, reject) => {
      const pending = new PendingCall(target, caller?.pid, resolve, reject, this.timeouts);
      this.timeouts.track(pending, ms);
      callee.mailbox.push(pending, message);
      this.schedule(callee);
    });
  }

  /** @internal */
  castFrom(sender: Proc | undefined, target: Target, message: unknown): void {
    if (sender?.state === "dead") return;
    const hop = this.hop(target);
    if (hop instanceof Hop) {
      hop.route?.cast(hop.to, message);
      return;
    }
    const proc = this.resolve(hop);
    if (!proc || proc.state === "dead") return;
    proc.mailbox.push(CAST, message);
    this.schedule(proc);
  }

  /** @internal */
  sendFrom(sender: Proc | undefined, target: Target, message: unknown): void {
    if (sender?.state === "dead") return;
    const hop = this.hop(target);
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

  /** @internal */
  sendAfterFrom(owner: Proc, ms: number, message: unknown): TimerRef {
    checkTimeout(ms, "ms");
    const timers = owner.timers ?? new Set<TimerHandle>();
    owner.timers = timers;
    const handle: TimerHandle = this.clock.setTimeout(() => {
      timers.delete(handle);
      this.deliverInfo(owner, message);
    }, ms);
    timers.add(handle);
    return { handle, owner };
  }

  cancelTimer(timer: TimerRef): void {
    if (timer.owner.timers?.delete(timer.handle)) this.clock.clearTimeout(timer.handle);
  }

  private deliverInfo(proc: Proc, message: unknown): void {
    if (proc.state === "dead") return;
    proc.mailbox.push(INFO, message);
    this.schedule(proc);
  }

  // ---- scheduler -------------------------------------------------------------------------

  /** @internal Queues `proc` to run if it has mail and can take it. */
  schedule(proc: Proc): void {
    if (proc.queued || proc.busy || proc.state !== "running" || proc.mailbox.length === 0) return;
    proc.queued = true;
    this.runQueue.push(proc);
    if (!this.drainPending) {
      this.drainPending = true;
      queueMicrotask(this.drain);
    }
  }

  /**
   * Gives each process in the run queue one turn of at most `reductions` messages (a round),
   * then lets pending promise callbacks run before the next round (queueMicrotask), so that a
   * process with an async handler, which can take its next message only once its handler's
   * promise settles, gets a turn each round as a sync one does. Once the slice is used up, the
   * rest waits for the event loop's check phase (setImmediate), after timers and I/O.
   */
  private readonly drain = (): void => {
    if (!this.sliceOpen) this.openSlice();
    for (let round = this.runQueue.length; round > 0; round--) {
      const proc = this.runQueue.shift() as Proc;
      proc.queued = false;
      for (let n = 0; n < this.reductions; n++) {
        if (proc.busy || proc.state !== "running" || proc.mailbox.length === 0) break;
        proc.step();
        if (--this.stepsToCheck <= 0 && this.sliceUsedUp()) {
          // drainPending stays true: whatever becomes runnable meanwhile waits in the queue.
          this.schedule(proc);
          setImmediate(this.drain);
          return;
        }
      }
      this.schedule(proc);
    }
    if (this.runQueue.length > 0) queueMicrotask(this.nextRound);
    else this.drainPending = false;
  };

  /**
   * Two microtask hops, not one: an async handler that awaited nothing slow settles in two
   * (its own continuation, then the step's `then`), and so is back in the queue for the round.
   */
  private readonly nextRound = (): void => {
    queueMicrotask(this.drain);
  };

  private openSlice(): void {
    this.sliceOpen = true;
    this.sliceStart = performance.now();
    this.lastCheck = this.sliceStart;
    this.stepsToCheck = this.checkEvery;
    setImmediate(this.closeSlice);
  }

  /** Runs in the check phase: the event loop had its turn, so the next drain starts a new slice. */
  private readonly closeSlice = (): void => {
    this.sliceOpen = false;
  };

  /**
   * Reads the clock, and sets how many steps to run before the next read from what the last
   * ones cost, aiming at a read every eighth of a slice: a slice then overruns by about that
   * much whether a message takes a microsecond or a millisecond, and the clock costs nothing
   * noticeable per message. (The time since the last read may include other work between
   * drains; that only makes the reads more frequent.)
   */
  private sliceUsedUp(): boolean {
    const now = performance.now();
    const perStep = (now - this.lastCheck) / this.checkEvery;
    this.lastCheck = now;
    const steps = perStep > 0 ? Math.floor(this.sliceMs / 8 / perStep) : MAX_CHECK_EVERY;
    this.checkEvery = Math.max(1, Math.min(steps, MAX_CHECK_EVERY));
    this.stepsToCheck = this.checkEvery;
    return now - this.sliceStart >= this.sliceMs;
  }

  // ---- exits, links, monitors ------------------------------------------------------------

  /** @internal */
  exitFrom(sender: Proc | undefined, target: Target, reason: ExitReason): void {
    if (sender?.state === "dead") return;
    const hop = this.hop(target);
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
  private signal(proc: Proc, from: Pid, reason: ExitReason, viaLink: boolean): void {
    if (proc.state === "dead") return;
    if (reason === "kill" && !viaLink) {
      // A parent killing its own child is a shutdown decision, not a crash worth a report.
      this.terminate(proc, "killed", from.id !== EXTERNAL_ID && from.equals(proc.parent));
      return;
    }
    if (proc.trapExit) {
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
   * @internal Ends `proc` at once with `reason` (no `terminate` callback). Exits caused by this
   * one (through links) are queued and handled in order, so long link chains never recurse.
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
      for (const refId of proc.watching) this.dropMonitor(refId);
      proc.watching = undefined;
    }
    if (proc.watchers) {
      const watchers = [...proc.watchers.values()];
      proc.watchers = undefined;
      for (const w of watchers) this.fireMonitor(w, pid, reason);
    }
    if (proc.links) {
      const linked = [...proc.links];
      proc.links = undefined;
      const linkReason = reason === "kill" ? "killed" : reason;
      for (const other of linked) {
        other.links?.delete(proc);
        this.signal(other, pid, linkReason, true);
      }
    }
    if (proc.remoteLinks) {
      const remote = [...proc.remoteLinks.values()];
      const linkReason = reason === "kill" ? "killed" : reason;
      for (const other of remote) {
        this.dropRemoteLink(proc, other);
        this.router?.route(other.node)?.linkExit(pid, other, linkReason);
      }
    }
  }

  /** Links two processes (both must be alive); `b` may be a process of another node. */
  link(a: Target, b: Target): void {
    const pa = this.resolveLive(a);
    const hop = this.hop(b);
    if (hop instanceof Hop) {
      if (!hop.route || !(hop.to instanceof Pid)) throw new NoProcError(String(b));
      this.linkRemote(pa, hop.route, hop.to);
      return;
    }
    const pb = this.resolveLive(hop);
    this.linkProcs(pa, pb);
  }

  unlink(a: Target, b: Target): void {
    const pa = this.resolve(a);
    if (pa) this.unlinkFrom(pa, b);
  }

  /** @internal As OTP: linking to a dead process sends this one an exit signal `noproc`. */
  linkFrom(proc: Proc, target: Target): void {
    const hop = this.hop(target);
    if (hop instanceof Hop) {
      if (!(hop.to instanceof Pid)) throw new NoProcError(String(target));
      if (hop.route) this.linkRemote(proc, hop.route, hop.to);
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

  /** @internal */
  unlinkFrom(proc: Proc, target: Target): void {
    const hop = this.hop(target);
    if (hop instanceof Hop) {
      if (hop.to instanceof Pid && proc.remoteLinks?.has(hop.to.toString())) {
        this.dropRemoteLink(proc, hop.to);
        hop.route?.unlink(proc.pid, hop.to);
      }
      return;
    }
    const other = this.resolve(hop);
    if (other) this.unlinkProcs(proc, other);
  }

  /** @internal */
  linkProcs(a: Proc, b: Proc): void {
    if (a === b || a.state === "dead" || b.state === "dead") return;
    if (!a.links) a.links = new Set();
    if (!b.links) b.links = new Set();
    a.links.add(b);
    b.links.add(a);
  }

  /** @internal */
  unlinkProcs(a: Proc, b: Proc): void {
    a.links?.delete(b);
    b.links?.delete(a);
  }

  /**
   * Makes `watcher` receive `{ type: "DOWN", ref, pid, reason }` when `target` exits; at once,
   * with reason `noproc`, if it is not alive.
   */
  monitor(watcher: Target, target: Target): Ref {
    return this.monitorFrom(this.resolveLive(watcher), target);
  }

  /** @internal */
  monitorFrom(watcher: Proc, target: Target): Ref {
    const ref = new Ref(this.node, this.nextRef++);
    const hop = this.hop(target);
    if (hop instanceof Hop) {
      this.monitorRemote(ref, hop, watcher, undefined);
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
    if (!watcher.watching) watcher.watching = new Set();
    watcher.watching.add(ref.id);
    return ref;
  }

  /**
   * Calls `callback(reason)` once when `target` exits, from code that is not a process; on the
   * next microtask with `noproc` if it is not alive. Cancel with `demonitor`.
   */
  watch(target: Target, callback: (reason: ExitReason) => void): Ref {
    if (typeof callback !== "function") throw new InvalidArgumentError("callback", "must be a function");
    const ref = new Ref(this.node, this.nextRef++);
    const hop = this.hop(target);
    if (hop instanceof Hop) {
      this.monitorRemote(ref, hop, undefined, callback);
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
    return new Promise((resolve) => this.watch(target, resolve));
  }

  demonitor(ref: Ref): void {
    if (ref.node !== this.node) return;
    this.dropMonitor(ref.id);
  }

  private addWatcher(
    proc: Proc,
    watcher: { refId: number; watcher: Proc | undefined; callback: ((r: ExitReason) => void) | undefined },
  ): void {
    if (!proc.watchers) proc.watchers = new Map();
    proc.watchers.set(watcher.refId, watcher);
    this.monitorTargets.set(watcher.refId, proc);
  }

  private dropMonitor(refId: number): void {
    const remote = this.remoteWatches.get(refId);
    if (remote) {
      this.remoteWatches.delete(refId);
      remote.watcher?.watching?.delete(refId);
      this.router?.route(remote.node)?.demonitor(new Ref(this.node, refId));
      return;
    }
    const target = this.monitorTargets.get(refId);
    if (!target) return;
    this.monitorTargets.delete(refId);
    const watcher = target.watchers?.get(refId);
    target.watchers?.delete(refId);
    watcher?.watcher?.watching?.delete(refId);
  }

  private fireMonitor(
    w: { refId: number; watcher: Proc | undefined; callback: ((r: ExitReason) => void) | undefined },
    pid: Pid,
    reason: ExitReason,
  ): void {
    this.monitorTargets.delete(w.refId);
    if (w.watcher) {
      w.watcher.watching?.delete(w.refId);
      const down: DownMessage = { type: "DOWN", ref: new Ref(this.node, w.refId), pid, reason };
      this.deliverInfo(w.watcher, down);
    } else if (w.callback) {
      this.runCallback(w.callback, reason, pid);
    }
  }

  private runCallback(callback: (reason: ExitReason) => void, reason: ExitReason, target: Target): void {
    try {
      callback(reason);
    } catch (error) {
      this.logger.error(
        { event: "watch_callback_failed", target: String(target), err: error },
        "exit watcher threw",
      );
    }
  }

  // ---- other nodes -----------------------------------------------------------------------

  /**
   * Installs the router that carries operations on other nodes' pids (see `RemoteRouter`).
   * One per runtime; the hosts layer installs it.
   */
  useRouter(router: RemoteRouter): () => void {
    if (this.router && this.router !== router) {
      throw new InvalidArgumentError("router", `runtime ${this.node} already has a router`);
    }
    this.router = router;
    return () => {
      if (this.router === router) this.router = undefined;
    };
  }

  /**
   * A Hop for a target of another node (a name unknown here may go to the parent); for one of
   * this node, the target to resolve locally — a name already turned into its pid, so that the
   * caller does not look it up a second time.
   */
  private hop(target: Target): Hop | Target {
    const router = this.router;
    if (!router) return target;
    if (target instanceof Pid) {
      return target.node === this.node ? target : new Hop(router.route(target.node), target);
    }
    if (typeof target !== "string" || target.length === 0) return target;
    const pid = this.names?.whereis(target);
    if (pid) return pid.node === this.node ? pid : new Hop(router.route(pid.node), pid);
    return router.namesRoute ? new Hop(router.namesRoute, target) : target;
  }

  private linkRemote(proc: Proc, route: RemoteRoute, other: Pid): void {
    if (proc.state === "dead") return;
    const key = other.toString();
    if (proc.remoteLinks?.has(key)) return;
    this.addRemoteLink(proc, other);
    route.link(proc.pid, other);
  }

  private addRemoteLink(proc: Proc, other: Pid): void {
    if (!proc.remoteLinks) proc.remoteLinks = new Map();
    proc.remoteLinks.set(other.toString(), other);
    let linked = this.remoteLinked.get(other.node);
    if (!linked) {
      linked = new Set();
      this.remoteLinked.set(other.node, linked);
    }
    linked.add(proc);
  }

  private dropRemoteLink(proc: Proc, other: Pid): void {
    proc.remoteLinks?.delete(other.toString());
    if (proc.remoteLinks?.size) {
      for (const pid of proc.remoteLinks.values()) if (pid.node === other.node) return;
    }
    if (proc.remoteLinks?.size === 0) proc.remoteLinks = undefined;
    const linked = this.remoteLinked.get(other.node);
    linked?.delete(proc);
    if (linked?.size === 0) this.remoteLinked.delete(other.node);
  }

  private monitorRemote(
    ref: Ref,
    hop: Hop,
    watcher: Proc | undefined,
    callback: ((reason: ExitReason) => void) | undefined,
  ): void {
    if (!hop.route) {
      this.fireRemote({ refId: ref.id, watcher, callback, target: hop.to, node: "" }, "noproc");
      return;
    }
    const node = hop.route.node;
    this.remoteWatches.set(ref.id, { refId: ref.id, watcher, callback, target: hop.to, node });
    if (watcher) {
      if (!watcher.watching) watcher.watching = new Set();
      watcher.watching.add(ref.id);
    }
    hop.route.monitor(ref, hop.to);
  }

  private fireRemote(w: RemoteWatch, reason: ExitReason): void {
    const pid = w.target instanceof Pid ? w.target : this.external;
    if (w.watcher) {
      w.watcher.watching?.delete(w.refId);
      const down: DownMessage = { type: "DOWN", ref: new Ref(this.node, w.refId), pid, reason };
      this.deliverInfo(w.watcher, down);
    } else if (w.callback) {
      const callback = w.callback;
      queueMicrotask(() => this.runCallback(callback, reason, w.target));
    }
  }

  /** @internal Another node asks to link its process `remote` to our `local`. */
  remoteLink(local: Pid, remote: Pid): void {
    const proc = local.node === this.node ? this.table.get(local.id) : undefined;
    if (!proc || proc.state === "dead") {
      this.router?.route(remote.node)?.linkExit(local, remote, "noproc");
      return;
    }
    this.addRemoteLink(proc, remote);
  }

  /** @internal */
  remoteUnlink(local: Pid, remote: Pid): void {
    const proc = local.node === this.node ? this.table.get(local.id) : undefined;
    if (proc) this.dropRemoteLink(proc, remote);
  }

  /** @internal `from`, of another node, exited while linked to our `to`. */
  remoteLinkExit(from: Pid, to: Pid, reason: ExitReason): void {
    const proc = to.node === this.node ? this.table.get(to.id) : undefined;
    // A link removed on this side (unlink) in the meantime means the signal is not for us.
    if (!proc?.remoteLinks?.has(from.toString())) return;
    this.dropRemoteLink(proc, from);
    this.signal(proc, from, reason, true);
  }

  /** @internal An exit signal sent by `from` of another node, as `exit/2`. */
  remoteExit(from: Pid, to: Target, reason: ExitReason): void {
    const proc = this.resolve(to);
    if (proc) this.signal(proc, from, reason, false);
  }

  /** @internal The other side reports the exit of a process this runtime monitors. */
  remoteDown(ref: Ref, pid: Pid, reason: ExitReason): void {
    if (ref.node !== this.node) return;
    const w = this.remoteWatches.get(ref.id);
    if (!w) return;
    this.remoteWatches.delete(ref.id);
    this.fireRemote({ ...w, target: pid }, reason);
  }

  /**
   * @internal `node` is gone (its host died): every monitor on its processes fires and every
   * link to them breaks with `reason`, which says how it died.
   */
  nodeDown(node: string, reason: ExitReason): void {
    for (const w of [...this.remoteWatches.values()]) {
      if (w.node !== node) continue;
      this.remoteWatches.delete(w.refId);
      this.fireRemote(w, reason);
    }
    const linked = this.remoteLinked.get(node);
    if (!linked) return;
    this.remoteLinked.delete(node);
    for (const proc of [...linked]) {
      for (const other of [...(proc.remoteLinks?.values() ?? [])]) {
        if (other.node !== node) continue;
        proc.remoteLinks?.delete(other.toString());
        this.signal(proc, other, reason, true);
      }
      if (proc.remoteLinks?.size === 0) proc.remoteLinks = undefined;
    }
  }

  // ---- names and listeners ---------------------------------------------------------------

  /** Installs the name service that resolves string targets. One per runtime. */
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

  /** Runs `listener` synchronously on every exit, before links and monitors fire. */
  onExit(listener: ExitListener): () => void {
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  /** @internal */
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

  /**
   * Stops every process: top-level processes get `shutdown` in reverse start order (so
   * supervisors stop their trees in order), and whatever is left after `timeoutMs` is killed.
   */
  async shutdown(timeoutMs = 5000): Promise<void> {
    this.stopped = true;
    const roots = [...this.table.values()].filter((proc) => !this.table.has(proc.parent.id)).reverse();
    for (const proc of roots) {
      if (proc.state === "dead") continue;
      const exited = this.whenExited(proc.pid);
      this.signal(proc, this.external, "shutdown", false);
      let timer: TimerHandle | undefined;
      const timedOut = new Promise<"timeout">((resolve) => {
        timer = this.clock.setTimeout(() => resolve("timeout"), timeoutMs);
      });
      const outcome = await Promise.race([exited, timedOut]);
      if (timer) this.clock.clearTimeout(timer);
      if (outcome === "timeout") this.terminate(proc, "killed", true);
    }
    for (const proc of [...this.table.values()]) this.terminate(proc, "killed", true);
  }

  get isStopped(): boolean {
    return this.stopped;
  }
}

/** A turn of no message would requeue the process for ever. */
function checkReductions(n: number): number {
  if (!Number.isInteger(n) || n < 1) {
    throw new InvalidArgumentError("reductions", `must be a positive integer, got ${String(n)}`);
  }
  return n;
}

/** An infinite slice would let one process freeze the event loop again. */
function checkSlice(ms: number): number {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms <= 0) {
    throw new InvalidArgumentError("sliceMs", `must be a positive, finite number of ms, got ${String(ms)}`);
  }
  return ms;
}

function checkTimeout(ms: number, what: string): number {
  if (typeof ms !== "number" || Number.isNaN(ms) || ms < 0) {
    throw new InvalidArgumentError(
      what,
      `must be a non-negative number of ms or Infinity, got ${String(ms)}`,
    );
  }
  return ms;
}
