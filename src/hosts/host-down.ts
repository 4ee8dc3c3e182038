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
  | "flood" // it sent its parent more than its in-flight budget (`maxInFlightMb`) and was stopped
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

const LAST_WORDS_MAX = 1000;

/**
 * What a host says of the error that ends it: its class and message, as the first line of its
 * stack reads (`TypeError: x is not a function`). A class that does not set `name` is named by
 * its constructor, so `class QuotaError extends Error {}` still reads `QuotaError: …`.
 */
export function lastWords(error: unknown): string {
  let text: string;
  if (error instanceof Error) {
    const constructorName = (error.constructor as { name?: unknown } | undefined)?.name;
    const name =
      error.name === "Error" && typeof constructorName === "string" && constructorName.length > 0
        ? constructorName
        : error.name;
    text = `${name}: ${error.message}`;
  } else {
    text = `${typeof error} thrown: ${String(error)}`;
  }
  return text.length > LAST_WORDS_MAX ? `${text.slice(0, LAST_WORDS_MAX)}…` : text;
}

const OUT_OF_MEMORY = new RegExp(
  [
    "heap out of memory",
    "Fatal process (?:OOM|out of memory)",
    "Fatal JavaScript[^\\n]*out of memory",
    "Array buffer allocation failed",
    "ERR_WORKER_OUT_OF_MEMORY",
    "Cannot allocate memory",
    // A C++ allocation failed: libstdc++ says so, then the process aborts (SIGABRT).
    "std::bad_alloc",
  ].join("|"),
);

/** Whether a host's last words (an error message, its stderr) say it ran out of memory. */
export function soundsOutOfMemory(text: string): boolean {
  return OUT_OF_MEMORY.test(text);
}

/** Exit codes a host uses for its own deaths, so the parent can tell them from `process.exit(n)`. */
export const HOST_EXIT_UNCAUGHT = 70;
export const HOST_EXIT_OUT_OF_MEMORY = 71;
export const HOST_EXIT_FLOOD = 72;
