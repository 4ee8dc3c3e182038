import {
  type AnyServer,
  type ArgsOf,
  describeReason,
  type ExitReason,
  err,
  GenServer,
  InitError,
  isCleanExit,
  logsAt,
  ok,
  type Pid,
  type Runtime,
  type SpawnOptions,
  serializeReason,
  type Target,
  type TimerHandle,
} from "../runtime/index.js";
import {
  type ChildSpec,
  type ChildType,
  type NormalizedChildSpec,
  PreparedSpec,
  type RestartType,
  type Shutdown,
  type StartContext,
  startNowOf,
} from "./child-spec.js";
import { ChildStartError } from "./errors.js";
import type { SupervisorEvent, SupervisorEventListener } from "./events.js";
import { type Reply, type ReplyResult, type Request, type RequestMap, requester } from "./requests.js";
import type { RestartIntensity } from "./restart-intensity.js";

/** What starting a child gave: its pid, or undefined when its `init` returned `Ignore`. */
export type StartOutcome = Pid | undefined;

/**
 * `restarting`: its restart failed and is being retried (OTP's `restarting` in place of a pid);
 * `stopped`: terminated, ignored, or a transient child that exited cleanly.
 */
export type ChildStatus = "running" | "restarting" | "stopped";

export interface ChildInfo {
  id: string;
  /** The running process; undefined unless `status` is `running`. */
  pid: Pid | undefined;
  status: ChildStatus;
  /**
   * While restarting: the pid the child last ran as, when it had one. A DynamicSupervisor's
   * `terminateChild` takes it to stop the retries.
   */
  lastPid?: Pid;
  type: ChildType;
  restart: RestartType;
}

export interface ChildCounts {
  specs: number;
  /** Running children. */
  active: number;
  /** Children whose restart failed and is being retried (in `specs`, not in `active`). */
  restarting: number;
  supervisors: number;
  workers: number;
}

/**
 * A failed restart waiting for its retry, which is queued in the mailbox (as OTP's
 * `try_again_restart`) so that calls get in between tries. The queued retry carries this
 * object and runs only if the child still holds it: clearing it cancels the retry.
 */
export interface PendingRetry {
  readonly lastPid: Pid | undefined;
}

/** What both supervisors know of a child. */
export interface ChildRecord {
  spec: NormalizedChildSpec;
  pid: Pid | undefined;
  /** Set while the child is `restarting`. */
  retry: PendingRetry | undefined;
}

/** The requests both supervisors answer alike (each adds its own `terminate_child`). */
export type ChildRequests = {
  /** Resolves with the child's pid, or undefined if its init returned `Ignore`. */
  start_child: { request: { spec: ChildSpec }; reply: Pid | undefined };
  which_children: { request: object; reply: ChildInfo[] };
  count_children: { request: object; reply: ChildCounts };
};

const askSupervisor = requester<ChildRequests>();

/**
 * What both supervisors share: starting a child linked to this process, the OTP shutdown
 * procedure for one child, reporting, and the client helpers for the requests they share.
 * Supervisors trap exits; a child's exit is an `EXIT` message, handled in order with every
 * other request.
 */
export abstract class SupervisorBase<R extends RequestMap, Cast, Args> extends GenServer<
  Request<R>,
  ReplyResult<R>,
  Cast,
  never,
  Args
> {
  private startContext: StartContext | undefined;

  constructor(private readonly listener: SupervisorEventListener | undefined) {
    super();
  }

  /**
   * Starts a child; resolves with its pid, or undefined if its init returned `Ignore`.
   * `timeoutMs`: how long to wait for the answer (default the runtime's call timeout; OTP waits
   * as long as the start takes) — a child started in a new host may need its host's start time.
   */
  static startChild(
    runtime: Runtime,
    supervisor: Target,
    spec: ChildSpec,
    timeoutMs?: number,
  ): Promise<Pid | undefined> {
    return askSupervisor(runtime, supervisor, { op: "start_child", spec }, timeoutMs);
  }

  static whichChildren(runtime: Runtime, supervisor: Target): Promise<ChildInfo[]> {
    return askSupervisor(runtime, supervisor, { op: "which_children" });
  }

  static countChildren(runtime: Runtime, supervisor: Target): Promise<ChildCounts> {
    return askSupervisor(runtime, supervisor, { op: "count_children" });
  }

  /**
   * Supervisors answer every request with a result, so that a bad request never crashes them.
   * A request handled synchronously (a child whose start finished at once) is answered at once.
   */
  override handleCall(message: Request<R>): ReplyResult<R> | Promise<ReplyResult<R>> {
    let reply: Reply<R> | Promise<Reply<R>>;
    try {
      reply = this.handleRequest(message);
    } catch (error) {
      return err(error);
    }
    return isPromise(reply) ? reply.then(ok, err) : ok(reply);
  }

  protected abstract handleRequest(message: Request<R>): Reply<R> | Promise<Reply<R>>;

  protected describeChildren(children: Iterable<ChildRecord>): ChildInfo[] {
    return [...children].map((c) => {
      const info: ChildInfo = {
        id: c.spec.id,
        pid: c.pid,
        status: c.pid ? "running" : c.retry ? "restarting" : "stopped",
        type: c.spec.type,
        restart: c.spec.restart,
      };
      if (c.retry?.lastPid) info.lastPid = c.retry.lastPid;
      return info;
    });
  }

  protected tally(children: Iterable<ChildRecord>): ChildCounts {
    const counts: ChildCounts = { specs: 0, active: 0, restarting: 0, supervisors: 0, workers: 0 };
    for (const c of children) {
      counts.specs++;
      if (c.pid) counts.active++;
      else if (c.retry) counts.restarting++;
      if (c.spec.type === "supervisor") counts.supervisors++;
      else counts.workers++;
    }
    return counts;
  }

  /** Over the restart intensity: as OTP, stop every child and exit `shutdown`. */
  protected giveUp(childId: string, intensity: RestartIntensity): void {
    this.report({
      type: "intensity_exceeded",
      supervisor: this.self,
      childId,
      maxRestarts: intensity.maxRestarts,
      period: intensity.period,
    });
    this.stop("shutdown");
  }

  /** Start events are built only when someone listens: starting is the hot path. */
  protected reportStart(childId: string, pid: Pid, previousPid: Pid | undefined, restarting: boolean): void {
    if (restarting)
      this.report({ type: "child_restarted", supervisor: this.self, childId, pid, previousPid });
    else if (this.listener) this.report({ type: "child_started", supervisor: this.self, childId, pid });
  }

  protected get context(): StartContext {
    if (!this.startContext) {
      const scope = this.scope;
      this.startContext = {
        supervisor: scope.self,
        runtime: scope.runtime,
        spawnLink: <S extends AnyServer>(
          server: S,
          options: Omit<SpawnOptions<ArgsOf<S>>, "link" | "parent"> = {},
        ) => scope.spawnLink(server, options),
      };
    }
    return this.startContext;
  }

  /**
   * Runs the child's start function; a failure becomes ChildStartError naming the child. A
   * start that finishes at once (a `worker` whose `init` is synchronous) is handled at once,
   * without a promise: a tree of synchronous inits starts in one go.
   */
  protected startChildProcess(
    spec: NormalizedChildSpec,
    extra: readonly unknown[],
  ): StartOutcome | Promise<StartOutcome> {
    let started: Pid | Promise<Pid>;
    try {
      if (spec instanceof PreparedSpec) {
        started = spec.startNow(this.scope, this);
      } else {
        const now = startNowOf(spec.start);
        started = now ? now(this.scope) : spec.start(this.context, ...extra);
      }
    } catch (error) {
      return this.startFailed(spec, error);
    }
    if (isPromise(started) || isThenableValue(started)) {
      return Promise.resolve(started).then(
        (pid) => this.childStarted(spec, pid),
        (error) => this.startFailed(spec, error),
      );
    }
    return this.childStarted(spec, started);
  }

  private childStarted(spec: NormalizedChildSpec, pid: Pid): StartOutcome {
    if (!pid || typeof pid !== "object" || typeof pid.toString !== "function" || !("node" in pid)) {
      throw new ChildStartError(spec.id, new TypeError("the start function did not resolve with a pid"));
    }
    // A start function that forgot to link would leave a child we never hear from. A prepared
    // spec's start links at the spawn, before the child's init runs (see spawnLinkNow), and the
    // session processes that use one never unlink: while the child lives, linking again would
    // change nothing, at the cost of resolving both processes and scanning their links (three
    // times a session). A child already dead gets the link, and the error it makes, as any other.
    if (!(spec instanceof PreparedSpec) || !this.runtime.isAlive(pid)) this.link(pid);
    return pid;
  }

  private startFailed(spec: NormalizedChildSpec, error: unknown): StartOutcome {
    if (error instanceof InitError && error.reason === "ignore") return undefined;
    // A plain InitError only says the child's init failed; its reason says why. A
    // ChildStartError from a nested supervisor's start is kept whole: it names the grandchild.
    const plainInitError = error instanceof InitError && !(error instanceof ChildStartError);
    throw new ChildStartError(spec.id, plainInitError ? error.reason : error);
  }

  /**
   * OTP's shutdown of one child: unlink (so no stale EXIT arrives), send `shutdown` and wait
   * up to the child's shutdown time, then `kill`. Resolves with the child's exit reason.
   */
  protected async shutdownChildProcess(childId: string, pid: Pid, shutdown: Shutdown): Promise<ExitReason> {
    const runtime = this.runtime;
    this.unlink(pid);
    const exited = runtime.whenExited(pid);
    let reason: ExitReason;
    if (shutdown === "brutal_kill") {
      this.exit(pid, "kill");
      reason = await exited;
    } else {
      this.exit(pid, "shutdown");
      if (shutdown === "infinity") {
        reason = await exited;
      } else {
        let timer: TimerHandle | undefined;
        const timedOut = new Promise<"timeout">((resolve) => {
          timer = runtime.clock.setTimeout(() => resolve("timeout"), shutdown);
        });
        const first = await Promise.race([exited, timedOut]);
        if (timer) runtime.clock.clearTimeout(timer);
        if (first === "timeout") {
          this.exit(pid, "kill");
          reason = await exited;
        } else {
          reason = first;
        }
      }
    }
    const expected =
      shutdown === "brutal_kill" ? reason === "killed" : isCleanExit(reason) || reason === "noproc";
    if (!expected) this.report({ type: "shutdown_error", supervisor: this.self, childId, pid, reason });
    return reason;
  }

  protected report(event: SupervisorEvent): void {
    if (event.type !== "child_started" && event.type !== "child_restarted") {
      const abnormal = event.type !== "child_exited" || !isCleanExit(event.reason);
      if (abnormal && logsAt(this.runtime.logger, "warn")) {
        const reason = "reason" in event ? event.reason : undefined;
        this.runtime.logger.warn(
          {
            event: "supervisor_report",
            report: event.type,
            supervisor: event.supervisor.toString(),
            supervisorNames: this.runtime.namesOf(event.supervisor),
            childId: event.childId,
            child: "pid" in event ? event.pid?.toString() : undefined,
            reason: serializeReason(reason),
          },
          `supervisor ${event.supervisor}: ${event.type} for child ${event.childId}${
            reason === undefined ? "" : ` (${describeReason(reason)})`
          }`,
        );
      }
    }
    if (!this.listener) return;
    try {
      this.listener(event);
    } catch (error) {
      this.runtime.logger.error(
        { event: "supervisor_listener_failed", err: error },
        "supervisor onEvent threw",
      );
    }
  }
}

export function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return value instanceof Promise;
}

/** A start function's result that is not a Pid but has a `then`: a promise from another realm, say. */
function isThenableValue(value: unknown): value is PromiseLike<Pid> {
  return (
    typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function"
  );
}
