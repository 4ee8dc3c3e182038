// What `GET /v1/tree/stream` sends, shared by the server and the web observer (web/ imports
// these types only, so this file imports nothing: the browser bundle gets no server code).

/** A process as the observer shows it: the tree's node with its runtime status. */
export interface ObservedProcess {
  pid: string;
  /** Its child id under its supervisor. */
  id: string;
  type: "supervisor" | "worker";
  names: string[];
  mailbox?: number | undefined;
  /** `running`, `exiting`…; absent for a process of another runtime (a hosted session's). */
  status?: string | undefined;
  busy?: boolean | undefined;
  children?: ObservedProcess[] | undefined;
}

/** Where a session runs, when it has a host of its own (thread or process isolation). */
export interface ObservedHost {
  id: string;
  kind: string;
  /** Its OS process (the server's own for a thread host), and its thread. */
  osPid?: number | undefined;
  threadId?: number | undefined;
  /** From its latest heartbeat: heapUsed, heapLimit, external, rss (bytes). */
  memory?: Record<string, number> | undefined;
}

/** One session: its record's status, and its supervisor's subtree while it runs. */
export interface ObservedSession {
  id: string;
  name?: string | undefined;
  /** The cluster node that runs it (cluster mode only). */
  node?: string | undefined;
  status: string;
  restarts: number;
  hibernated: boolean;
  projectPath?: string | undefined;
  createdAt: string;
  statusChangedAt: string;
  isolation?: string | undefined;
  host?: ObservedHost | undefined;
  /** The session supervisor and its agents (context manager, orchestrator, MCP servers). */
  supervisor?: ObservedProcess | undefined;
  /** Its latest crash since the server started. */
  lastCrash?: { reason: string; at: string } | undefined;
}

/**
 * The stream's `snapshot` event (first) and `changes` events (at most one a second): a
 * snapshot holds every session, a change only the sessions that changed and the ids removed.
 * `system` is the tree's root without the sessions under the sessions supervisor.
 */
export interface TreeStreamSnapshot {
  dev: boolean;
  /** The node this server is, in cluster mode (its processes are `system`'s and its sessions' subtrees). */
  node?: string | undefined;
  system: ObservedProcess;
  sessions: ObservedSession[];
}

export interface TreeStreamChanges {
  system?: ObservedProcess | undefined;
  sessions: ObservedSession[];
  removed: string[];
}
