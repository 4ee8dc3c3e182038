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
