import type { Pid, Runtime } from "../runtime/index.js";
import type { SessionSystem } from "../session/index.js";
import { Supervisor } from "../supervision/index.js";
import type { TreeNode } from "./api-client.js";

/** The session system's sessions supervisor: its parent is the system's root. */
const SESSIONS_SUPERVISOR = "sessions_supervisor";

/**
 * The supervision tree of a session system running in this process, in the shape `GET /v1/tree`
 * answers: from its root supervisor (id `root`) down (`Supervisor.whichChildren`, recursively). Each
 * session's supervisor (a child of the sessions supervisor, whose child id is the session's id)
 * carries the session's id, isolation, host and restarts. Children not running (restarting,
 * stopped) are left out.
 */
export async function buildTree(system: SessionSystem): Promise<TreeNode> {
  const { runtime } = system;
  const sessions = runtime.whereis(SESSIONS_SUPERVISOR);
  const root = sessions ? runtime.info(sessions)?.parent : undefined;
  if (!root) throw new Error("the session system is not running (no sessions supervisor)");
  const restarts = new Map((await system.listSessions()).map((info) => [info.id, info.restarts]));
  const node = async (pid: Pid, id: string, type: TreeNode["type"], parentId?: string): Promise<TreeNode> => {
    const result: TreeNode = { pid: pid.toString(), id, type, names: [...runtime.namesOf(pid)] };
    if (parentId === SESSIONS_SUPERVISOR) {
      result.sessionId = id;
      const host = system.sessionHost(id);
      if (host) {
        result.isolation = host.isolation;
        result.host = { id: host.hostId, kind: host.isolation };
        if (host.memory !== undefined) result.host.memory = host.memory;
      }
      const count = restarts.get(id);
      if (count !== undefined) result.restarts = count;
    }
    const mailbox = mailboxOf(runtime, pid);
    if (mailbox !== undefined) result.mailbox = mailbox;
    if (type === "supervisor") {
      const children = await Supervisor.whichChildren(runtime, pid).catch(() => []);
      result.children = [];
      for (const child of children) {
        if (child.pid) result.children.push(await node(child.pid, child.id, child.type, id));
      }
    }
    return result;
  };
  return node(root, "root", "supervisor");
}

function mailboxOf(runtime: Runtime, pid: Pid): number | undefined {
  return runtime.info(pid)?.mailboxLength;
}
