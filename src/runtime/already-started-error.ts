import { registerRevivableError, SessionvisorError } from "../errors.js";
import type { Pid } from "./pid.js";

/**
 * OTP's `{error, {already_started, Pid}}`: a start given a name that a live process already
 * holds. Nothing was started (the new process's `init` never ran); `holder` is who has the name.
 * (`registeredName`, not `name`: an Error's `name` is its class name.)
 */
export class AlreadyStartedError extends SessionvisorError {
  readonly registeredName: string;
  readonly holder: Pid;

  constructor(registeredName: string, holder: Pid) {
    super("already_started", `${JSON.stringify(registeredName)} is already started as ${holder}`);
    this.registeredName = registeredName;
    this.holder = holder;
  }
}

// A start refused inside a host reaches its caller in the parent as this class.
registerRevivableError(AlreadyStartedError);
