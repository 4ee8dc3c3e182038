import type { Hono } from "hono";
import { Pid } from "../runtime/index.js";
import type { ServerContext, ServerEnv } from "./context.js";
import { HttpError } from "./errors.js";
import type {
  ObservedHost,
  ObservedProcess,
  ObservedSession,
  TreeStreamChanges,
  TreeStreamSnapshot,
} from "./observer-types.js";
import { parseWith, readJsonBody } from "./request.js";
import { ApproveBodySchema, type TreeNode } from "./schemas.js";
import type { ServedSessionInfo } from "./served-sessions.js";
import { sseResponse } from "./sse.js";
import type { TreeAccess } from "./tree-routes.js";

/** A tree stream sends changes at most this often (ms)… */
const TICK_MS = 1000;
/** …and looks again this often even when no event came (memory and mailboxes change silently). */
const QUIET_MS = 5000;
/**
 * A look at a large system is not cheap (10,000 sessions: about half a second here): after one that
 * took `t`, the next waits at least `BUSY_FACTOR × t` (events came) or `QUIET_FACTOR × t` (none
 * came), so that a stream keeps a core busy a fifth of the time at most. Status changes reach
 * the page at once anyway, by the global events.
 */
const BUSY_FACTOR = 4;
const QUIET_FACTOR = 20;
/** Longest crash reason kept for a session. */
const MAX_REASON = 500;

export interface ObserverRouteOptions {
  /** Development mode: the kill routes work (otherwise they answer 404). */
  dev: boolean;
}

/**
 * What the web observer reads beside the API it shares with other clients: the tree as a stream
 * (`GET /v1/tree/stream`), a session's files (`GET /v1/sessions/:id/files`), and in development
 * mode the kill routes (`POST /v1/processes/:pid/kill`, `POST /v1/hosts/:hostId/kill`).
 */
export function observerRoutes(
  app: Hono<ServerEnv>,
  ctx: ServerContext,
  access: TreeAccess,
  options: ObserverRouteOptions,
): void {
  const { system, sessions, limits } = ctx;
  const crashes = recordCrashes(ctx);

  /**
   * Every session the owner may see, each with its subtree when it runs here (in a cluster,
   * every node's sessions, each with its node); and this system's own processes.
   */
  const observe = async (owner: string): Promise<TreeStreamSnapshot> => {
    const root = await access.tree(owner);
    const subtrees = new Map<string, TreeNode>();
    const withoutSessions = (node: TreeNode): ObservedProcess => {
      const shown = processOf(node, false);
      if (node.children) {
        shown.children = [];
        for (const child of node.children) {
          if (child.sessionId !== undefined) subtrees.set(child.sessionId, child);
          else shown.children.push(withoutSessions(child));
        }
      }
      return shown;
    };
    const systemTree = withoutSessions(root);
    const observed: ObservedSession[] = [];
    for (const info of await sessions.listSessions()) {
      if (!(await ctx.canSee(owner, info.id))) continue;
      observed.push(sessionOf(info, subtrees.get(info.id), crashes.get(info.id)));
    }
    return {
      dev: options.dev,
      ...(sessions.node === undefined ? {} : { node: sessions.node }),
      system: systemTree,
      sessions: observed,
    };
  };

  const processOf = (node: TreeNode, deep = true): ObservedProcess => {
    const shown: ObservedProcess = { pid: node.pid, id: node.id, type: node.type, names: node.names };
    if (node.mailbox !== undefined) shown.mailbox = node.mailbox;
    const pid = Pid.parse(node.pid);
    const info = pid.node === system.runtime.node ? system.runtime.info(pid) : undefined;
    if (info) {
      shown.status = info.status;
      shown.busy = info.busy;
    }
    if (deep && node.children) shown.children = node.children.map((child) => processOf(child));
    return shown;
  };

  const hostOf = (sessionId: string, host: NonNullable<TreeNode["host"]>): ObservedHost => {
    const running = system.sessionHost(sessionId);
    return {
      ...host,
      ...(running?.osPid === undefined ? {} : { osPid: running.osPid }),
      ...(running?.threadId === undefined ? {} : { threadId: running.threadId }),
    };
  };

  const sessionOf = (
    info: ServedSessionInfo,
    node: TreeNode | undefined,
    crash: ObservedSession["lastCrash"],
  ): ObservedSession => ({
    id: info.id,
    ...(info.name === undefined ? {} : { name: info.name }),
    ...(info.node === undefined ? {} : { node: info.node }),
    status: info.status,
    restarts: info.restarts,
    hibernated: info.hibernated,
    ...(info.projectPath === undefined ? {} : { projectPath: info.projectPath }),
    createdAt: info.createdAt.toISOString(),
    statusChangedAt: info.statusChangedAt.toISOString(),
    ...(node?.isolation === undefined ? {} : { isolation: node.isolation }),
    ...(node?.host === undefined ? {} : { host: hostOf(info.id, node.host) }),
    ...(node === undefined ? {} : { supervisor: processOf(node) }),
    ...(crash === undefined ? {} : { lastCrash: crash }),
  });

  app.get("/v1/tree/stream", async (c) => {
    ctx.noQuery(c);
    const owner = c.get("owner");
    // Answered before the stream opens: a system that is not running is a 503, not a stream.
    const first = await observe(owner);
    const release = ctx.acquireStream(owner);
    return sseResponse({
      signal: c.req.raw.signal,
      heartbeatMs: limits.heartbeatMs,
      maxQueued: limits.maxQueuedEvents,
      start: (writer) => {
        const sent = new Map<string, string>();
        let sentSystem = "";
        let dirty = false;
        let looking = false;
        /** No look before this time (performance.now()), and none without an event before `quietUntil`. */
        let earliest = 0;
        let quietUntil = performance.now() + QUIET_MS;
        const remember = (snapshot: TreeStreamSnapshot): TreeStreamChanges => {
          const changes: TreeStreamChanges = { sessions: [], removed: [] };
          const systemJson = JSON.stringify(snapshot.system);
          if (systemJson !== sentSystem) changes.system = snapshot.system;
          sentSystem = systemJson;
          const seen = new Set<string>();
          for (const session of snapshot.sessions) {
            seen.add(session.id);
            const json = JSON.stringify(session);
            if (sent.get(session.id) !== json) changes.sessions.push(session);
            sent.set(session.id, json);
          }
          for (const id of sent.keys()) {
            if (!seen.has(id)) {
              changes.removed.push(id);
              sent.delete(id);
            }
          }
          return changes;
        };
        remember(first);
        writer.send({ event: "snapshot", data: first });

        const look = async () => {
          const began = performance.now();
          if (looking || writer.closed || began < earliest || (!dirty && began < quietUntil)) return;
          looking = true;
          dirty = false;
          try {
            const changes = remember(await observe(owner));
            if (changes.system || changes.sessions.length > 0 || changes.removed.length > 0) {
              writer.send({ event: "changes", data: changes });
            }
          } catch {
            // The system stopping: the server closes the stream.
          } finally {
            looking = false;
            const ended = performance.now();
            earliest = ended + BUSY_FACTOR * (ended - began);
            quietUntil = ended + Math.max(QUIET_MS, QUIET_FACTOR * (ended - began));
          }
        };
        const timer = setInterval(() => void look(), TICK_MS);
        timer.unref();
        // From the server's one subscription to every session's events (in a cluster, every
        // node's), not one more per open page.
        const following = ctx.globalEvents.follow(
          undefined,
          (_id, event) => {
            // Token deltas do not change the tree.
            if (event.type !== "llm_delta") dirty = true;
          },
          () => undefined,
        );
        writer.onClose(() => {
          clearInterval(timer);
          following.stop();
          release();
        });
        ctx.track(writer);
      },
    });
  });

  app.get("/v1/sessions/:id/files", async (c) => {
    ctx.noQuery(c);
    const id = await ctx.ownedId(c);
    return c.json(await sessions.getFiles(id));
  });

  /** Development mode only; otherwise the same 404 as a route that does not exist. */
  const devOnly = (c: { req: { method: string; path: string } }) => {
    if (!options.dev) {
      throw new HttpError(404, "not_found", `no route ${c.req.method} ${c.req.path}`);
    }
  };

  app.post("/v1/processes/:pid/kill", async (c) => {
    devOnly(c);
    ctx.noQuery(c);
    parseWith(ApproveBodySchema, (await readJsonBody(c.req.raw, limits.maxBodyBytes)) ?? {});
    const pid = Pid.parse(c.req.param("pid"));
    const notFound = new HttpError(404, "process_not_found", `no process ${pid.toString()}`);
    const local = pid.node === system.runtime.node;
    const info = local ? system.runtime.info(pid) : undefined;
    if (local && (!info || info.status === "dead")) throw notFound;
    if (!(await access.mayShow(c.get("owner"), pid))) throw notFound;
    system.runtime.exit(pid, "kill");
    ctx.logger.warn({ event: "process_killed", pid: pid.toString() }, "process killed from the observer");
    return c.json({ killed: pid.toString() });
  });

  app.post("/v1/hosts/:hostId/kill", async (c) => {
    devOnly(c);
    ctx.noQuery(c);
    parseWith(ApproveBodySchema, (await readJsonBody(c.req.raw, limits.maxBodyBytes)) ?? {});
    const hostId = c.req.param("hostId");
    const notFound = new HttpError(404, "host_not_found", `no host ${hostId}`);
    const host = system.listHosts().find((h) => h.id === hostId);
    if (!host) throw notFound;
    // A session's host is its owner's; an idle spare belongs to no session: the implicit owner only.
    const mine = host.label === undefined ? ctx.auth.implicit : await ctx.canSee(c.get("owner"), host.label);
    if (!mine || !system.hosts.kill(hostId)) throw notFound;
    ctx.logger.warn({ event: "host_killed", hostId }, "host killed from the observer");
    return c.json({ killed: hostId });
  });
}

/** Each session's latest crash reason, kept while the server runs (dropped when it terminates). */
function recordCrashes(ctx: ServerContext): Map<string, { reason: string; at: string }> {
  const crashes = new Map<string, { reason: string; at: string }>();
  // Ends with the server's global events (closed with the server).
  ctx.globalEvents.follow(
    undefined,
    (_id, event) => {
      if (event.type === "session_crashed") {
        crashes.set(event.sessionId, { reason: describe(event.reason), at: event.at });
      } else if (event.type === "session_terminated") {
        crashes.delete(event.sessionId);
      }
    },
    () => undefined,
  );
  return crashes;
}

/** A crash reason in one line: an error (or an error as JSON, from a host) as its name and message, no stack. */
function describe(reason: unknown): string {
  let text: string;
  const error = reason as { name?: unknown; error?: unknown; message?: unknown } | null;
  if (typeof reason === "string") text = reason;
  else if (typeof error === "object" && error !== null && typeof error.message === "string") {
    const name =
      typeof error.name === "string" ? error.name : typeof error.error === "string" ? error.error : "Error";
    text = `${name}: ${error.message}`;
  } else {
    try {
      text = JSON.stringify(reason) ?? String(reason);
    } catch {
      text = String(reason);
    }
  }
  return text.length > MAX_REASON ? `${text.slice(0, MAX_REASON)}…` : text;
}
