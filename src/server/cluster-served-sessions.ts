import type { ClusterNode } from "../cluster/index.js";
import { TurnCancelledError } from "../session/index.js";
import { newRequestId } from "../session/turn-call.js";
import { HttpError } from "./errors.js";
import type { ServedSessions } from "./served-sessions.js";

/** How long `/readyz` waits for the NATS server to answer a ping in cluster mode. */
const NATS_READY_MS = 2000;

/**
 * A cluster node's server: the session API of the whole cluster (each request goes to the node
 * that runs the session, which is activated on first use when nobody does), beside this node's
 * own system for what only it has. Exports read the shared store here.
 */
export function clusterSessions(node: ClusterNode): ServedSessions {
  const { sessions, system } = node;
  return {
    local: system,
    node: node.node,
    listNodes: () =>
      node.liveMembers().map((member) => ({
        node: member.node,
        sessions: member.sessions,
        rssMb: member.rssMb,
        startedAt: member.startedAt,
        lastSeen: member.lastSeen.toISOString(),
      })),
    checkCluster: async () => {
      // A round trip to the NATS server: a node cut off from it (its connection stalled, or
      // reconnecting) cannot renew its leases, so it should take no traffic.
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), NATS_READY_MS);
      });
      const flushed = node.connection.nc.flush().then(
        () => true,
        () => false, // closed
      );
      const answered = await Promise.race([flushed, late]).finally(() => clearTimeout(timer));
      if (!answered)
        throw new HttpError(
          503,
          "not_ready",
          `node ${node.node} has no answer from NATS within ${NATS_READY_MS} ms (cut off from the cluster)`,
        );
    },
    createSession: (config) => sessions.createSession(config),
    listSessions: () => sessions.listSessions(),
    listTerminatedSessions: () => sessions.listTerminatedSessions(),
    getSession: (id) => sessions.getSession(id),
    terminateSession: (id) => sessions.terminateSession(id),
    restoreSession: (id) => sessions.restoreSession(id),
    importSession: (document) => sessions.importSession(document),
    exportSession: (id) => system.exportSession(id),
    hibernateSession: (id) => sessions.hibernateSession(id),
    wakeSession: (id) => sessions.wakeSession(id),
    getHistory: (id) => sessions.getHistory(id),
    getFiles: (id) => sessions.getFiles(id),
    sendMessage: async (id, text, { timeoutMs, signal }) => {
      // The turn runs on its node: the caller's signal cancels it there, by its request id (as
      // SessionSystem.sendMessage does on its own node).
      if (signal?.aborted)
        throw new TurnCancelledError(id, undefined, "its signal was aborted before it was sent");
      const requestId = `${node.node}-${newRequestId()}`;
      const cancel = () => {
        const reason = signal?.reason instanceof Error ? signal.reason.message : "its caller cancelled it";
        sessions.cancelTurn(id, reason, { requestId }).catch(() => undefined);
      };
      signal?.addEventListener("abort", cancel, { once: true });
      try {
        return await sessions.sendMessage(id, text, {
          requestId,
          ...(timeoutMs === undefined ? {} : { timeoutMs }),
        });
      } finally {
        signal?.removeEventListener("abort", cancel);
      }
    },
    stream: (id, text, options) => sessions.stream(id, text, options),
    cancelTurn: (id, reason) => sessions.cancelTurn(id, reason),
    approveToolCall: (id, callId) => sessions.approveToolCall(id, callId),
    denyToolCall: (id, callId, reason) => sessions.denyToolCall(id, callId, reason),
    subscribe: (id, listener, options) => sessions.subscribe(id, listener, options),
    subscribeAll: (listener) => sessions.subscribeAll(listener),
  };
}
