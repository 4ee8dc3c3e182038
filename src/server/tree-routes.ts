import type { Hono } from "hono";
import { Pid } from "../runtime/index.js";
import { Supervisor } from "../supervision/index.js";
import type { ServerContext, ServerEnv } from "./context.js";
import { HttpError } from "./errors.js";
import type { TreeNode } from "./schemas.js";

/** The session system's DynamicSupervisor of sessions: each child's id is its session's id. */
const SESSIONS_SUPERVISOR = "sessions_supervisor";

/** What the caller may see of the running sessions: each one's supervisor pid, by session id. */
interface Visible {
  /** Session supervisor pid (text) → session id, for every running session. */
  sessionOf: Map<string, string>;
  /** Session ids the caller may see. */
  mine: Set<string>;
  restarts: Map<string, number>;
}

/** What the observer's routes reuse of the tree routes: the same tree and the same visibility rule. */
export interface TreeAccess {
  /** The tree `owner` may see, as `GET /v1/tree` answers it (HttpError 503 when the system is not running). */
  tree(owner: string): Promise<TreeNode>;
  /** Whether `owner` may see (and in development mode kill) `pid`. */
  mayShow(owner: string, pid: Pid): Promise<boolean>;
}

/**
 * The supervision tree (`GET /v1/tree`) and one process's info (`GET /v1/processes/:pid`), as
 * the caller may see them: another owner's sessions are left out of the tree, and their
 * processes answer 404 as unknown ones do. A hosted session (thread or process isolation) is
 * shown with its host, and its children as its host's runtime reports them (without mailbox
 * lengths, which only the host knows).
 */
export function treeRoutes(app: Hono<ServerEnv>, ctx: ServerContext): TreeAccess {
  const { system } = ctx;
  const { runtime } = system;

  const visible = async (owner: string): Promise<Visible> => {
    const sessionOf = new Map<string, string>();
    const mine = new Set<string>();
    const restarts = new Map<string, number>();
    for (const info of await system.listSessions()) {
      const supervisor = system.findSupervisor(info.id);
      if (supervisor) sessionOf.set(supervisor.toString(), info.id);
      restarts.set(info.id, info.restarts);
      if (await ctx.canSee(owner, info.id)) mine.add(info.id);
    }
    return { sessionOf, mine, restarts };
  };

  /** The session a local process belongs to (by its supervisor chain), or undefined for the system's own. */
  const sessionOfPid = (pid: Pid, seen: Visible): string | undefined => {
    let at: Pid | undefined = pid;
    for (let depth = 0; at && depth < 64; depth++) {
      const id = seen.sessionOf.get(at.toString());
      if (id !== undefined) return id;
      const info = runtime.info(at);
      if (!info || info.parent.equals(runtime.external)) return undefined;
      at = info.parent;
    }
    return undefined;
  };

  /** Whether the caller may see `pid`: a process of the system's own or of one of its sessions. */
  const mayShow = (pid: Pid, seen: Visible): boolean => {
    if (pid.node !== runtime.node) {
      // A hosted session's process: its session is the one whose host has that node name.
      for (const [supervisor, id] of seen.sessionOf) {
        if (Pid.parse(supervisor).node === pid.node) return seen.mine.has(id);
      }
      return false;
    }
    const id = sessionOfPid(pid, seen);
    return id === undefined || seen.mine.has(id);
  };

  const node = async (
    pid: Pid,
    id: string,
    type: TreeNode["type"],
    parentId: string | undefined,
    seen: Visible,
  ): Promise<TreeNode | undefined> => {
    const result: TreeNode = { pid: pid.toString(), id, type, names: [...runtime.namesOf(pid)] };
    const sessionId =
      parentId === SESSIONS_SUPERVISOR ? (seen.sessionOf.get(pid.toString()) ?? id) : undefined;
    if (sessionId !== undefined) {
      if (!seen.mine.has(sessionId)) return undefined;
      result.sessionId = sessionId;
      const restarts = seen.restarts.get(sessionId);
      if (restarts !== undefined) result.restarts = restarts;
      const host = system.sessionHost(sessionId);
      if (host) {
        result.isolation = host.isolation;
        result.host = {
          id: host.hostId,
          kind: host.isolation,
          ...(host.memory ? { memory: { ...host.memory } } : {}),
        };
      }
    }
    const info = pid.node === runtime.node ? runtime.info(pid) : undefined;
    if (info) result.mailbox = info.mailboxLength;
    if (type === "supervisor") {
      // A hosted subtree runs in its host's runtime: asked over the host's connection, and
      // shown without its children if the host does not answer in time (it may be hung).
      const asked = Supervisor.whichChildren(runtime, pid).catch(() => []);
      const children = pid.node === runtime.node ? await asked : await withinMs(asked, HOSTED_ANSWER_MS, []);
      result.children = [];
      for (const child of children) {
        if (!child.pid) continue;
        const shown = await node(child.pid, child.id, child.type, id, seen);
        if (shown) result.children.push(shown);
      }
    }
    return result;
  };

  const tree = async (owner: string): Promise<TreeNode> => {
    const sessions = runtime.whereis(SESSIONS_SUPERVISOR);
    const root = sessions ? runtime.info(sessions)?.parent : undefined;
    const notRunning = new HttpError(503, "not_ready", "the session system is not running");
    if (!root || root.equals(runtime.external)) throw notRunning;
    const seen = await visible(owner);
    const shown = await node(root, "root", "supervisor", undefined, seen);
    if (!shown) throw notRunning;
    return shown;
  };

  app.get("/v1/tree", async (c) => {
    ctx.noQuery(c);
    return c.json({ root: await tree(c.get("owner")) });
  });

  app.get("/v1/processes/:pid", async (c) => {
    ctx.noQuery(c);
    const pid = Pid.parse(c.req.param("pid"));
    const notFound = new HttpError(404, "process_not_found", `no process ${pid.toString()}`);
    const info = runtime.info(pid);
    if (!info || info.status === "dead") throw notFound;
    const seen = await visible(c.get("owner"));
    if (!mayShow(pid, seen)) throw notFound;
    const sessionId = sessionOfPid(pid, seen);
    const shown = (other: Pid) => mayShow(other, seen) || other.equals(runtime.external);
    return c.json({
      pid: pid.toString(),
      behaviour: info.behaviour,
      status: info.status,
      busy: info.busy,
      mailboxLength: info.mailboxLength,
      messagesHandled: info.messagesHandled,
      trapExit: info.trapExit,
      parent: info.parent.toString(),
      links: info.links.filter(shown).map(String),
      monitoredBy: info.monitoredBy
        .filter((p) => p === undefined || shown(p))
        .map((p) => (p === undefined ? null : p.toString())),
      monitors: info.monitors,
      names: [...info.names],
      ...(sessionId === undefined ? {} : { sessionId }),
    });
  });

  return { tree, mayShow: async (owner, pid) => mayShow(pid, await visible(owner)) };
}

/** How long the tree waits for a host to list a hosted supervisor's children. */
const HOSTED_ANSWER_MS = 1000;

/** `promise`'s value, or `fallback` if it takes more than `ms`. */
function withinMs<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
