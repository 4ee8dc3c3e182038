import { describeReason, type ExitReason, isCleanExit, serializeReason } from "./exit-reason.js";
import { type Logger, logsAt } from "./logger.js";
import type { Pid } from "./pid.js";
import type { Proc } from "./process.js";

/** What a crash report reads of the node the process ran on. */
export interface ReportingNode {
  readonly logger: Logger;
  readonly external: Pid;
  namesOf(pid: Pid): readonly string[];
}

/**
 * Logs one structured record for an abnormal exit, as OTP's crash report: which process, under
 * which names, under which supervisor, and why. Clean exits (`normal`, `shutdown`) stay quiet.
 */
export function reportExit(runtime: ReportingNode, proc: Proc, reason: ExitReason): void {
  if (isCleanExit(reason) || !logsAt(runtime.logger, "error")) return;
  const pid = proc.pid.toString();
  const parent = proc.parent.id === runtime.external.id ? undefined : proc.parent;
  runtime.logger.error(
    {
      event: "crash_report",
      process: pid,
      behaviour: proc.behaviour,
      names: runtime.namesOf(proc.pid),
      supervisor: parent?.toString(),
      supervisorNames: parent ? runtime.namesOf(parent) : [],
      reason: serializeReason(reason),
      messagesHandled: proc.handled,
      mailboxLength: proc.mailbox.length,
    },
    `process ${pid} (${proc.behaviour}) exited: ${describeReason(reason)}`,
  );
}
