import { registerRevivableError, SessionvisorError } from "../errors.js";

/**
 * A session request reached a node that does not own the session (its lease moved, or the
 * caller's view of the owner was stale). The cluster façade finds the owner again, activating
 * the session on a live node when nobody owns it, and retries once.
 */
export class SessionNotHereError extends SessionvisorError {
  readonly sessionId: string;
  readonly node: string;

  constructor(sessionId: string, node: string) {
    super("session_not_here", `session ${sessionId} is not owned by node ${node}`);
    this.sessionId = sessionId;
    this.node = node;
  }
}

registerRevivableError(SessionNotHereError);

/** No live node answered for a session request, or no node is live to place a new session on. */
export class NoNodeAvailableError extends SessionvisorError {
  constructor(detail: string) {
    super("no_node_available", `no cluster node could take the request: ${detail}`);
  }
}

registerRevivableError(NoNodeAvailableError);
