import type { Pid } from "../runtime/index.js";
import {
  DynamicSupervisor,
  type RestartBudget,
  Supervisor,
  type SupervisorOptions,
  worker,
} from "../supervision/index.js";
import { type ManagerDeps, SESSION_MANAGER_NAME, SESSIONS_SUPERVISOR_NAME } from "./deps.js";
import { SUPERVISOR_KEY_PREFIX } from "./session-id.js";
import { SessionManager, type SessionManagerInfo } from "./session-manager.js";

/** The root's child id under a `supervisor` given in the options. */
export const SESSION_SYSTEM_CHILD_ID = "session_system";

export interface BootOptions {
  deps: ManagerDeps;
  maxSessions: number;
  idleSweepMs: number;
  retainTerminatedMs: number;
  /** Each session's own restart budget. */
  sessionRestartBudget: RestartBudget;
  /** The budget all sessions share (`maxRestarts: null`: none). */
  sharedRestartBudget: { maxRestarts: number | null; period: number };
  /** A Supervisor to run the root under, as its child `session_system`; default: on its own. */
  supervisor: Pid | undefined;
}

/** A booted tree: its root, and what to undo when the system stops. */
export interface BootedTree {
  /** Undefined if the `supervisor` given ignored the start. */
  root: Pid | undefined;
  /** Stops telling the manager about session supervisors (the registry listener). */
  stopListening: () => void;
}

/**
 * Boots the system's root: a supervisor (rest_for_one) over the sessions DynamicSupervisor and
 * the SessionManager, with the news the manager needs from outside its own mailbox (a session
 * supervisor up, a session given up on). The first manager restores the stored sessions before
 * this resolves; a manager the tree restarts later rebuilds without that.
 */
export async function bootSessionTree(options: BootOptions): Promise<BootedTree> {
  const { deps } = options;
  const { runtime, registry } = deps;
  // Sessions the sessions supervisor gave up on, until a manager has marked them failed: a
  // manager (re)starting after the news was sent knows them from here, not from its mailbox.
  const givenUp = new Set<string>();
  // Tell the manager when a session supervisor comes (back) up or is given up on. It is
  // addressed by name, so a restarted manager gets the news too.
  const tellManager = (message: SessionManagerInfo) => {
    if (registry.whereis(SESSION_MANAGER_NAME)) runtime.send(SESSION_MANAGER_NAME, message);
  };
  const stopListening = registry.on("register", (entry) => {
    if (entry.key.startsWith(SUPERVISOR_KEY_PREFIX)) {
      tellManager({ type: "session_up", id: entry.key.slice(SUPERVISOR_KEY_PREFIX.length), pid: entry.pid });
    }
  });
  const shared = options.sharedRestartBudget;
  // Only the first manager restores at boot: one the tree restarts finds sessions whose
  // processes went with the tree, and brings them back as recovering.
  let booting = true;
  const tree: SupervisorOptions = {
    strategy: "rest_for_one",
    maxRestarts: 10,
    period: 5000,
    children: [
      {
        id: SESSIONS_SUPERVISOR_NAME,
        type: "supervisor",
        shutdown: "infinity",
        start: async (ctx) => {
          // A root killed outright leaves its sessions supervisor stopping its sessions: the
          // new one takes the name (and the sessions their names) once that is done. Named at
          // spawn, so a name still taken fails the start instead of leaving an unnamed one running.
          const previous = registry.whereis(SESSIONS_SUPERVISOR_NAME);
          if (previous) await runtime.whenExited(previous);
          return ctx.spawnLink(
            new DynamicSupervisor({
              maxRestarts: shared.maxRestarts,
              period: shared.period,
              childRestartBudget: options.sessionRestartBudget,
              onEvent: (event) => {
                if (event.type === "child_given_up") {
                  givenUp.add(event.childId);
                  tellManager({ type: "session_given_up", id: event.childId, reason: event.reason });
                }
              },
            }),
            { trapExit: true, name: SESSIONS_SUPERVISOR_NAME },
          );
        },
      },
      worker(
        SESSION_MANAGER_NAME,
        () => {
          const manager = new SessionManager();
          if (booting) manager.restoreAtBoot();
          booting = false;
          return manager;
        },
        {
          args: {
            deps,
            maxSessions: options.maxSessions,
            idleSweepMs: options.idleSweepMs,
            givenUp,
            retainTerminatedMs: options.retainTerminatedMs,
          },
        },
      ),
    ],
  };
  try {
    const root = options.supervisor
      ? await Supervisor.startChild(
          runtime,
          options.supervisor,
          Supervisor.childSpec(SESSION_SYSTEM_CHILD_ID, tree),
        )
      : await Supervisor.start(runtime, tree);
    return { root, stopListening };
  } catch (error) {
    stopListening();
    throw error;
  }
}
