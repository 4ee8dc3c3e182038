import { registerRevivableError } from "../errors.js";
import { type ExitReason, InitError, type Pid, SessionvisorError } from "../runtime/index.js";

/**
 * A child's start function failed. `reason` is why (the child's own error, unwrapped);
 * `Supervisor.start` rejects with this error itself when one of its children fails to start.
 * It is an InitError (the start of the child named `child "<id>"` failed), so code that
 * catches InitError around a start keeps working; its `code` is `child_start_failed`.
 */
export class ChildStartError extends InitError {
  override readonly code: string = "child_start_failed";
  readonly childId: string;

  constructor(childId: string, reason: unknown) {
    super(`child ${JSON.stringify(childId)}`, reason as ExitReason);
    this.childId = childId;
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

/** `restartChild` or `deleteChild` on a child whose restart failed and is being retried (OTP's `restarting`). */
export class ChildRestartingError extends SessionvisorError {
  readonly childId: string;

  constructor(childId: string) {
    super(
      "restarting",
      `child ${JSON.stringify(childId)} is restarting (its restart failed and is being retried); terminate it first`,
    );
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

// A supervisor's answers keep their class when the caller is on another host.
for (const type of [
  ChildStartError,
  ChildNotFoundError,
  ChildAlreadyPresentError,
  ChildRunningError,
  ChildRestartingError,
  MaxChildrenError,
]) {
  registerRevivableError(type);
}
