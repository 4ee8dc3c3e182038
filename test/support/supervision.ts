import { type Pid, type Runtime, silentLogger } from "../../src/runtime/index.js";
import {
  type ChildSpec,
  type RestartType,
  type Shutdown,
  Supervisor,
  worker,
} from "../../src/supervision/index.js";
import { Echo, Probe } from "./servers.js";

export { silentLogger };

/** A Probe child spec that journals into `journal` under `name`. */
export function probe(
  name: string,
  journal: string[],
  options: {
    restart?: RestartType;
    shutdown?: Shutdown;
    trap?: boolean;
    slowStopMs?: number;
    hang?: boolean;
    significant?: boolean;
  } = {},
): ChildSpec {
  const { trap, slowStopMs, hang, ...child } = options;
  return worker(name, () => new Probe(), {
    ...child,
    args: { name, journal, trap: trap ?? true, slowStopMs, hang },
  });
}

/** The pid of each child, by id (undefined when not running). */
export async function pidsOf(rt: Runtime, sup: Pid): Promise<Record<string, string | undefined>> {
  const children = await Supervisor.whichChildren(rt, sup);
  return Object.fromEntries(children.map((c) => [c.id, c.pid?.toString()]));
}

export async function childPid(rt: Runtime, sup: Pid, id: string): Promise<Pid> {
  const child = (await Supervisor.whichChildren(rt, sup)).find((c) => c.id === id);
  if (!child?.pid) throw new Error(`child ${id} is not running`);
  return child.pid;
}

/** How often a `flaky` child has been started, and whether its later starts fail. */
export interface Flaky {
  broken: boolean;
  starts: number;
}

/**
 * A child that starts the first time, then fails every later start while `state.broken`.
 * Each failure comes after a timer, so a supervisor retrying it is busy in a start most of the
 * time and a call sent meanwhile is handled between two tries, while the child is `restarting`.
 */
export function flaky(id: string, state: Flaky): ChildSpec {
  return {
    id,
    start: async (ctx) => {
      state.starts++;
      if (state.starts > 1 && state.broken) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        throw new Error(`${id} cannot start`);
      }
      return ctx.spawnLink(new Echo());
    },
  };
}
