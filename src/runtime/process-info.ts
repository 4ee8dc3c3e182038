import type { ExitReason } from "./exit-reason.js";
import type { Pid } from "./pid.js";

/** starting: in `init`; running: taking messages; exiting: in `terminate`; dead: gone. */
export type ProcState = "starting" | "running" | "exiting" | "dead";

export type ExitListener = (pid: Pid, reason: ExitReason) => void;

export interface ProcessInfo {
  pid: Pid;
  behaviour: string;
  status: ProcState;
  busy: boolean;
  mailboxLength: number;
  messagesHandled: number;
  trapExit: boolean;
  /** The supervisor or spawner; `runtime.external` for a top-level process. */
  parent: Pid;
  links: Pid[];
  /** Processes (or callbacks, as undefined) monitoring this one. */
  monitoredBy: (Pid | undefined)[];
  /** Number of monitors this process holds on others. */
  monitors: number;
  names: readonly string[];
}
