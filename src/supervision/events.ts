import type { ExitReason, Pid } from "../runtime/index.js";

/**
 * What a supervisor reports about its children, to `onEvent` and (abnormal ones) to the log,
 * as OTP's supervisor reports.
 */
export type SupervisorEvent =
  | { type: "child_started"; supervisor: Pid; childId: string; pid: Pid }
  | {
      type: "child_exited";
      supervisor: Pid;
      childId: string;
      pid: Pid;
      reason: ExitReason;
      restarting: boolean;
    }
  | { type: "child_restarted"; supervisor: Pid; childId: string; pid: Pid; previousPid: Pid | undefined }
  | { type: "restart_failed"; supervisor: Pid; childId: string; reason: unknown }
  /** A DynamicSupervisor child that used up its own restart budget and was removed. */
  | { type: "child_given_up"; supervisor: Pid; childId: string; pid: Pid; reason: ExitReason }
  | { type: "shutdown_error"; supervisor: Pid; childId: string; pid: Pid; reason: ExitReason }
  | { type: "intensity_exceeded"; supervisor: Pid; childId: string; maxRestarts: number; period: number }
  | { type: "auto_shutdown"; supervisor: Pid; childId: string };

export type SupervisorEventListener = (event: SupervisorEvent) => void;
