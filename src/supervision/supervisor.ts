import {
  type ExitMessage,
  InitError,
  InvalidArgumentError,
  isCleanExit,
  isExitMessage,
  type Pid,
  type Runtime,
  type Target,
} from "../runtime/index.js";
import {
  type ChildSpec,
  checkName,
  isPreparedChildList,
  type NormalizedChildSpec,
  namedAs,
  normalizeChildSpec,
  type RestartType,
  type Shutdown,
  shouldRestart,
} from "./child-spec.js";
import {
  ChildAlreadyPresentError,
  ChildNotFoundError,
  ChildRestartingError,
  ChildRunningError,
  ChildStartError,
} from "./errors.js";
import type { SupervisorEventListener } from "./events.js";
import { type Reply, type Request, requester } from "./requests.js";
import { checkBudget, RestartIntensity } from "./restart-intensity.js";
import {
  type ChildCounts,
  type ChildInfo,
  type ChildRecord,
  type ChildRequests,
  type ChildStatus,
  isPromise,
  type PendingRetry,
  type StartOutcome,
  SupervisorBase,
} from "./supervisor-base.js";

export type { ChildCounts, ChildInfo, ChildStatus };

export type Strategy = "one_for_one" | "one_for_all" | "rest_for_one";
export type AutoShutdown = "never" | "any_significant" | "all_significant";

export interface SupervisorOptions {
  strategy?: Strategy;
  /**
   * More than this many restarts within `period` ms stops the supervisor (default 3). A whole
   * number: as OTP, an unbounded budget (Infinity) is refused.
   */
  maxRestarts?: number;
  /** A whole number of ms > 0 (default 5000). */
  period?: number;
  autoShutdown?: AutoShutdown;
  children: readonly ChildSpec[];
  onEvent?: SupervisorEventListener;
  /**
   * Registers the supervisor under this name before any child starts (OTP's `{local, Name}`):
   * a name already held fails the start with AlreadyStartedError and starts no child.
   */
  name?: string;
}

type Child = ChildRecord;

/** What a Supervisor answers, by request. */
export type SupervisorRequests = ChildRequests & {
  terminate_child: { request: { id: string }; reply: undefined };
  /** Resolves with the child's new pid, or undefined if its init returned `Ignore`. */
  restart_child: { request: { id: string }; reply: Pid | undefined };
  delete_child: { request: { id: string }; reply: undefined };
};

/** A request to a Supervisor, as sent. */
export type SupervisorCall = Request<SupervisorRequests>;

const askSupervisor = requester<SupervisorRequests>();

type SupervisorCast = { op: "try_again"; child: Child; retry: PendingRetry };

const NO_SPECS: NormalizedChildSpec[] = [];

/** A child's record before its first start; a function of its own, not a closure per supervisor. */
function newChild(spec: NormalizedChildSpec): Child {
  return { spec, pid: undefined, retry: undefined };
}

/** As OTP (and startChild): a temporary child whose init returned Ignore is not kept. */
function kept(child: Child): boolean {
  return child.pid !== undefined || child.spec.restart !== "temporary";
}

const STRATEGIES: readonly Strategy[] = ["one_for_one", "one_for_all", "rest_for_one"];
const AUTO_SHUTDOWNS: readonly AutoShutdown[] = ["never", "any_significant", "all_significant"];

/**
 * OTP's supervisor: starts its children in order, restarts them by strategy and restart type,
 * gives up (exits `shutdown`, stopping children in reverse order) when restarts exceed the
 * intensity, and lets its own parent decide what happens next.
 */
export class Supervisor extends SupervisorBase<SupervisorRequests, SupervisorCast, void> {
  private readonly strategy: Strategy;
  private readonly autoShutdown: AutoShutdown;
  /** The children to start at `init`; emptied then. */
  private initialSpecs: readonly NormalizedChildSpec[];
  private readonly maxRestarts: number;
  private readonly period: number;
  /** In start order. */
  private children: Child[] = [];
  /** Made at the first restart: most supervisors never restart a child (the budget was checked by the constructor). */
  private intensity: RestartIntensity | undefined;

  constructor(options: SupervisorOptions) {
    if (typeof options !== "object" || options === null) {
      throw new InvalidArgumentError("supervisor options", "must be an object");
    }
    super(options.onEvent);
    checkName(options.name);
    this.maxRestarts = options.maxRestarts ?? 3;
    this.period = options.period ?? 5000;
    checkBudget(this.maxRestarts, this.period);
    this.strategy = options.strategy ?? "one_for_one";
    if (!STRATEGIES.includes(this.strategy)) {
      throw new InvalidArgumentError(
        "strategy",
        `must be one of ${STRATEGIES.join(", ")}, got ${String(options.strategy)}`,
      );
    }
    this.autoShutdown = options.autoShutdown ?? "never";
    if (!AUTO_SHUTDOWNS.includes(this.autoShutdown)) {
      throw new InvalidArgumentError("autoShutdown", `must be one of ${AUTO_SHUTDOWNS.join(", ")}`);
    }
    if (!Array.isArray(options.children))
      throw new InvalidArgumentError("children", "must be an array of child specs");
    // A list prepared once for many supervisors (every session's) was checked when it was made.
    this.initialSpecs = isPreparedChildList(options.children)
      ? options.children
      : this.checkChildren(options.children);
  }

  /** The children normalized, in a new array, once checked against each other and this supervisor. */
  private checkChildren(children: readonly ChildSpec[]): NormalizedChildSpec[] {
    const specs = children.map((spec) => this.checkSpec(normalizeChildSpec(spec)));
    for (let i = 1; i < specs.length; i++) {
      const id = (specs[i] as NormalizedChildSpec).id;
      for (let j = 0; j < i; j++) {
        if ((specs[j] as NormalizedChildSpec).id === id)
          throw new InvalidArgumentError("children", `duplicate child id ${JSON.stringify(id)}`);
      }
    }
    return specs;
  }

  /**
   * Starts a supervisor as a top-level process (or linked to `link`). Options are checked
   * before anything starts. If a child fails to start, those started are stopped in reverse
   * order and this rejects with that child's ChildStartError.
   */
  static async start(
    runtime: Runtime,
    options: SupervisorOptions,
    spawn: { link?: Target; parent?: Pid } = {},
  ): Promise<Pid<Supervisor>> {
    const supervisor = new Supervisor(options);
    try {
      return await runtime.spawn(supervisor, { ...spawn, trapExit: true, ...namedAs(options.name) });
    } catch (error) {
      // The runtime wraps what `init` threw in an InitError; the ChildStartError inside is the
      // whole story, so the caller gets it without unwrapping.
      throw error instanceof InitError && error.reason instanceof ChildStartError ? error.reason : error;
    }
  }

  /**
   * A child spec that runs a nested supervisor (shutdown `infinity`, as OTP). The options are
   * checked here, so a bad one fails where the spec is written, not at the child's first start.
   */
  static childSpec(
    id: string,
    options: SupervisorOptions,
    child: { restart?: RestartType; shutdown?: Shutdown; significant?: boolean } = {},
  ): ChildSpec {
    new Supervisor(options);
    return {
      id,
      type: "supervisor",
      ...child,
      start: (ctx) => ctx.spawnLink(new Supervisor(options), { trapExit: true, ...namedAs(options.name) }),
    };
  }

  // startChild, whichChildren and countChildren are SupervisorBase's.

  static terminateChild(runtime: Runtime, supervisor: Target, id: string): Promise<void> {
    return askSupervisor(runtime, supervisor, { op: "terminate_child", id });
  }

  static restartChild(runtime: Runtime, supervisor: Target, id: string): Promise<Pid | undefined> {
    return askSupervisor(runtime, supervisor, { op: "restart_child", id });
  }

  static deleteChild(runtime: Runtime, supervisor: Target, id: string): Promise<void> {
    return askSupervisor(runtime, supervisor, { op: "delete_child", id });
  }

  /** Synchronous when every child's start finished at once (see `startChildProcess`). */
  override init(): void | Promise<void> {
    this.trapExits(true);
    const specs = this.initialSpecs;
    // Not needed once started: a restart starts from the child records.
    this.initialSpecs = NO_SPECS;
    // One record per child, in an array exactly as long as the list: it becomes `children`
    // (kept for the supervisor's life) when every child is kept, as is usual.
    const records = specs.map(newChild);
    return this.startInitial(records, 0);
  }

  /**
   * Starts the initial children from `first` on, at once until one start needs to wait. Nothing
   * reads `children` while `init` runs, so it is set once they have all started (or, for the
   * undo, to those started).
   */
  private startInitial(records: Child[], first: number): void | Promise<void> {
    for (let i = first; i < records.length; i++) {
      const child = records[i] as Child;
      let started: void | Promise<void>;
      try {
        started = this.startOne(child);
      } catch (error) {
        return this.undoInitialStart(records, i, error);
      }
      if (started) {
        return started.then(
          () => this.startInitial(records, i + 1),
          (error) => this.undoInitialStart(records, i, error),
        );
      }
    }
    this.children = records.every(kept) ? records : records.filter(kept);
  }

  /** As OTP: undo what started (the children before `failed`), in reverse order, and fail naming the child. */
  private async undoInitialStart(records: Child[], failed: number, error: unknown): Promise<never> {
    this.children = records.slice(0, failed).filter(kept);
    await this.terminateChildren(this.children);
    throw error;
  }

  protected async handleRequest(message: SupervisorCall): Promise<Reply<SupervisorRequests>> {
    switch (message?.op) {
      case "start_child": {
        const spec = this.checkSpec(normalizeChildSpec(message.spec));
        const existing = this.find(spec.id);
        if (existing) throw new ChildAlreadyPresentError(spec.id, existing.pid);
        const child: Child = { spec, pid: undefined, retry: undefined };
        await this.startOne(child);
        if (child.pid || spec.restart !== "temporary") this.children.push(child);
        return child.pid;
      }
      case "terminate_child": {
        // A restarting child's queued retry is cancelled: it stays stopped, as in OTP.
        const child = this.findOrThrow(message.id);
        await this.terminateChildren([child]);
        return undefined;
      }
      case "restart_child": {
        const child = this.stoppedOrThrow(message.id);
        await this.startOne(child);
        return child.pid;
      }
      case "delete_child": {
        const child = this.stoppedOrThrow(message.id);
        this.children = this.children.filter((c) => c !== child);
        return undefined;
      }
      case "which_children":
        return this.describeChildren(this.children);
      case "count_children":
        return this.tally(this.children);
      default:
        throw new InvalidArgumentError("supervisor request", `unknown request ${JSON.stringify(message)}`);
    }
  }

  override async handleCast(message: SupervisorCast): Promise<void> {
    if (message.op !== "try_again") return;
    const { child, retry } = message;
    // Stale when the child was terminated, deleted or restarted since the try was queued.
    if (child.retry === retry && this.children.includes(child)) await this.restart(child, retry.lastPid);
  }

  override async handleInfo(message: unknown): Promise<void> {
    if (!isExitMessage(message)) return;
    const child = this.children.find((c) => c.pid?.equals(message.from));
    if (child?.pid) await this.childExited(child, child.pid, message);
  }

  override async terminate(): Promise<void> {
    await this.terminateChildren(this.children);
  }

  private async childExited(child: Child, pid: Pid, exit: ExitMessage): Promise<void> {
    child.pid = undefined;
    const restarting = shouldRestart(child.spec.restart, isCleanExit(exit.reason));
    this.report({
      type: "child_exited",
      supervisor: this.self,
      childId: child.spec.id,
      pid,
      reason: exit.reason,
      restarting,
    });
    if (!restarting) {
      if (child.spec.restart === "temporary") this.children = this.children.filter((c) => c !== child);
      if (child.spec.significant && this.significantExitEndsUs()) {
        this.report({ type: "auto_shutdown", supervisor: this.self, childId: child.spec.id });
        this.stop("shutdown");
      }
      return;
    }
    await this.restart(child, pid);
  }

  private significantExitEndsUs(): boolean {
    if (this.autoShutdown === "any_significant") return true;
    // As OTP, a significant child being restarted still counts as there.
    if (this.autoShutdown === "all_significant")
      return !this.children.some((c) => c.spec.significant && (c.pid || c.retry));
    return false;
  }

  /**
   * Counts one restart against the intensity, then restarts by strategy. A start that fails
   * leaves that child `restarting` and queues a retry of the restart from it (as OTP, the
   * children after it in the group stay stopped until then).
   */
  private async restart(child: Child, previousPid: Pid | undefined): Promise<void> {
    this.intensity ??= new RestartIntensity(this.maxRestarts, this.period, this.runtime.clock);
    const intensity = this.intensity;
    if (!intensity.record()) {
      this.giveUp(child.spec.id, intensity);
      return;
    }
    const index = this.children.indexOf(child);
    const group =
      this.strategy === "one_for_one"
        ? [child]
        : this.strategy === "one_for_all"
          ? [...this.children]
          : this.children.slice(index);
    const others = group.filter((c) => c !== child);
    await this.terminateChildren(others);
    // Temporary siblings taken down with the failed child are not restarted (OTP deletes them).
    const restartable = group.filter((c) => this.children.includes(c));
    for (const member of restartable) {
      try {
        await this.startOne(member, member === child ? previousPid : undefined, true);
      } catch (error) {
        this.report({
          type: "restart_failed",
          supervisor: this.self,
          childId: member.spec.id,
          reason: error,
        });
        // As OTP: try again through the mailbox, counting against the intensity each time.
        const retry: PendingRetry = { lastPid: member === child ? previousPid : undefined };
        member.retry = retry;
        this.cast(this.self, { op: "try_again", child: member, retry } satisfies SupervisorCast);
        return;
      }
    }
  }

  /** Synchronous when the child's start finished at once. */
  private startOne(child: Child, previousPid?: Pid, restarting = false): void | Promise<void> {
    const outcome = this.startChildProcess(child.spec, []);
    if (isPromise(outcome)) return outcome.then((o) => this.started(child, o, previousPid, restarting));
    this.started(child, outcome, previousPid, restarting);
  }

  private started(
    child: Child,
    outcome: StartOutcome,
    previousPid: Pid | undefined,
    restarting: boolean,
  ): void {
    // Started or ignored, the child is no longer restarting (OTP leaves an ignored one stopped).
    child.retry = undefined;
    if (!outcome) return;
    child.pid = outcome;
    this.reportStart(child.spec.id, outcome, previousPid, restarting);
  }

  /**
   * Stops `group` in reverse start order, cancelling the retries of restarting ones; temporary
   * children leave the child list.
   */
  private async terminateChildren(group: Child[]): Promise<void> {
    for (const child of [...group].reverse()) {
      child.retry = undefined;
      const pid = child.pid;
      if (pid) {
        child.pid = undefined;
        await this.shutdownChildProcess(child.spec.id, pid, child.spec.shutdown);
      }
      if (child.spec.restart === "temporary") this.children = this.children.filter((c) => c !== child);
    }
  }

  private checkSpec(spec: NormalizedChildSpec): NormalizedChildSpec {
    if (spec.significant && this.autoShutdown === "never") {
      throw new InvalidArgumentError(
        `child ${JSON.stringify(spec.id)} significant`,
        'a significant child needs autoShutdown "any_significant" or "all_significant"',
      );
    }
    return spec;
  }

  private find(id: string): Child | undefined {
    return this.children.find((c) => c.spec.id === id);
  }

  private findOrThrow(id: string): Child {
    const child = this.find(id);
    if (!child) throw new ChildNotFoundError(String(id));
    return child;
  }

  /** As OTP, `restart_child` and `delete_child` answer `running` or `restarting` otherwise. */
  private stoppedOrThrow(id: string): Child {
    const child = this.findOrThrow(id);
    if (child.pid) throw new ChildRunningError(child.spec.id);
    if (child.retry) throw new ChildRestartingError(child.spec.id);
    return child;
  }
}
