import type {
  ConversationTurn,
  FileEntry,
  SessionConfigInput,
  SessionDocument,
  SessionEventListener,
  SessionInfo,
  SessionSystem,
  TurnPart,
  TurnReply,
} from "../session/index.js";

/** A session as a server lists it: its info, and in a cluster the node that runs it. */
export type ServedSessionInfo = SessionInfo & { readonly node?: string };

/** A node of the cluster as this node's membership sees it (cluster mode). */
export interface ServedNode {
  node: string;
  /** Sessions it runs, by its last heartbeat. */
  sessions: number;
  /** Its resident memory by its last heartbeat (MiB). */
  rssMb: number;
  /** When it joined, by its own clock. */
  startedAt: string;
  /** Its last heartbeat, by the NATS server's clock. */
  lastSeen: string;
}

/** Ends a subscription (idempotent). */
export interface ServedSubscription {
  unsubscribe(): void;
}

/**
 * The session API a server serves: one SessionSystem's, or a whole cluster's (each call goes
 * to the node that runs the session). What only this process has — its runtime, its hosts,
 * the process tree, the metrics — stays with `local`.
 */
export interface ServedSessions {
  /** This process's session system (in a cluster: this node's, on the shared store). */
  readonly local: SessionSystem;
  /** This node's id in a cluster; undefined when the server runs alone. */
  readonly node: string | undefined;
  /** The live nodes of the cluster, this one included; none when the server runs alone. */
  listNodes(): ServedNode[];
  /** Rejects when this node cannot reach the cluster now (what `/readyz` adds in cluster mode). */
  checkCluster(): Promise<void>;
  createSession(config: SessionConfigInput): Promise<ServedSessionInfo>;
  listSessions(): Promise<ServedSessionInfo[]>;
  listTerminatedSessions(): Promise<ServedSessionInfo[]>;
  getSession(id: string): Promise<ServedSessionInfo | undefined>;
  terminateSession(id: string): Promise<void>;
  restoreSession(id: string): Promise<ServedSessionInfo>;
  importSession(document: SessionDocument): Promise<ServedSessionInfo>;
  exportSession(id: string): Promise<SessionDocument>;
  hibernateSession(id: string): Promise<void>;
  wakeSession(id: string): Promise<ServedSessionInfo>;
  getHistory(id: string): Promise<ConversationTurn[]>;
  getFiles(id: string): Promise<{ active: string[]; index: FileEntry[] }>;
  sendMessage(
    id: string,
    text: string,
    options: { timeoutMs?: number; signal?: AbortSignal },
  ): Promise<TurnReply>;
  stream(
    id: string,
    text: string,
    options: { timeoutMs?: number; signal?: AbortSignal },
  ): AsyncIterableIterator<TurnPart>;
  cancelTurn(id: string, reason?: string): Promise<boolean>;
  approveToolCall(id: string, callId: string): Promise<void>;
  denyToolCall(id: string, callId: string, reason?: string): Promise<void>;
  /** One session's events; with `since`, its kept durable events above that seq first. */
  subscribe(
    id: string,
    listener: SessionEventListener,
    options: { since?: number },
  ): Promise<ServedSubscription>;
  /** Every session's events. */
  subscribeAll(listener: SessionEventListener): ServedSubscription;
}

/** One session system served as it is. */
export function localSessions(system: SessionSystem): ServedSessions {
  return {
    local: system,
    node: undefined,
    listNodes: () => [],
    checkCluster: () => Promise.resolve(),
    createSession: (config) => system.createSession(config),
    listSessions: () => system.listSessions(),
    listTerminatedSessions: () => system.listTerminatedSessions(),
    getSession: (id) => system.getSession(id),
    terminateSession: (id) => system.terminateSession(id),
    restoreSession: (id) => system.restoreSession(id),
    importSession: (document) => system.importSession(document),
    exportSession: (id) => system.exportSession(id),
    hibernateSession: (id) => system.hibernateSession(id),
    wakeSession: (id) => system.wakeSession(id),
    getHistory: (id) => system.getHistory(id),
    getFiles: (id) => system.getFiles(id),
    sendMessage: (id, text, options) => system.sendMessage(id, text, options),
    stream: (id, text, options) => system.stream(id, text, options),
    cancelTurn: (id, reason) => system.cancelTurn(id, reason),
    approveToolCall: (id, callId) => system.approveToolCall(id, callId),
    denyToolCall: (id, callId, reason) => system.denyToolCall(id, callId, reason),
    subscribe: (id, listener, options) => system.subscribe(id, listener, options),
    subscribeAll: (listener) => system.subscribeAll(listener),
  };
}
