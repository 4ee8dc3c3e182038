import type { Clock, TimerHandle } from "./clock.js";
import { InitError } from "./errors.js";
import type { ExitReason } from "./exit-reason.js";
import { IdTable } from "./id-table.js";
import type { Logger } from "./logger.js";
import { CAST, Mailbox, type MailboxTag } from "./mailbox.js";
import { isExitMessage } from "./messages.js";
import type { PendingCall, ReplyHolder } from "./pending-call.js";
import type { Pid, Ref } from "./pid.js";
import type { ProcState } from "./process-info.js";
import { Ignore, NoReply } from "./replies.js";
import { CALL_FOR_RESULT, type ResultCaller } from "./result-call.js";
import type { ProcessScope, TimerRef } from "./scope.js";
import type { AnyServer, ArgsOf, CallOf, CastOf, ReplyOf } from "./server-types.js";
import type { SpawnOptions, Target } from "./target.js";

/** A monitor on a process: either another process (gets a DOWN message) or a callback. */
export interface Watcher {
  readonly refId: number;
  readonly watcher: Proc | undefined;
  readonly callback: ((reason: ExitReason) => void) | undefined;
}

/**
 * What a process needs of the node it runs on: to be scheduled, to exit, and every operation
 * it makes as itself (its scope's), each taking the acting process.
 */
export interface KernelPort {
  readonly logger: Logger;
  readonly clock: Clock;
  /** The Runtime, as a process's scope shows it. */
  readonly owner: unknown;
  /** Queues `proc` to run if it has mail and can take it. */
  schedule(proc: Proc): void;
  /** Ends `proc` at once with `reason` (no `terminate` callback). */
  terminate(proc: Proc, reason: ExitReason, quiet: boolean): void;
  unlinkProcs(a: Proc, b: Proc): void;
  callFrom(
    caller: Proc | undefined,
    target: Target,
    message: unknown,
    timeoutMs?: number,
    forResult?: boolean,
  ): Promise<unknown>;
  castFrom(sender: Proc | undefined, target: Target, message: unknown): void;
  sendFrom(sender: Proc | undefined, target: Target, message: unknown): void;
  exitFrom(sender: Proc | undefined, target: Target, reason: ExitReason): void;
  linkFrom(proc: Proc, target: Target): void;
  unlinkFrom(proc: Proc, target: Target): void;
  monitorFrom(watcher: Proc, target: Target): Ref;
  demonitor(ref: Ref): void;
  sendAfterFrom(owner: Proc, ms: number, message: unknown): TimerRef;
  cancelTimer(timer: TimerRef): void;
  spawn(server: AnyServer, options: SpawnOptions, parent: Proc | undefined): Promise<Pid>;
  spawnNow(
    server: AnyServer,
    args: unknown,
    parentPid: Pid | undefined,
    linkTo: Proc | undefined,
    trapExit: boolean,
    name: string | undefined,
  ): Pid | Promise<Pid>;
}

export class UnexpectedMessageError extends Error {
  constructor(behaviour: string, kind: string, message: unknown) {
    super(`${behaviour} has no ${kind} handler for ${safeText(message)}`);
    this.name = "UnexpectedMessageError";
  }
}

function safeText(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

/** Links held in an array (of this many slots) before they move to a Set (see `Proc.links`). */
const LINK_SLOTS = 4;

/**
 * Many links made in increasing pid order (a supervisor's: its parent, then its children as they
 * start): by pid id in an IdTable, in that order. A new child's slot is in a page just used,
 * where a Set of ten thousand sessions' supervisors hashed each one into a table out of the
 * cache. `last`: the newest id in it; a link to an older process moves them all to a Set.
 */
class LinkTable {
  readonly table = new IdTable<Proc>();
  last = -1;
}

/** A LinkTable for `links` in increasing pid order, else a Set. */
function manyLinks(links: Proc[]): LinkTable | Set<Proc> {
  const table = new LinkTable();
  for (const link of links) {
    if (link.pid.id <= table.last) return new Set(links);
    table.table.set(link.pid.id, link);
    table.last = link.pid.id;
  }
  return table;
}

/**
 * The parts of a process record that few processes use (calls answered later, links to other
 * nodes, monitors held, timers, a stop or exit reason), in an object of their own made at the
 * first: a session's three processes use none of them, and five fields fewer is 40 bytes less
 * for each of them to keep and for every scavenge to copy.
 */
class ProcExtras {
  deferred: Set<PendingCall> | undefined = undefined;
  remoteLinks: Map<string, Pid> | undefined = undefined;
  /**
   * The monitors this process holds, by ref id (each is its value). Ref ids are handed out in
   * increasing order, so an IdTable: a process watching ten thousand (the session manager, one
   * per session) set each new one into a page just used, not into a Set's table out of the cache.
   */
  watching: IdTable<number> | undefined = undefined;
  timers: Set<TimerHandle> | undefined = undefined;
  stopReason: ExitReason | undefined = undefined;
  exitReason: ExitReason | undefined = undefined;
}

/**
 * The runtime's record of one process. Everything a process owns hangs off this object, and
 * the optional collections stay undefined until used so that an idle process stays small. It is
 * also the process's scope (what its server may do as itself): one object per process, not
 * two; the server sees it only through the ProcessScope interface.
 */
export class Proc extends Mailbox implements ReplyHolder, ProcessScope, ResultCaller {
  state: ProcState = "starting";
  /** True while `init`, a handler or `terminate` is in flight: no other message may start. */
  busy = true;
  queued = false;
  /** Exit signals arrive as messages (`trapExit(true)`). */
  trapping = false;
  handled = 0;
  /**
   * The process's FIFO of messages. The record is its own mailbox (it extends Mailbox), as it
   * is its own scope: one object per process, not three.
   */
  get mailbox(): Mailbox {
    return this;
  }
  current: PendingCall | undefined = undefined;
  /** What few processes ever use, apart (see ProcExtras); undefined until one of them is set. */
  private extras: ProcExtras | undefined = undefined;
  /**
   * The processes linked to this one: most processes have one link (to their supervisor), held
   * as that Proc without a collection; up to LINK_SLOTS (a session's supervisor: its parent and
   * two agents) in an array of that many slots, the unused ones undefined at the end, which
   * costs a third of a Set with its hash table; more (a supervisor of many children) in a
   * LinkTable while they were made in increasing pid order, as a supervisor's children are, else
   * in a Set, so that dropping one stays O(1). In the order they were made, in each form.
   */
  links: Proc | (Proc | undefined)[] | LinkTable | Set<Proc> | undefined = undefined;
  /** Monitors on this process: most processes have none or one, held without a Map. */
  watchers: Watcher | Map<number, Watcher> | undefined = undefined;

  constructor(
    readonly pid: Pid,
    readonly server: AnyServer,
    readonly parent: Pid,
    readonly kernel: KernelPort,
  ) {
    super();
  }

  // ---- what few processes use, kept in `extras` ----------------------------------------

  private more(): ProcExtras {
    this.extras ??= new ProcExtras();
    return this.extras;
  }

  /** Calls answered later (`NoReply`), failed if the process exits first. */
  get deferred(): Set<PendingCall> | undefined {
    return this.extras?.deferred;
  }

  set deferred(calls: Set<PendingCall> | undefined) {
    if (calls !== undefined || this.extras) this.more().deferred = calls;
  }

  /** Links to processes of other nodes, by pid text. */
  get remoteLinks(): Map<string, Pid> | undefined {
    return this.extras?.remoteLinks;
  }

  set remoteLinks(links: Map<string, Pid> | undefined) {
    if (links !== undefined || this.extras) this.more().remoteLinks = links;
  }

  /** The monitors this process holds, by ref id (see ProcExtras.watching). */
  get watching(): IdTable<number> | undefined {
    return this.extras?.watching;
  }

  set watching(monitors: IdTable<number> | undefined) {
    if (monitors !== undefined || this.extras) this.more().watching = monitors;
  }

  /** Timers started by `sendAfter`, cleared when the process exits. */
  get timers(): Set<TimerHandle> | undefined {
    return this.extras?.timers;
  }

  set timers(timers: Set<TimerHandle> | undefined) {
    if (timers !== undefined || this.extras) this.more().timers = timers;
  }

  /** Why the process is to stop once its current callback returns. */
  get stopReason(): ExitReason | undefined {
    return this.extras?.stopReason;
  }

  set stopReason(reason: ExitReason | undefined) {
    if (reason !== undefined || this.extras) this.more().stopReason = reason;
  }

  /** Why the process exited, once it has. */
  get exitReason(): ExitReason | undefined {
    return this.extras?.exitReason;
  }

  set exitReason(reason: ExitReason | undefined) {
    if (reason !== undefined || this.extras) this.more().exitReason = reason;
  }

  addLink(other: Proc): void {
    const links = this.links;
    if (links === undefined) this.links = other;
    else if (links instanceof Proc) {
      if (links !== other) this.links = [links, other, undefined, undefined];
    } else if (Array.isArray(links)) {
      let count = 0;
      for (; count < LINK_SLOTS; count++) {
        const linked = links[count];
        if (linked === undefined) break;
        if (linked === other) return;
      }
      if (count < LINK_SLOTS) links[count] = other;
      else this.links = manyLinks([...(links as Proc[]), other]);
    } else if (links instanceof LinkTable) {
      const id = other.pid.id;
      if (id > links.last) {
        links.table.set(id, other);
        links.last = id;
      } else if (links.table.get(id) !== other) {
        // Made after a link to a newer process: only a Set keeps that order.
        this.links = new Set([...links.table.values(), other]);
      }
    } else links.add(other);
  }

  dropLink(other: Proc): void {
    const links = this.links;
    if (links === other) this.links = undefined;
    else if (Array.isArray(links)) {
      // Moves the ones after it down a slot: the links stay in the order they were made.
      let at = links.indexOf(other);
      if (at < 0) return;
      for (; at < LINK_SLOTS - 1; at++) links[at] = links[at + 1];
      links[LINK_SLOTS - 1] = undefined;
    } else if (links instanceof LinkTable) {
      if (links.table.get(other.pid.id) === other) links.table.delete(other.pid.id);
    } else if (links instanceof Set) links.delete(other);
  }

  addWatcher(watcher: Watcher): void {
    const watchers = this.watchers;
    if (watchers === undefined) this.watchers = watcher;
    else if (watchers instanceof Map) watchers.set(watcher.refId, watcher);
    else
      this.watchers = new Map([
        [watchers.refId, watchers],
        [watcher.refId, watcher],
      ]);
  }

  /** Removes and returns the monitor `refId`, if this process has it. */
  takeWatcher(refId: number): Watcher | undefined {
    const watchers = this.watchers;
    if (watchers === undefined) return undefined;
    if (watchers instanceof Map) {
      const watcher = watchers.get(refId);
      watchers.delete(refId);
      return watcher;
    }
    if (watchers.refId !== refId) return undefined;
    this.watchers = undefined;
    return watchers;
  }

  /** The monitors on this process in the order they were set, as a new array. */
  watcherList(): Watcher[] {
    const watchers = this.watchers;
    return watchers === undefined ? [] : watchers instanceof Map ? [...watchers.values()] : [watchers];
  }

  /** The linked processes, as a new array. */
  linked(): Proc[] {
    const links = this.links;
    if (links === undefined) return [];
    if (links instanceof Proc) return [links];
    if (links instanceof Set) return [...links];
    if (links instanceof LinkTable) return links.table.values();
    const list: Proc[] = [];
    for (const linked of links) if (linked !== undefined) list.push(linked);
    return list;
  }

  // ---- the scope: what the process does as itself -------------------------------------

  get self(): Pid {
    return this.pid;
  }

  get runtime(): unknown {
    return this.kernel.owner;
  }

  get logger(): Logger {
    return this.kernel.logger;
  }

  get clock(): Clock {
    return this.kernel.clock;
  }

  send(target: Target, message: unknown): void {
    this.kernel.sendFrom(this, target, message);
  }

  cast<S>(target: Pid<S> | string, message: CastOf<S>): void {
    this.kernel.castFrom(this, target, message);
  }

  call<S>(target: Pid<S> | string, message: CallOf<S>, timeoutMs?: number): Promise<ReplyOf<S>> {
    return this.kernel.callFrom(this, target, message, timeoutMs) as Promise<ReplyOf<S>>;
  }

  [CALL_FOR_RESULT](target: Target, message: unknown, timeoutMs?: number): Promise<unknown> {
    return this.kernel.callFrom(this, target, message, timeoutMs, true);
  }

  exit(target: Target, reason: ExitReason): void {
    this.kernel.exitFrom(this, target, reason);
  }

  link(target: Target): void {
    this.kernel.linkFrom(this, target);
  }

  unlink(target: Target): void {
    this.kernel.unlinkFrom(this, target);
  }

  monitor(target: Target): Ref {
    return this.kernel.monitorFrom(this, target);
  }

  demonitor(ref: Ref): void {
    this.kernel.demonitor(ref);
  }

  sendAfter(ms: number, message: unknown): TimerRef {
    return this.kernel.sendAfterFrom(this, ms, message);
  }

  cancelTimer(timer: TimerRef): void {
    this.kernel.cancelTimer(timer);
  }

  trapExit(on: boolean): void {
    this.trapping = on;
  }

  stop(reason: ExitReason): void {
    this.requestStop(reason);
  }

  spawn<S extends AnyServer>(server: S, options: SpawnOptions<ArgsOf<S>> = {}): Promise<Pid<S>> {
    return this.kernel.spawn(server, options, this) as Promise<Pid<S>>;
  }

  spawnLinkNow<S extends AnyServer>(
    server: S,
    options: Omit<SpawnOptions<ArgsOf<S>>, "link"> = {},
  ): Pid<S> | Promise<Pid<S>> {
    return this.kernel.spawnNow(
      server,
      options.args,
      options.parent ?? this.pid,
      this,
      options.trapExit === true,
      options.name,
    ) as Pid<S> | Promise<Pid<S>>;
  }

  spawnLink<S extends AnyServer>(
    server: S,
    options: Omit<SpawnOptions<ArgsOf<S>>, "link"> = {},
  ): Promise<Pid<S>> {
    try {
      const started = this.spawnLinkNow(server, options);
      return started instanceof Promise ? started : Promise.resolve(started);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  // ---- the process's life ---------------------------------------------------------------

  get behaviour(): string {
    return this.server.constructor.name;
  }

  /**
   * Runs `init`. When it returns synchronously, so does this: the pid once the process takes
   * messages, or a thrown InitError; otherwise a promise of the same. Starting a tree of
   * synchronous inits then costs no promise per process.
   */
  start(args: unknown, linkedTo: Proc | undefined): Pid | Promise<Pid> {
    let result: unknown;
    try {
      result = this.server.init?.(args);
    } catch (error) {
      throw this.failInit(error, linkedTo);
    }
    if (isThenable(result)) {
      return Promise.resolve(result).then(
        (value) => this.finishInit(value, linkedTo),
        (error) => {
          throw this.failInit(error, linkedTo);
        },
      );
    }
    return this.finishInit(result, linkedTo);
  }

  private finishInit(value: unknown, linkedTo: Proc | undefined): Pid {
    if (this.state !== "starting") throw new InitError(this.behaviour, this.exitReason ?? "noproc");
    if (value === Ignore) throw this.failInit("ignore", linkedTo, "normal");
    this.state = "running";
    this.busy = false;
    if (this.stopReason !== undefined) this.beginStop(this.stopReason);
    else this.kernel.schedule(this);
    return this.pid;
  }

  /**
   * As OTP's proc_lib: the spawner learns of a failed init through the rejected start, not
   * also through an EXIT message, so the link to it is dropped before the process exits.
   */
  private failInit(reason: unknown, linkedTo: Proc | undefined, exitWith: unknown = reason): InitError {
    if (this.state === "dead")
      return new InitError(this.behaviour, this.exitReason ?? (reason as ExitReason));
    if (linkedTo) this.kernel.unlinkProcs(this, linkedTo);
    this.kernel.terminate(this, exitWith as ExitReason, false);
    return new InitError(this.behaviour, reason as ExitReason);
  }

  /** Handles the next message. Precondition: running, not busy, mailbox not empty. */
  step(): void {
    const tag = this.mailbox.takeTag();
    const message = this.mailbox.takeMessage();
    let result: unknown;
    // Busy for the whole callback, so that a `stop()` inside it waits for the reply.
    this.busy = true;
    try {
      result = this.dispatch(tag, message);
    } catch (error) {
      this.crash(error);
      return;
    }
    if (isThenable(result)) {
      result.then(
        (value) => {
          if (this.state !== "running") return;
          this.busy = false;
          this.complete(tag, value);
          this.kernel.schedule(this);
        },
        (error) => {
          if (this.state !== "running") return;
          this.crash(error);
        },
      );
    } else {
      this.busy = false;
      this.complete(tag, result);
    }
  }

  private dispatch(tag: MailboxTag, message: unknown): unknown {
    const server = this.server;
    if (typeof tag === "object") {
      if (!server.handleCall) throw new UnexpectedMessageError(this.behaviour, "handleCall", message);
      this.current = tag;
      return server.handleCall(message, tag);
    }
    if (tag === CAST) {
      if (!server.handleCast) throw new UnexpectedMessageError(this.behaviour, "handleCast", message);
      return server.handleCast(message);
    }
    // As gen_server: an exit signal from the parent, when trapped, means "stop now".
    if (this.trapping && isExitMessage(message) && message.from.equals(this.parent)) {
      this.stopReason = message.reason;
      return undefined;
    }
    if (!server.handleInfo) {
      this.kernel.logger.warn(
        { event: "unexpected_message", process: this.pid.toString(), behaviour: this.behaviour },
        `${this.behaviour} ${this.pid} has no handleInfo; message dropped`,
      );
      return undefined;
    }
    return server.handleInfo(message as never);
  }

  private complete(tag: MailboxTag, value: unknown): void {
    this.handled++;
    if (typeof tag === "object") {
      this.current = undefined;
      if (value !== NoReply) tag.reply(value);
      else if (!tag.settled) {
        tag.holder = this;
        if (!this.deferred) this.deferred = new Set();
        this.deferred.add(tag);
      }
    }
    if (this.stopReason !== undefined) this.beginStop(this.stopReason);
  }

  private crash(error: unknown): void {
    if (this.state !== "running") return;
    this.beginStop(error as ExitReason);
  }

  requestStop(reason: ExitReason): void {
    if (this.state === "running" && !this.busy) this.beginStop(reason);
    else if (this.state === "running" || this.state === "starting") this.stopReason = reason;
  }

  /** Runs `terminate`, then exits. An error thrown by `terminate` becomes the exit reason. */
  beginStop(reason: ExitReason): void {
    if (this.state !== "running") return;
    this.state = "exiting";
    this.busy = true;
    let result: unknown;
    try {
      result = this.server.terminate?.(reason);
    } catch (error) {
      this.kernel.terminate(this, error as ExitReason, false);
      return;
    }
    if (isThenable(result)) {
      result.then(
        () => this.kernel.terminate(this, reason, false),
        (error) => this.kernel.terminate(this, error as ExitReason, false),
      );
    } else {
      this.kernel.terminate(this, reason, false);
    }
  }
}
