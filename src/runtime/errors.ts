import { InvalidArgumentError, registerRevivableError, SessionvisorError } from "../errors.js";
import { describeReason, type ExitReason } from "./exit-reason.js";

// They live at the bottom of the layering (src/errors.ts); the runtime publishes them as it always has.
export { InvalidArgumentError, SessionvisorError };

/** The target is not alive: it never existed, has exited, or the name is not registered. */
export class NoProcError extends SessionvisorError {
  readonly target: string;

  constructor(target: string) {
    super("noproc", `no process ${target}: it is not alive or the name is not registered`);
    this.target = target;
  }
}

/** A call got no reply within its timeout. The request may still be handled later. */
export class CallTimeoutError extends SessionvisorError {
  readonly target: string;
  readonly timeoutMs: number;

  constructor(target: string, timeoutMs: number) {
    super("timeout", `call to ${target} got no reply within ${timeoutMs} ms`);
    this.target = target;
    this.timeoutMs = timeoutMs;
  }
}

/** The target exited while the call was pending; `reason` is its exit reason. */
export class CallExitError extends SessionvisorError {
  readonly target: string;
  readonly reason: ExitReason;

  constructor(target: string, reason: ExitReason) {
    super("exit", `${target} exited before replying: ${describeReason(reason)}`, {
      cause: reason instanceof Error ? reason : undefined,
    });
    this.target = target;
    this.reason = reason;
  }
}

/** A process's `init` failed (or returned `Ignore`); the process has exited with `reason`. */
export class InitError extends SessionvisorError {
  readonly behaviour: string;
  readonly reason: ExitReason;

  constructor(behaviour: string, reason: ExitReason) {
    super("init_failed", `${behaviour} failed to start: ${describeReason(reason)}`, {
      cause: reason instanceof Error ? reason : undefined,
    });
    this.behaviour = behaviour;
    this.reason = reason;
  }
}

/** The runtime is stopping or stopped; it accepts no new processes. */
export class RuntimeStoppedError extends SessionvisorError {
  constructor(node: string) {
    super("runtime_stopped", `runtime ${node} is stopped`);
  }
}

// Errors the runtime's processes throw keep their class when they reach a caller on another host.
for (const type of [NoProcError, CallTimeoutError, CallExitError, InitError, RuntimeStoppedError]) {
  registerRevivableError(type);
}
