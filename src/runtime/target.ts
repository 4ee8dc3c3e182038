import type { Pid } from "./pid.js";

/** A process addressed by pid or by a name registered in the runtime's name service. */
export type Target = Pid | string;

/** Resolves names for `call`/`cast`/`send`/`exit` (installed by a Registry; see `useNames`). */
export interface NameService {
  whereis(name: string): Pid | undefined;
  namesOf(pid: Pid): readonly string[];
  /**
   * Gives `name` to `pid` (a spawn's `name`); throws when it is taken or malformed. The service
   * drops a process's names the moment it exits (an `onExit` listener), which is what releases
   * the name of a process whose `init` failed. A service without it cannot name at spawn.
   */
  register?(name: string, pid: Pid): void;
}

export interface SpawnOptions<Args = unknown> {
  /** Passed to `init`. */
  args?: Args;
  /** Link the new process to this one before `init` runs. */
  link?: Target;
  /**
   * The process that started this one (its supervisor); a trapped exit from it stops the
   * server. Defaults to `link`, else to `runtime.external` (code outside any process).
   */
  parent?: Pid;
  /** Trap exits from the start, before `init` runs. */
  trapExit?: boolean;
  /**
   * Registers the process under this name before `init` runs, as OTP's `gen:start` with a name:
   * a name already held fails the spawn with AlreadyStartedError and nothing starts; a failed
   * (or ignored) `init` releases it. Needs a name service (a Registry with `names: true`).
   */
  name?: string;
}
