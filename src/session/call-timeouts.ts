import type { HostLimits } from "../hosts/index.js";

/** A call's timeout where nothing says otherwise: OTP's, and the runtime's default. */
const CALL_TIMEOUT_MS = 5000;

/**
 * How long the calls that start or stop a session's tree wait. Starting one may wait for its
 * host to start (up to `startTimeoutMs`), stopping one for its host to stop (`stopTimeoutMs`):
 * with a call's usual 5 s a slow host start failed the create with a CallTimeoutError, not the
 * host's own error, while the session went on to come up. The manager's calls to the sessions'
 * supervisor (`inner`) give up before the caller's call to the manager (`outer`), so that the
 * manager answers with what went wrong.
 */
export function sessionCallTimeouts(limits: HostLimits): {
  start: { inner: number; outer: number };
  stop: { inner: number; outer: number };
} {
  const around = (ms: number) => ({ inner: ms + CALL_TIMEOUT_MS, outer: ms + 2 * CALL_TIMEOUT_MS });
  return { start: around(limits.startTimeoutMs), stop: around(limits.stopTimeoutMs) };
}
