import {
  type ExitMessage,
  InvalidArgumentError,
  isCleanExit,
  isExitMessage,
  type Pid,
  type Runtime,
  type Target,
  unwrap,
} from "../runtime/index.js";
import { type ChildSpec, type NormalizedChildSpec, normalizeChildSpec, shouldRestart } from "./child-spec.js";
import { MaxChildrenError } from "./errors.js";
import type { SupervisorEventListener } from "./events.js";
import { checkBudget, RestartIntensity } from "./restart-intensity.js";
import { type ChildCounts, type ChildInfo, SupervisorBase } from "./supervisor-base.js";

export interface RestartBudget {
  maxRestarts: number;
  period: number;
}

export interface DynamicSupervisorOptions {
  /** Shared by all children, as OTP (default 3 in 5000 ms). */
  maxRestarts?: number;
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
}

interface DynamicChild {
  spec: NormalizedChildSpec;
  pid: Pid | undefined;
  budget: RestartIntensity | undefined;
}

export type DynamicSupervisorCall =
  | { op: "start_child"; spec: ChildSpec }
  | { op: "terminate_child"; pid: Pid }
  | { op: "which_children" }
  | { op: "count_children" };

type DynamicSupervisorCast = { op: "try_again"; child: DynamicChild };

/**
 * OTP's DynamicSupervisor: one_for_one over children started on demand, stopped all at once
 * (concurrently) when it stops. Adds an optional restart budget per child.
 */
export class DynamicSupervisor extends SupervisorBase<DynamicSupervisorCall, DynamicSupervisorCast, void> {
  private readonly maxChildren: number;
  private readonly extraArguments: unknown[];
  private readonly childBudget: RestartBudget | undefined;
  private intensity: RestartIntensity | undefined;
  /** By pid id while running; children between restarts are only in `restarting`. */
  // Keyed by the pid's text: a child may run on another node (a host), where ids repeat.
  private readonly running = new Map<string, DynamicChild>();
  private readonly restarting = new Set<DynamicChild>();

  constructor(options: DynamicSupervisorOptions = {}) {
    super(options.onEvent, options.maxRestarts ?? 3, options.period ?? 5000);
    checkBudget(this.maxRestarts, this.period);
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
    this.childBudget = options.childRestartBudget;
    if (this.childBudget)
      checkBudget(this.childBudget.maxRestarts, this.childBudget.period, "childRestartBudget");
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
    return runtime.spawn(supervisor, { ...spawn, trapExit: true });
  }

  static childSpec(id: string, options: DynamicSupervisorOptions = {}): ChildSpec {
    return {
      id,
      type: "supervisor",
      start: (ctx) => ctx.spawnLink(new DynamicSupervisor(options), { trapExit: true }),
    };
  }

  /** Starts a child; resolves with its pid, or undefined if its init returned `Ignore`. */
  static async startChild(runtime: Runtime, supervisor: Target, spec: ChildSpec): Promise<Pid | undefined> {
    return unwrap(await runtime.call<DynamicSupervisor>(supervisor, { op: "start_child", spec })) as
      | Pid
      | undefined;
  }

  static async terminateChild(runtime: Runtime, supervisor: Target, pid: Pid): Promise<void> {
    unwrap(await runtime.call<DynamicSupervisor>(supervisor, { op: "terminate_child", pid }));
  }

  static async whichChildren(runtime: Runtime, supervisor: Target): Promise<ChildInfo[]> {
    return unwrap(await runtime.call<DynamicSupervisor>(supervisor, { op: "which_children" })) as ChildInfo[];
  }

  static async countChildren(runtime: Runtime, supervisor: Target): Promise<ChildCounts> {
    return unwrap(await runtime.call<DynamicSupervisor>(supervisor, { op: "count_children" })) as ChildCounts;
  }

  override init(): void {
    this.trapExits(true);
    this.intensity = new RestartIntensity(this.maxRestarts, this.period, this.runtime.clock);
  }

  protected async handleRequest(message: DynamicSupervisorCall): Promise<unknown> {
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
          budget: this.childBudget
            ? new RestartIntensity(this.childBudget.maxRestarts, this.childBudget.period, this.runtime.clock)
            : undefined,
        };
        await this.startOne(child);
        return child.pid;
      }
      case "terminate_child": {
        const child = message.pid ? this.running.get(message.pid.toString()) : undefined;
        if (!child?.pid?.equals(message.pid)) {
          throw new InvalidArgumentError("pid", `${String(message.pid)} is not a child of this supervisor`);
        }
        this.running.delete(child.pid.toString());
        await this.shutdownChildProcess(child.spec.id, child.pid, child.spec.shutdown);
        return undefined;
      }
      case "which_children":
        return this.describeChildren([...this.running.values(), ...this.restarting]);
      case "count_children":
        return this.tally([...this.running.values(), ...this.restarting]);
      default:
        throw new InvalidArgumentError(
          "dynamic supervisor request",
          `unknown request ${JSON.stringify(message)}`,
        );
    }
  }

  override async handleCast(message: DynamicSupervisorCast): Promise<void> {
    if (message.op === "try_again" && this.restarting.has(message.child))
      await this.restart(message.child, undefined);
  }

  override async handleInfo(message: unknown): Promise<void> {
    if (!isExitMessage(message)) return;
    const child = this.running.get(message.from.toString());
    if (child?.pid?.equals(message.from)) await this.childExited(child, message);
  }

  /** As OTP's DynamicSupervisor, children stop concurrently. */
  override async terminate(): Promise<void> {
    const children = [...this.running.values()];
    this.running.clear();
    this.restarting.clear();
    await Promise.all(
      children.map((c) => (c.pid ? this.shutdownChildProcess(c.spec.id, c.pid, c.spec.shutdown) : undefined)),
    );
  }

  private async childExited(child: DynamicChild, exit: ExitMessage): Promise<void> {
    const pid = child.pid as Pid;
    this.running.delete(pid.toString());
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
    if (child.budget && !child.budget.record()) {
      this.report({
        type: "child_given_up",
        supervisor: this.self,
        childId: child.spec.id,
        pid,
        reason: exit.reason,
      });
      return;
    }
    this.restarting.add(child);
    await this.restart(child, pid);
  }

  private async restart(child: DynamicChild, previousPid: Pid | undefined): Promise<void> {
    if (!(this.intensity as RestartIntensity).record()) {
      this.giveUp(child.spec.id);
      return;
    }
    try {
      await this.startOne(child, previousPid, true);
      this.restarting.delete(child);
    } catch (error) {
      this.report({ type: "restart_failed", supervisor: this.self, childId: child.spec.id, reason: error });
      if (child.budget && !child.budget.record()) {
        this.restarting.delete(child);
        this.report({
          type: "child_given_up",
          supervisor: this.self,
          childId: child.spec.id,
          pid: previousPid ?? this.self,
          reason: error as Error,
        });
        return;
      }
      this.cast(this.self, { op: "try_again", child } satisfies DynamicSupervisorCast);
    }
  }

  private async startOne(child: DynamicChild, previousPid?: Pid, restarting = false): Promise<void> {
    const outcome = await this.startChildProcess(child.spec, this.extraArguments);
    if (!("pid" in outcome)) return;
    child.pid = outcome.pid;
    this.running.set(outcome.pid.toString(), child);
    this.reportStart(child.spec.id, outcome.pid, previousPid, restarting);
  }
}
