import { InvalidTransitionError } from "./errors.js";

export type SessionStatus =
  | "initializing"
  | "active"
  | "idle"
  | "recovering"
  | "failed"
  | "terminating"
  | "terminated";

export const SESSION_STATUSES: readonly SessionStatus[] = [
  "initializing",
  "active",
  "idle",
  "recovering",
  "failed",
  "terminating",
  "terminated",
];

const EDGES: Record<SessionStatus, readonly SessionStatus[]> = {
  initializing: ["active", "failed", "terminating"],
  active: ["idle", "recovering", "terminating"],
  idle: ["active", "recovering", "terminating"],
  recovering: ["active", "failed", "terminating"],
  failed: ["terminating"],
  terminating: ["terminated"],
  terminated: [],
};

export function canTransition(from: SessionStatus, to: SessionStatus): boolean {
  return EDGES[from]?.includes(to) ?? false;
}

/** The session's lifecycle state; it changes only through `applyTransition`. */
export interface SessionState {
  readonly status: SessionStatus;
  readonly previousStatus: SessionStatus | undefined;
  readonly statusChangedAt: Date;
}

export function initialState(at: Date): SessionState {
  return { status: "initializing", previousStatus: undefined, statusChangedAt: at };
}

/** The one way a status changes: any edge not in the design's machine is an error. */
export function applyTransition(state: SessionState, to: SessionStatus, at: Date): SessionState {
  if (!canTransition(state.status, to)) throw new InvalidTransitionError(state.status, to);
  return { status: to, previousStatus: state.status, statusChangedAt: at };
}
