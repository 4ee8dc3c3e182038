import { IdTable } from "../runtime/id-table.js";
import {
  type ExitMessage,
  InvalidArgumentError,
  isCleanExit,
  isExitMessage,
  type Pid,
  type Runtime,
  type Target,
} from "../runtime/index.js";
import { type ChildSpec, checkName, namedAs, normalizeChildSpec, shouldRestart } from "./child-spec.js";
import { MaxChildrenError } from "./errors.js";
import type { SupervisorEventListener } from "./events.js";
import { type Reply, type Request, requester } from "./requests.js";
import { checkBudget, checkPeriod, RestartIntensity } from "./restart-intensity.js";
import {
  type ChildRecord,
  type ChildRequests,
  isPromise,
  type PendingRetry,
  type StartOutcome,
  SupervisorBase,
} from "./supervisor-base.js";

/** At most `maxRestarts` restarts (a whole number) within `period` ms (a whole number > 0). */
export interface RestartBudget {
  maxRestarts: number;
  period: number;
}

export interface DynamicSupervisorOptions {
  /**
   * The budget shared by all children, as OTP (default 3 in 5000 ms); finite, as OTP.
   * `null`: no shared budget. Only with `childRestartBudget`, which then bounds every child's
   * retries on its own (a child that cannot start would otherwise be retried forever).
   */
  maxRestarts?: number | null;
  period?: number;
  /** Starting more children than this is a MaxChildrenError (default unlimited). */
  maxChildren?: number;
  /** Passed to every child's start function after the context, before nothing else (OTP prepends). */
  extraArguments?: unknown[];
  /**
   * Beyond OTP: each child also gets its own budget. A child that goes over it is removed
   * (reported as `child_given_up`) and its restarts stop counting, so one flapping child
   * spends at most this much of the shared budget and never takes its siblings down.
   */
  childRestartBudget?: RestartBudget;
  onEvent?: SupervisorEventListener;
  /**
   * Registers the supervisor under this name before its `init` runs: a name already held fails
   * the start with AlreadyStartedError.
   */
  name?: string;
}

interface DynamicChild extends ChildRecord {
  /** Made at the child's first restart (most children never restart). */
  budget: RestartIntensity | undefined;
}

/**
 * The running children by `keyOf(pid)`, in the order they were put in, as a Map keeps them.
 * While every child runs on this node (keys are pids' ids) they are kept in an IdTable: a new
 * child's pid is next to the ones before it, so its slot is in a page just used, where a Map of
 * ten thousand sessions hashed each new one into a table out of the cache. Children are put in
 * one at a time (the supervisor waits for each start), so their ids increase in the order they
 * were put in, which is the order the table gives them back. The first child of another node (a
 * key that is its pid's text) moves them all into a Map, in that order, for good.
 */
class RunningChildren {
  private local: IdTable<DynamicChild> | undefined = new IdTable();
  private all: Map<number | string, DynamicChild> | undefined;

  get size(): number {
    return this.local ? this.local.size : (this.all as Map<number | string, DynamicChild>).size;
  }

  get(key: number | string): DynamicChild | undefined {
    if (!this.local) return this.all?.get(key);
    return typeof key === "number" ? this.local.get(key) : undefined;
  }

  set(key: number | string, child: DynamicChild): void {
    if (this.local && typeof key === "number") {
      this.local.set(key, child);
      return;
    }
    this.toMap().set(key, child);
  }

  delete(key: number | string): boolean {
    if (!this.local) return this.all?.delete(key) ?? false;
    return typeof key === "number" ? this.local.delete(key) : false;
  }

  values(): DynamicChild[] {
    return this.local ? this.local.values() : [...(this.all as Map<number | string, DynamicChild>).values()];
  }

  clear(): void {
    this.local = new IdTable();
    this.all = undefined;
  }

  private toMap(): Map<number | string, DynamicChild> {
    if (this.local) {
      const all = new Map<number | string, DynamicChild>();
      for (const child of this.local.values()) all.set((child.pid as Pid).id, child);
      this.all = all;
      this.local = undefined;
    }
    return this.all as Map<number | string, DynamicChild>;
  }
}

/** What a DynamicSupervisor answers, by request. */
export type DynamicSupervisorRequests = ChildRequests & {
  terminate_child: { request: { pid: Pid }; reply: undefined };
};

/** A request to a DynamicSupervisor, as sent. */
export type DynamicSupervisorCall = Request<DynamicSupervisorRequests>;

const askDynamicSupervisor = requester<DynamicSupervisorRequests>();

type DynamicSupervisorCast = { op: "try_again"; child: DynamicChild; retry: PendingRetry };

/**
 * OTP's DynamicSupervisor: one_for_one over children started on demand, stopped all at once
 * (concurrently) when it stops. Adds an optional restart budget per child.
 */
export class DynamicSupervisor extends SupervisorBase<
  DynamicSupervisorRequests,
  DynamicSupervisorCast,
  void
> {
  private readonly maxChildren: number;
  private readonly extraArguments: unknown[];
  private readonly childBudget: RestartBudget | undefined;
  /** null: no shared budget. */
  private readonly maxRestarts: number | null;
  private readonly period: number;
  private intensity: RestartIntensity | undefined;
  // Keyed by `keyOf(pid)`: a child may run on another node (a host), where ids repeat.
  /** By pid while running. */
  private readonly running = new RunningChildren();
  /**
   * Children whose restart failed and is being retried, by their last pid: as in Elixir, that
   * pid still names the child, so `terminateChild(lastPid)` can stop the retries.
   */
  private readonly restarting = new Map<number | string, DynamicChild>();
  /** This supervisor's node, set by `init`. */
  private node = "";

  constructor(options: DynamicSupervisorOptions = {}) {
    if (typeof options !== "object" || options === null)
      throw new InvalidArgumentError("dynamic supervisor options", "must be an object");
    super(options.onEvent);
    checkName(options.name);
    this.childBudget = options.childRestartBudget;
    if (this.childBudget !== undefined) {
      if (typeof this.childBudget !== "object" || this.childBudget === null)
        throw new InvalidArgumentError("childRestartBudget", "must be { maxRestarts, period }");
      checkBudget(this.childBudget.maxRestarts, this.childBudget.period, "childRestartBudget.");
    }
    this.maxRestarts = options.maxRestarts === undefined ? 3 : options.maxRestarts;
    this.period = options.period ?? 5000;
    if (this.maxRestarts !== null) checkBudget(this.maxRestarts, this.period);
    else if (this.childBudget) checkPeriod(this.period);
    else {
      throw new InvalidArgumentError(
        "maxRestarts",
        "null (no shared budget) needs a childRestartBudget: without either, a child whose start keeps failing would be retried forever",
      );
    }
    this.maxChildren = options.maxChildren ?? Number.POSITIVE_INFINITY;
    if (
      !(
        this.maxChildren === Number.POSITIVE_INFINITY ||
        (Number.isInteger(this.maxChildren) && this.maxChildren >= 0)
      )
    ) {
      throw new InvalidArgumentError(
        "maxChildren",
        `must be a whole number >= 0, got ${String(options.maxChildren)}`,
      );
    }
    this.extraArguments = options.extraArguments ?? [];
    if (!Array.isArray(this.extraArguments))
      throw new InvalidArgumentError("extraArguments", "must be an array");
  }

  static start(
    runtime: Runtime,
    options: DynamicSupervisorOptions = {},
    spawn: { link?: Target; parent?: Pid } = {},
  ): Promise<Pid<DynamicSupervisor>> {
    let supervisor: DynamicSupervisor;
    try {
      supervisor = new DynamicSupervisor(options);
    } catch (error) {
      return Promise.reject(error);
    }
    return runtime.spawn(supervisor, { ...spawn, trapExit: true, ...namedAs(options.name) });
  }

  /** A child spec for a nested DynamicSupervisor; the options are checked here, as `start` does. */
  static childSpec(id: string, options: DynamicSupervisorOptions = {}): ChildSpec {
    new DynamicSupervisor(options);
    return {
      id,
      type: "supervisor",
      start: (ctx) =>
        ctx.spawnLink(new DynamicSupervisor(options), { trapExit: true, ...namedAs(options.name) }),
    };
  }

  // startChild, whichChildren and countChildren are SupervisorBase's.

  /**
   * Stops the child running as `pid`; a child being restarted (`status: "restarting"`) is named
   * by its last pid (`lastPid` in `whichChildren`), and stopping it cancels its retries.
   * `timeoutMs`: how long to wait for the answer (default the runtime's call timeout; OTP waits
   * as long as the child takes to stop).
   */
  static terminateChild(runtime: Runtime, supervisor: Target, pid: Pid, timeoutMs?: number): Promise<void> {
    return askDynamicSupervisor(runtime, supervisor, { op: "terminate_child", pid }, timeoutMs);
  }

  override init(): void {
    this.trapExits(true);
    this.node = this.self.node;
    if (this.maxRestarts !== null)
      this.intensity = new RestartIntensity(this.maxRestarts, this.period, this.runtime.clock);
  }

  /** `start_child` is answered at once when the child's start finished at once. */
  protected handleRequest(
    message: DynamicSupervisorCall,
  ): Reply<DynamicSupervisorRequests> | Promise<Reply<DynamicSupervisorRequests>> {
    switch (message?.op) {
      case "start_child": {
        const spec = normalizeChildSpec(
          message.spec?.id === undefined ? { ...message.spec, id: "dynamic_child" } : message.spec,
          false,
        );
        if (this.running.size + this.restarting.size >= this.maxChildren)
          throw new MaxChildrenError(this.maxChildren);
        const child: DynamicChild = {
          spec,
          pid: undefined,
          retry: undefined,
          budget: undefined,
        };
        const started = this.startOne(child);
        return started ? started.then(() => child.pid) : child.pid;
      }
      case "terminate_child": {
        const key = message.pid ? this.keyOf(message.pid) : "";
        const child = this.running.get(key);
        if (child?.pid?.equals(message.pid)) {
          this.running.delete(key);
          return this.shutdownChildProcess(child.spec.id, child.pid, child.spec.shutdown).then(
            () => undefined,
          );
        }
        const stuck = this.restarting.get(key);
        if (stuck?.retry?.lastPid?.equals(message.pid)) {
          // Nothing runs; cancelling the queued retry is the whole of stopping it.
          this.restarting.delete(key);
          stuck.retry = undefined;
          return undefined;
        }
        throw new InvalidArgumentError("pid", `${String(message.pid)} is not a child of this supervisor`);
      }
      case "which_children":
        return this.describeChildren([...this.running.values(), ...this.restarting.values()]);
      case "count_children":
        return this.tally([...this.running.values(), ...this.restarting.values()]);
      default:
        throw new InvalidArgumentError(
          "dynamic supervisor request",
          `unknown request ${JSON.stringify(message)}`,
        );
    }
  }

  override async handleCast(message: DynamicSupervisorCast): Promise<void> {
    const { child, retry } = message;
    // Stale when the child was terminated since the try was queued.
    if (message.op === "try_again" && child.retry === retry && retry.lastPid)
      await this.restart(child, retry.lastPid);
  }

  override async handleInfo(message: unknown): Promise<void> {
    if (!isExitMessage(message)) return;
    const child = this.running.get(this.keyOf(message.from));
    if (child?.pid?.equals(message.from)) await this.childExited(child, child.pid, message);
  }

  /** As OTP's DynamicSupervisor, children stop concurrently. */
  override async terminate(): Promise<void> {
    const children = [...this.running.values()];
    this.running.clear();
    for (const child of this.restarting.values()) child.retry = undefined;
    this.restarting.clear();
    await Promise.all(
      children.map((c) => (c.pid ? this.shutdownChildProcess(c.spec.id, c.pid, c.spec.shutdown) : undefined)),
    );
  }

  private async childExited(child: DynamicChild, pid: Pid, exit: ExitMessage): Promise<void> {
    this.running.delete(this.keyOf(pid));
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
    if (!restarting) return;
    if (!this.withinChildBudget(child)) {
      this.report({
        type: "child_given_up",
        supervisor: this.self,
        childId: child.spec.id,
        pid,
        reason: exit.reason,
      });
      return;
    }
    await this.restart(child, pid);
  }

  /**
   * Counts a restart against the shared budget and starts the child again. A failed start
   * counts against the child's own budget too, leaves it `restarting` under `previousPid`, and
   * queues the next try in the mailbox (as OTP), so that calls are answered between tries.
   */
  private async restart(child: DynamicChild, previousPid: Pid): Promise<void> {
    if (this.intensity && !this.intensity.record()) {
      this.giveUp(child.spec.id, this.intensity);
      return;
    }
    try {
      await this.startOne(child, previousPid, true);
    } catch (error) {
      this.report({ type: "restart_failed", supervisor: this.self, childId: child.spec.id, reason: error });
      if (!this.withinChildBudget(child)) {
        this.stopRetrying(child);
        this.report({
          type: "child_given_up",
          supervisor: this.self,
          childId: child.spec.id,
          pid: previousPid,
          // Always an Error (startChildProcess throws ChildStartError); the guard keeps the type honest.
          reason: error instanceof Error ? error : String(error),
        });
        return;
      }
      const retry: PendingRetry = { lastPid: previousPid };
      child.retry = retry;
      this.restarting.set(this.keyOf(previousPid), child);
      this.cast(this.self, { op: "try_again", child, retry } satisfies DynamicSupervisorCast);
    }
  }

  /**
   * A child's key in `running` and `restarting`: its id for a pid of this node (no string to
   * build per start), its text for one of another node.
   */
  private keyOf(pid: Pid): number | string {
    return pid.node === this.node ? pid.id : String(pid);
  }

  /** Records a restart against the child's own budget, if there is one: false when over it. */
  private withinChildBudget(child: DynamicChild): boolean {
    const budget = this.childBudget;
    if (!budget) return true;
    child.budget ??= new RestartIntensity(budget.maxRestarts, budget.period, this.runtime.clock);
    return child.budget.record();
  }

  private stopRetrying(child: DynamicChild): void {
    const lastPid = child.retry?.lastPid;
    if (lastPid && this.restarting.get(this.keyOf(lastPid)) === child)
      this.restarting.delete(this.keyOf(lastPid));
    child.retry = undefined;
  }

  /** Synchronous when the child's start finished at once. */
  private startOne(child: DynamicChild, previousPid?: Pid, restarting = false): void | Promise<void> {
    const outcome = this.startChildProcess(child.spec, this.extraArguments);
    if (isPromise(outcome)) return outcome.then((o) => this.started(child, o, previousPid, restarting));
    this.started(child, outcome, previousPid, restarting);
  }

  private started(
    child: DynamicChild,
    outcome: StartOutcome,
    previousPid: Pid | undefined,
    restarting: boolean,
  ): void {
    // Started or ignored (then dropped, as OTP), the child is no longer restarting.
    this.stopRetrying(child);
    if (!outcome) return;
    child.pid = outcome;
    this.running.set(this.keyOf(outcome), child);
    this.reportStart(child.spec.id, outcome, previousPid, restarting);
  }
}
