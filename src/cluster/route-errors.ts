import { registerRevivableError, SessionvisorError } from "../errors.js";

/** Why this node holds another cluster node for gone. */
export type NodeDownCause =
  | "member_down" // membership says so: it stopped renewing its key (or left)
  | "unreachable" // nobody listens on its subjects: it is not running, or not yet
  | "disconnected" // this node's own NATS connection closed, so no other node can be reached
  | "router_closed" // this node's router was closed
  | "refused"; // it holds this node for down, and refuses its frames until it sees it again

/**
 * The exit reason of the processes of a cluster node that is gone, as Erlang's `noconnection`:
 * monitors on them fire with it, links to them break with it, and a call waiting on one fails
 * with it (inside a CallExitError). An Error, so supervisors take it for a crash and restart.
 */
export class NodeDownError extends SessionvisorError {
  readonly node: string;
  readonly how: NodeDownCause;
  readonly detail: string | undefined;

  constructor(node: string, how: NodeDownCause, detail?: string) {
    super("noconnection", `cluster node ${node} is down: ${how}${detail ? ` (${detail})` : ""}`);
    this.node = node;
    this.how = how;
    this.detail = detail;
  }
}

export function isNodeDown(reason: unknown): reason is NodeDownError {
  return reason instanceof NodeDownError;
}

registerRevivableError(NodeDownError);
