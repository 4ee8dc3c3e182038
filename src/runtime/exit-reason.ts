/**
 * Why a process exited. As in OTP: `normal` and `shutdown` (or `{ shutdown: detail }`) are
 * clean exits; `kill` is the untrappable signal, which the victim reports as `killed`; `noproc`
 * is what a monitor of an already-dead process reports. Anything else (usually an Error) is a crash.
 */
export type ExitReason =
  | "normal"
  | "shutdown"
  | "kill"
  | "killed"
  | "noproc"
  | { readonly shutdown: unknown }
  | Error
  | string
  | Readonly<Record<string, unknown>>;

export function isShutdownReason(reason: unknown): boolean {
  return (
    reason === "shutdown" ||
    (typeof reason === "object" && reason !== null && !(reason instanceof Error) && "shutdown" in reason)
  );
}

/** True for the reasons a `transient` child is not restarted for, and OTP does not log. */
export function isCleanExit(reason: unknown): boolean {
  return reason === "normal" || isShutdownReason(reason);
}

export function describeReason(reason: unknown): string {
  if (reason instanceof Error) return `${reason.name}: ${reason.message}`;
  if (typeof reason === "string") return reason;
  try {
    return JSON.stringify(reason) ?? String(reason);
  } catch {
    return String(reason);
  }
}

/** A JSON-safe form of a reason for logs and events (Errors keep name, message and stack). */
export function serializeReason(reason: unknown): unknown {
  if (reason instanceof Error) {
    return { error: reason.name, message: reason.message, stack: reason.stack };
  }
  if (typeof reason === "object" && reason !== null) {
    try {
      return JSON.parse(JSON.stringify(reason));
    } catch {
      return String(reason);
    }
  }
  return reason;
}
