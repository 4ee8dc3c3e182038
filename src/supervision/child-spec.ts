import {
  type AnyServer,
  type ArgsOf,
  InvalidArgumentError,
  type Pid,
  type Runtime,
  type SpawnOptions,
} from "../runtime/index.js";

/** permanent: always restarted; transient: only after an abnormal exit; temporary: never. */
export type RestartType = "permanent" | "transient" | "temporary";
/** ms to wait after `shutdown` before `kill`; `brutal_kill` kills at once; `infinity` waits. */
export type Shutdown = number | "brutal_kill" | "infinity";
export type ChildType = "worker" | "supervisor";

/** What a child's start function gets: the supervisor, and a spawn that links to it. */
export interface StartContext {
  readonly supervisor: Pid;
  readonly runtime: Runtime;
  /** Spawns `server` linked to the supervisor, with the supervisor as its parent. */
  spawnLink<S extends AnyServer>(
    server: S,
    options?: Omit<SpawnOptions<ArgsOf<S>>, "link" | "parent">,
  ): Promise<Pid<S>>;
}

export interface ChildSpec {
  /** Unique within a Supervisor; informative in a DynamicSupervisor. */
  id: string;
  /** Starts the child linked to the supervisor (use `ctx.spawnLink`) and resolves with its pid. */
  start: (ctx: StartContext, ...extraArguments: unknown[]) => Promise<Pid>;
  restart?: RestartType | undefined;
  /** Default: 5000 for workers, `infinity` for supervisors (as OTP). */
  shutdown?: Shutdown;
  type?: ChildType;
  /** A significant child's exit can shut its supervisor down (see `autoShutdown`). */
  significant?: boolean;
}

export interface NormalizedChildSpec extends ChildSpec {
  restart: RestartType;
  shutdown: Shutdown;
  type: ChildType;
  significant: boolean;
}

const RESTARTS: ReadonlySet<string> = new Set<RestartType>(["permanent", "transient", "temporary"]);
const TYPES: ReadonlySet<string> = new Set<ChildType>(["worker", "supervisor"]);

export function normalizeChildSpec(spec: ChildSpec, idRequired = true): NormalizedChildSpec {
  // Made by the library, normalized already, and held by nobody who could change it.
  if (spec instanceof PreparedSpec) return spec;
  if (typeof spec !== "object" || spec === null)
    throw new InvalidArgumentError("child spec", "must be an object");
  if (idRequired || spec.id !== undefined) {
    if (typeof spec.id !== "string" || spec.id.length === 0 || spec.id.length > 256) {
      throw new InvalidArgumentError(
        "child spec id",
        `must be a non-empty string, got ${JSON.stringify(spec.id)}`,
      );
    }
  }
  if (typeof spec.start !== "function")
    throw new InvalidArgumentError(`${where(spec)} start`, "must be a function");
  const restart = spec.restart ?? "permanent";
  if (!RESTARTS.has(restart)) {
    throw new InvalidArgumentError(
      `${where(spec)} restart`,
      `must be one of ${[...RESTARTS].join(", ")}, got ${String(restart)}`,
    );
  }
  const type = spec.type ?? "worker";
  if (!TYPES.has(type)) {
    throw new InvalidArgumentError(
      `${where(spec)} type`,
      `must be worker or supervisor, got ${String(type)}`,
    );
  }
  const shutdown = spec.shutdown ?? (type === "supervisor" ? "infinity" : 5000);
  if (
    shutdown !== "brutal_kill" &&
    shutdown !== "infinity" &&
    !(typeof shutdown === "number" && Number.isInteger(shutdown) && shutdown >= 0)
  ) {
    throw new InvalidArgumentError(
      `${where(spec)} shutdown`,
      `must be a whole number of ms, "brutal_kill" or "infinity", got ${String(shutdown)}`,
    );
  }
  const significant = spec.significant ?? false;
  if (typeof significant !== "boolean")
    throw new InvalidArgumentError(`${where(spec)} significant`, "must be a boolean");
  if (significant && restart === "permanent") {
    throw new InvalidArgumentError(
      `${where(spec)} significant`,
      "only transient or temporary children may be significant",
    );
  }
  return { id: spec.id, start: spec.start, restart, shutdown, type, significant };
}

/** Names the child in an error; a function of the spec rather than a closure, as this runs for every child start. */
function where(spec: ChildSpec): string {
  return `child ${JSON.stringify(spec.id)}`;
}

export interface WorkerOptions<Args> {
  args?: Args;
  /**
   * Registers each process the child runs as under this name before its `init` runs (see
   * `SpawnOptions.name`): a restart registers the new process under it again.
   */
  name?: string;
  restart?: RestartType;
  shutdown?: Shutdown;
  significant?: boolean;
  /** Trap exits from the start, so that a supervisor's `shutdown` runs `terminate`. */
  trapExit?: boolean;
}

/** What a start that can finish at once spawns through: the supervisor's scope. */
export interface ChildStarter {
  /** Spawns linked to the supervisor; a pid at once when the child's `init` was synchronous. */
  spawnLinkNow<S extends AnyServer>(
    server: S,
    options: Omit<SpawnOptions<ArgsOf<S>>, "link" | "parent">,
  ): Pid<S> | Promise<Pid<S>>;
}

/** What a start function does, written so that it can finish at once (see `startNowOf`). */
export type StartNow = (starter: ChildStarter) => Pid | Promise<Pid>;

/**
 * Where a start function made by `withStartNow` keeps the start that can finish at once: on
 * the function itself, so that the supervisor uses it only while the spec still has that very
 * start function (a spec copied with another `start` takes the ordinary path).
 */
const START_NOW: unique symbol = Symbol("sessionvisor.startNow");
type StartFunction = ChildSpec["start"] & { [START_NOW]?: StartNow };

/** `start`, able to finish at once when the spec's start function is one made by `withStartNow`. */
export function startNowOf(start: StartFunction): StartNow | undefined {
  return start[START_NOW];
}

/** A start function (for `ChildSpec.start`) that a supervisor can also run without a promise. */
export function withStartNow(now: StartNow): ChildSpec["start"] {
  const start: StartFunction = (ctx) =>
    Promise.resolve(now({ spawnLinkNow: (server, options) => ctx.spawnLink(server, options) }));
  start[START_NOW] = now;
  return start;
}

/**
 * A child spec the library builds for a supervisor of its own (a session's supervisor under
 * the sessions supervisor, a session's agents under it). It is normalized already, so a
 * supervisor keeps it as it is instead of copying it, and it starts through methods every
 * instance of its class shares instead of closures made per spec. Not for user code (a copy of
 * it by spread loses its methods); `worker` and plain specs are.
 */
export abstract class PreparedSpec implements NormalizedChildSpec {
  abstract readonly id: string;
  abstract readonly restart: RestartType;
  abstract readonly shutdown: Shutdown;
  abstract readonly type: ChildType;
  abstract readonly significant: boolean;

  abstract start(ctx: StartContext): Promise<Pid>;

  /**
   * `start` that finishes at once when the child's `init` is synchronous (see `startNowOf`).
   * `supervisor`: the server of the supervisor starting it, for a spec that many supervisors
   * share (SharedWorkerSpec).
   */
  abstract startNow(starter: ChildStarter, supervisor: object): Pid | Promise<Pid>;
}

/**
 * A permanent worker spec that every supervisor of one kind shares (a session's two agents
 * under every session's supervisor): each start reads the child's args from the supervisor's
 * server that starts it, so a supervisor built per session makes no spec objects of its own.
 * Only a supervisor starts it: `start`, without that server at hand, refuses.
 */
export class SharedWorkerSpec<S extends AnyServer, Owner extends object> extends PreparedSpec {
  constructor(
    readonly id: string,
    private readonly make: () => S,
    private readonly argsOf: (supervisor: Owner) => ArgsOf<S>,
  ) {
    super();
  }

  get restart(): RestartType {
    return "permanent";
  }

  get shutdown(): Shutdown {
    return 5000;
  }

  get type(): ChildType {
    return "worker";
  }

  get significant(): boolean {
    return false;
  }

  start(): Promise<Pid> {
    return Promise.reject(
      new InvalidArgumentError(
        `child ${JSON.stringify(this.id)}`,
        "a shared spec is started by its supervisor only",
      ),
    );
  }

  startNow(starter: ChildStarter, supervisor: Owner): Pid | Promise<Pid> {
    return starter.spawnLinkNow(this.make(), { args: this.argsOf(supervisor) });
  }
}

/** Child lists made by `preparedChildList`: checked once, frozen, taken as they are. */
const PREPARED_LISTS = new WeakSet<readonly ChildSpec[]>();

/**
 * A supervisor's children as a list built once and given to many supervisors (every session's
 * supervisor gets the same two agent specs): checked here once (prepared specs, none of them
 * significant, ids unique) and frozen, so a supervisor built with it neither copies nor checks
 * it again.
 */
export function preparedChildList(specs: readonly PreparedSpec[]): readonly NormalizedChildSpec[] {
  for (const [i, spec] of specs.entries()) {
    if (!(spec instanceof PreparedSpec)) throw new InvalidArgumentError("children", "must be prepared specs");
    if (spec.significant)
      throw new InvalidArgumentError(where(spec), "a prepared list holds no significant child");
    if (specs.findIndex((other) => other.id === spec.id) !== i)
      throw new InvalidArgumentError("children", `duplicate child id ${JSON.stringify(spec.id)}`);
  }
  const list = Object.freeze([...specs]);
  PREPARED_LISTS.add(list);
  return list;
}

/** Whether `children` is a list made by `preparedChildList`. */
export function isPreparedChildList(
  children: readonly ChildSpec[],
): children is readonly NormalizedChildSpec[] {
  return PREPARED_LISTS.has(children);
}

/** A child spec that starts a fresh `make()` server each time (a restart never reuses state). */
export function worker<S extends AnyServer>(
  id: string,
  make: () => S,
  options: WorkerOptions<ArgsOf<S>> = {},
): ChildSpec {
  const { args, trapExit, name, ...rest } = options;
  checkName(name);
  // Without a spread: this runs for every child of every supervisor built.
  const spawn: { args: ArgsOf<S>; trapExit: boolean; name?: string } = {
    args: args as ArgsOf<S>,
    trapExit: trapExit ?? false,
  };
  if (name !== undefined) spawn.name = name;
  return {
    id,
    type: "worker",
    ...rest,
    start: withStartNow((starter) => starter.spawnLinkNow(make(), spawn)),
  };
}

/** A start's optional `name`, checked where the options are given rather than at the first start. */
export function checkName(name: unknown): asserts name is string | undefined {
  if (name !== undefined && (typeof name !== "string" || name.length === 0)) {
    throw new InvalidArgumentError("name", `must be a non-empty string, got ${JSON.stringify(name)}`);
  }
}

/** The spawn options that register a process under `name`, if it has one. */
export function namedAs(name: string | undefined): { name?: string } {
  return name === undefined ? {} : { name };
}

/** Whether a child with this restart type is restarted after exiting with `reason`. */
export function shouldRestart(restart: RestartType, cleanExit: boolean): boolean {
  return restart === "permanent" || (restart === "transient" && !cleanExit);
}
