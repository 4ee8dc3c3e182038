import { describeReason, type ExitReason, isCleanExit, serializeReason } from "./exit-reason.js";
import type { Proc } from "./process.js";
import type { Runtime } from "./runtime.js";

/**
 * Logs one structured record for an abnormal exit, as OTP's crash report: which process, under
 * which names, under which supervisor, and why. Clean exits (`normal`, `shutdown`) stay quiet.
 */
export function reportExit(runtime: Runtime, proc: Proc, reason: ExitReason): void {
  if (isCleanExit(reason) || !runtime.logger.isLevelEnabled("error")) return;
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
