import { registerRevivableError, SessionvisorError } from "../errors.js";
import { HostDownError } from "./host-down.js";

/** A message, reply or reason holds something that cannot be copied to another host. */
export class UnsendableMessageError extends SessionvisorError {
  readonly path: string;

  constructor(path: string, problem: string) {
    super("unsendable_message", `cannot send to another host: ${path} ${problem}`);
    this.path = path;
  }
}

/** A host (worker thread or child process) could not be started, or did not become ready in time. */
export class HostStartError extends SessionvisorError {
  constructor(kind: string, problem: string, options?: ErrorOptions) {
    super("host_start_failed", `could not start a ${kind} host: ${problem}`, options);
  }
}

// HostDownError is defined beside the rest of what a host's death means (host-down.ts); every
// module of this layer that moves terms loads this one through the term codec, so it is
// registered wherever a host can be seen to die.
for (const type of [UnsendableMessageError, HostStartError, HostDownError]) {
  registerRevivableError(type);
}
