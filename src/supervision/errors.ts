import { describeReason, type Pid, SessionvisorError } from "../runtime/index.js";

/** A child's start function failed; a supervisor whose start fails this way names the child. */
export class ChildStartError extends SessionvisorError {
  readonly childId: string;
  readonly reason: unknown;

  constructor(childId: string, reason: unknown) {
    super(
      "child_start_failed",
      `child ${JSON.stringify(childId)} failed to start: ${describeReason(reason)}`,
      {
        cause: reason instanceof Error ? reason : undefined,
      },
    );
    this.childId = childId;
    this.reason = reason;
  }
}

export class ChildNotFoundError extends SessionvisorError {
  readonly childId: string;

  constructor(childId: string) {
    super("child_not_found", `no child ${JSON.stringify(childId)} in this supervisor`);
    this.childId = childId;
  }
}

/** `startChild` with an id that is already present (running or not). */
export class ChildAlreadyPresentError extends SessionvisorError {
  readonly childId: string;
  readonly pid: Pid | undefined;

  constructor(childId: string, pid: Pid | undefined) {
    super(
      pid ? "already_started" : "already_present",
      pid
        ? `child ${JSON.stringify(childId)} is already started as ${pid}`
        : `child ${JSON.stringify(childId)} is already present (not running); restart or delete it`,
    );
    this.childId = childId;
    this.pid = pid;
  }
}

/** `restartChild` or `deleteChild` on a child that is running. */
export class ChildRunningError extends SessionvisorError {
  readonly childId: string;

  constructor(childId: string) {
    super("running", `child ${JSON.stringify(childId)} is running; terminate it first`);
    this.childId = childId;
  }
}

export class MaxChildrenError extends SessionvisorError {
  readonly maxChildren: number;

  constructor(maxChildren: number) {
    super("max_children", `the supervisor already has its maximum of ${maxChildren} children`);
    this.maxChildren = maxChildren;
  }
}
