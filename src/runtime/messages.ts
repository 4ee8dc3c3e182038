import type { ExitReason } from "./exit-reason.js";
import type { Pid, Ref } from "./pid.js";

/** An exit signal delivered as a message to a process that traps exits. */
export interface ExitMessage {
  readonly type: "EXIT";
  readonly from: Pid;
  readonly reason: ExitReason;
}

/** What a monitor delivers when the watched process exits (`noproc` if it was already gone). */
export interface DownMessage {
  readonly type: "DOWN";
  readonly ref: Ref;
  readonly pid: Pid;
  readonly reason: ExitReason;
}

export type SystemMessage = ExitMessage | DownMessage;

export function isExitMessage(message: unknown): message is ExitMessage {
  return typeof message === "object" && message !== null && (message as { type?: unknown }).type === "EXIT";
}

export function isDownMessage(message: unknown): message is DownMessage {
  return typeof message === "object" && message !== null && (message as { type?: unknown }).type === "DOWN";
}
