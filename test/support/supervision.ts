import { type Pid, type Runtime, silentLogger } from "../../src/runtime/index.js";
import {
  type ChildSpec,
  type RestartType,
  type Shutdown,
  Supervisor,
  worker,
} from "../../src/supervision/index.js";
import { Probe } from "./servers.js";

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
