import { type Clock, systemClock } from "./clock.js";
import { InvalidArgumentError } from "./errors.js";
import type { ExitReason } from "./exit-reason.js";
import { checkTimeout, Kernel } from "./kernel.js";
import { type Logger, silentLogger } from "./logger.js";
import { assertNodeName, type Pid, type Ref } from "./pid.js";
import type { ExitListener, ProcessInfo } from "./process-info.js";
import type { InboundEndpoint, RemoteRouter } from "./remote.js";
import { CALL_FOR_RESULT } from "./result-call.js";
import type { TimerRef } from "./scope.js";
import type { AnyServer, ArgsOf, CallOf, CastOf, ReplyOf } from "./server-types.js";
import type { NameService, SpawnOptions, Target } from "./target.js";

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
  /**
   * The number of the first process spawned (default 1); the next ones count up from it. A node
   * restarted under the same name should start above every number its earlier run gave out — what
   * OTP's pid "creation" does — so that a pid kept from that run (by another node, or in a store)
   * finds no process (`noproc`) instead of a new process that got the same number. A cluster node
   * starts at a number taken from its start time (see `pidBaseAt`). At most 9 × 10^14, which
   * leaves room for 10^14 processes within the 15 digits a pid's text form holds.
   */
  firstPid?: number;
}

/** Pids numbered from here have 10^14 numbers left within the 15 digits a pid's text form holds. */
const MAX_FIRST_PID = 9e14;
/** 2025-01-01T00:00:00Z: `pidBaseAt` counts from it, so its numbers stay within 15 digits until 2050. */
const PID_EPOCH_MS = Date.UTC(2025, 0, 1);

/**
 * A `firstPid` for a runtime started at `atMs` (epoch ms), above every pid a runtime started
 * earlier under the same name with it could have given out — as long as that one spawned fewer
 * than 1,000 processes per millisecond it ran (a thousand times what one core manages). A clock
 * set back between two starts defeats it.
 */
export function pidBaseAt(atMs: number): number {
  return Math.max(1, Math.floor(atMs - PID_EPOCH_MS) * 1000 + 1);
}

/**
 * A set of processes with their own pids, names, scheduler and clock: one local node. Runtimes
 * share nothing: two in one program never see each other's processes. Code outside any process
 * acts through these methods as `runtime.external`; a process acts as itself through the scope
 * the runtime hands it at spawn (a GenServer's `this.call`, `this.link`, …).
 */
export class Runtime implements AsyncDisposable {
  readonly node: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The sender of signals and calls made by code that is not a process. */
  readonly external: Pid;
  readonly defaultCallTimeout: number;

  readonly #kernel: Kernel;

  constructor(options: RuntimeOptions = {}) {
    const node = options.node ?? randomNodeName();
    assertNodeName(node);
    const kernel = new Kernel(
      {
        node,
        clock: options.clock ?? systemClock,
        logger: options.logger ?? silentLogger(),
        defaultCallTimeout: checkTimeout(options.defaultCallTimeout ?? 5000, "defaultCallTimeout"),
        reductions: checkReductions(options.reductions ?? 200),
        sliceMs: checkSlice(options.sliceMs ?? 10),
        firstPid: checkFirstPid(options.firstPid ?? 1),
      },
      this,
    );
    this.#kernel = kernel;
    this.node = kernel.node;
    this.clock = kernel.clock;
    this.logger = kernel.logger;
    this.external = kernel.external;
    this.defaultCallTimeout = kernel.defaultCallTimeout;
  }

  // ---- processes -------------------------------------------------------------------------

  /** Starts `server` as a process; resolves with its pid once `init` has returned. */
  spawn<S extends AnyServer>(server: S, options: SpawnOptions<ArgsOf<S>> = {}): Promise<Pid<S>> {
    return this.#kernel.spawn(server, options, undefined) as Promise<Pid<S>>;
  }

  /** For a pid of another node: whether that node is connected (its process may still be gone). */
  isAlive(target: Target): boolean {
    return this.#kernel.isAlive(target);
  }

  /** The live pid behind a pid or name, or undefined. */
  whereis(target: Target): Pid | undefined {
    return this.#kernel.whereis(target);
  }

  processes(): Pid[] {
    return this.#kernel.processes();
  }

  get processCount(): number {
    return this.#kernel.processCount;
  }

  info(target: Target): ProcessInfo | undefined {
    return this.#kernel.info(target);
  }

  // ---- messages --------------------------------------------------------------------------

  /**
   * Sends `message` to `handleCall` of `target` and resolves with the reply. Rejects with
   * NoProcError (target not alive), CallTimeoutError, or CallExitError (target exited first).
   */
  call<S>(target: Pid<S> | string, message: CallOf<S>, timeoutMs?: number): Promise<ReplyOf<S>> {
    return this.#kernel.callFrom(undefined, target, message, timeoutMs) as Promise<ReplyOf<S>>;
  }

  /** @internal A call whose reply is a Result, taken apart as it arrives (see CALL_FOR_RESULT). */
  [CALL_FOR_RESULT](target: Target, message: unknown, timeoutMs?: number): Promise<unknown> {
    return this.#kernel.callFrom(undefined, target, message, timeoutMs, true);
  }

  /** Fire-and-forget to `handleCast`. As OTP, a cast to a dead process or unknown name is dropped. */
  cast<S>(target: Pid<S> | string, message: CastOf<S>): void {
    this.#kernel.castFrom(undefined, target, message);
  }

  /** Delivers `message` to `handleInfo`. Dropped for a dead pid; an unknown name throws NoProcError. */
  send(target: Target, message: unknown): void {
    this.#kernel.sendFrom(undefined, target, message);
  }

  /** Sends an exit signal, as OTP's `exit/2`: `kill` cannot be trapped; `normal` is ignored by others. */
  exit(target: Target, reason: ExitReason): void {
    this.#kernel.exitFrom(undefined, target, reason);
  }

  cancelTimer(timer: TimerRef): void {
    this.#kernel.cancelTimer(timer);
  }

  // ---- links and monitors ----------------------------------------------------------------

  /** Links two processes (both must be alive); `b` may be a process of another node. */
  link(a: Target, b: Target): void {
    this.#kernel.link(a, b);
  }

  unlink(a: Target, b: Target): void {
    this.#kernel.unlink(a, b);
  }

  /**
   * Makes `watcher` receive `{ type: "DOWN", ref, pid, reason }` when `target` exits; at once,
   * with reason `noproc`, if it is not alive.
   */
  monitor(watcher: Target, target: Target): Ref {
    return this.#kernel.monitor(watcher, target);
  }

  /**
   * Calls `callback(reason)` once when `target` exits, from code that is not a process; on the
   * next microtask with `noproc` if it is not alive. Cancel with `demonitor`.
   */
  watch(target: Target, callback: (reason: ExitReason) => void): Ref {
    return this.#kernel.watch(target, callback);
  }

  /** Resolves with the exit reason of `target` (`noproc` if it is not alive). */
  whenExited(target: Target): Promise<ExitReason> {
    return this.#kernel.whenExited(target);
  }

  demonitor(ref: Ref): void {
    this.#kernel.demonitor(ref);
  }

  // ---- other nodes, names and listeners --------------------------------------------------

  /**
   * Installs a router that carries operations on other nodes' pids (see `RemoteRouter`), and
   * returns the endpoint its connections play the other side's frames into. Several routers
   * may be installed side by side (the hosts', a cluster's): each claims its own nodes, asked
   * in the order they were installed. `detach()` on the endpoint uninstalls it.
   */
  useRouter(router: RemoteRouter): InboundEndpoint {
    return this.#kernel.useRouter(router);
  }

  /** Installs the name service that resolves string targets. One per runtime. */
  useNames(names: NameService): () => void {
    return this.#kernel.useNames(names);
  }

  namesOf(pid: Pid): readonly string[] {
    return this.#kernel.namesOf(pid);
  }

  /** Runs `listener` synchronously on every exit, before links and monitors fire. */
  onExit(listener: ExitListener): () => void {
    return this.#kernel.onExit(listener);
  }

  // ---- stopping --------------------------------------------------------------------------

  /**
   * Stops every process: top-level processes get `shutdown` in reverse start order (so
   * supervisors stop their trees in order), and whatever is left after `timeoutMs` is killed.
   */
  shutdown(timeoutMs = 5000): Promise<void> {
    return this.#kernel.shutdown(timeoutMs);
  }

  /** `await using runtime = new Runtime()`: {@link shutdown} when the block ends. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  get isStopped(): boolean {
    return this.#kernel.isStopped;
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
function checkFirstPid(first: number): number {
  if (!Number.isSafeInteger(first) || first < 1 || first > MAX_FIRST_PID) {
    throw new InvalidArgumentError(
      "firstPid",
      `must be a whole number from 1 to 9 × 10^14, got ${String(first)}`,
    );
  }
  return first;
}

function checkSlice(ms: number): number {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms <= 0) {
    throw new InvalidArgumentError("sliceMs", `must be a positive, finite number of ms, got ${String(ms)}`);
  }
  return ms;
}

export type { ExitListener, ProcessInfo } from "./process-info.js";
export type { TimerRef } from "./scope.js";
export type { NameService, SpawnOptions, Target } from "./target.js";

/**
 * `n` and 8 random hex digits. From the global Web Crypto, loaded on first use: importing
 * node:crypto would cost every host (which is always given its name) ~7 ms of its start.
 */
function randomNodeName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return `n${Buffer.from(bytes).toString("hex")}`;
}
