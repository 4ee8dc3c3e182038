import { SessionvisorError } from "../runtime/index.js";
import type { HostKind } from "./limits.js";

/** How a host died. */
export type HostDownCause =
  | "error" // an uncaught error or unhandled rejection ended it
  | "exit" // it exited by itself (process.exit, or its runtime stopped)
  | "out_of_memory" // it hit its heap or OS memory limit
  | "hang" // it stopped answering heartbeats and was terminated
  | "killed" // it was killed by a signal from outside (kill -9)
  | "signal" // it died of another signal
  | "disconnected"; // its channel to the parent closed

/**
 * The exit reason of every process in a host that died. An Error, so it is an exit reason
 * supervisors treat as a crash (and restart), and it keeps its class across hosts.
 */
export class HostDownError extends SessionvisorError {
  readonly host: string;
  readonly hostKind: HostKind;
  /** How the host died. */
  readonly how: HostDownCause;
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  readonly detail: string | undefined;

  constructor(
    host: string,
    hostKind: HostKind,
    how: HostDownCause,
    detail: { code?: number; signal?: string; message?: string } = {},
  ) {
    const parts = [
      detail.code === undefined ? "" : `exit code ${detail.code}`,
      detail.signal ?? "",
      detail.message ?? "",
    ].filter(Boolean);
    super(
      "host_down",
      `${hostKind} host ${host} died: ${how}${parts.length ? ` (${parts.join("; ")})` : ""}`,
    );
    this.host = host;
    this.hostKind = hostKind;
    this.how = how;
    this.exitCode = detail.code;
    this.signal = detail.signal;
    this.detail = detail.message;
  }
}

export function hostDown(
  host: string,
  kind: HostKind,
  how: HostDownCause,
  detail: { code?: number; signal?: string; message?: string } = {},
): HostDownError {
  return new HostDownError(host, kind, how, detail);
}

export function isHostDown(reason: unknown): reason is HostDownError {
  return reason instanceof HostDownError;
}

const OUT_OF_MEMORY =
  /heap out of memory|Fatal process OOM|Fatal JavaScript out of memory|Array buffer allocation failed|ERR_WORKER_OUT_OF_MEMORY|Cannot allocate memory/;

/** Whether a host's last words (an error message, its stderr) say it ran out of memory. */
export function soundsOutOfMemory(text: string): boolean {
  return OUT_OF_MEMORY.test(text);
}

/** Exit codes a host uses for its own deaths, so the parent can tell them from `process.exit(n)`. */
export const HOST_EXIT_UNCAUGHT = 70;
export const HOST_EXIT_OUT_OF_MEMORY = 71;
