/**
 * What a cluster node tells its watchers about the sessions it runs: each start of ownership
 * (with the fence that every write of that ownership carries) and each end. A checker of
 * "one owner per fence interval" reads these from every node.
 */
export type ClusterNodeEvent =
  | {
      type: "session_activated";
      sessionId: string;
      node: string;
      fence: number;
      /** created here; activated on first use; taken over from a node that went down. */
      how: "created" | "activated" | "failover";
      /** When the claim succeeded: wall-clock ms (Date.now) of this node. */
      at: number;
    }
  | {
      type: "session_released";
      sessionId: string;
      node: string;
      fence: number | undefined;
      /** released (terminated, node closing) or lost (expired, taken, closed: see LeaseLossReason). */
      reason: string;
      at: number;
    };

export type ClusterNodeListener = (event: ClusterNodeEvent) => void;
