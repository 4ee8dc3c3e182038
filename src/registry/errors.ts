import { registerRevivableError } from "../errors.js";
import { type Pid, SessionvisorError } from "../runtime/index.js";

/** A unique key is already held by a live process. */
export class NameTakenError extends SessionvisorError {
  readonly key: string;
  readonly holder: Pid;

  constructor(key: string, holder: Pid) {
    super("name_taken", `key ${JSON.stringify(key)} is already registered to ${holder}`);
    this.key = key;
    this.holder = holder;
  }
}

/** An operation that the registry's key mode does not support (Elixir raises ArgumentError). */
export class UnsupportedKeyModeError extends SessionvisorError {
  readonly operation: string;
  readonly mode: string;

  constructor(operation: string, mode: string, why: string) {
    super("unsupported_key_mode", `Registry.${operation} is not supported for ${mode} registries: ${why}`);
    this.operation = operation;
    this.mode = mode;
  }
}

// A registry's refusals keep their class when the caller is on another host.
for (const type of [NameTakenError, UnsupportedKeyModeError]) {
  registerRevivableError(type);
}
