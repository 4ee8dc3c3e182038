import { isAbsolute } from "node:path";
import { pathToFileURL } from "node:url";
import { InvalidArgumentError, type Pid } from "../runtime/index.js";
import type { ChildSpec, ChildType, RestartType, Shutdown, StartContext } from "../supervision/index.js";
import { loadRootFactory } from "./host-context.js";
import type { Hosts } from "./hosts.js";
import { checkIsolation, type HostLimits, type Isolation, resolveLimits } from "./limits.js";
import { encodeTerm } from "./term-codec.js";

export interface HostedChildOptions {
  /** The child's id in its supervisor. */
  id: string;
  isolation: Isolation;
  /** A module exporting a HostedRootFactory: a file path, a file URL or a package specifier. */
  module: string | URL;
  /** The export to call; default "default". */
  export?: string;
  /** Handed to the factory; it must be sendable (plain data, pids, errors), in every mode. */
  args?: unknown;
  /** What the host is known by (introspection, services); default the id. */
  label?: string;
  limits?: Partial<HostLimits>;
  restart?: RestartType;
  shutdown?: Shutdown;
  /** Default "supervisor". */
  type?: ChildType;
  /** Default true for a supervisor, false for a worker. */
  trapExit?: boolean;
  /**
   * Other modules the root imports as it starts (file paths, file URLs or package specifiers):
   * a spare host kept for it (`spares`) imports them ahead, with `module`.
   */
  preload?: readonly (string | URL)[];
}

/**
 * A child spec whose process — usually the root of a subtree — runs inline, in a worker thread
 * or in a child process. Its supervisor sees the same thing in every mode: a pid it is linked
 * to, whose exit (with `host_down` when the host died) it handles under its restart budget.
 */
export function hostedChild(hosts: Hosts, options: HostedChildOptions): ChildSpec {
  const checked = checkOptions(hosts, options);
  const { isolation, module, exportName, label, trapExit, args } = checked;
  return {
    id: options.id,
    type: checked.type,
    ...(options.restart === undefined ? {} : { restart: options.restart }),
    ...(options.shutdown === undefined ? {} : { shutdown: options.shutdown }),
    start: async (ctx: StartContext): Promise<Pid> => {
      if (isolation === "inline") {
        const factory = await loadRootFactory(module, exportName);
        return ctx.spawnLink(await factory(hosts.inlineContext(label), args), { trapExit });
      }
      return spawnRoot(hosts, checked, ctx.supervisor);
    },
  };
}

/**
 * Starts what `hostedChild(hosts, options)` starts in a thread or process host, linked to
 * `parent`, outside any supervisor's start: a supervisor that then takes the pid as its child
 * (a start function that returns it) does not wait for the host to boot, and takes other
 * requests meanwhile. Until then nothing restarts the root; its exit reaches `parent` as the
 * exit of a process it does not know, which a supervisor ignores.
 */
export function startHostedRoot(hosts: Hosts, options: HostedChildOptions, parent: Pid): Promise<Pid> {
  const checked = checkOptions(hosts, options);
  if (checked.isolation === "inline")
    throw new InvalidArgumentError("isolation", "startHostedRoot starts a thread or process host");
  return spawnRoot(hosts, checked, parent);
}

type CheckedOptions = ReturnType<typeof checkOptions>;

function checkOptions(hosts: Hosts, options: HostedChildOptions) {
  if (typeof options !== "object" || options === null)
    throw new InvalidArgumentError("options", "must be an object");
  const isolation = checkIsolation(options.isolation);
  const type = options.type ?? "supervisor";
  const args = options.args;
  encodeTerm(args, "args");
  if (options.preload !== undefined && !Array.isArray(options.preload))
    throw new InvalidArgumentError("preload", "must be an array of modules");
  if (isolation !== "inline") resolveLimits(options.limits, hosts.limits);
  return {
    isolation,
    module: moduleSpecifier(options.module),
    exportName: options.export ?? "default",
    label: options.label ?? options.id,
    type,
    trapExit: options.trapExit ?? type === "supervisor",
    args,
    limits: options.limits,
    preload: options.preload?.map(moduleSpecifier),
  };
}

function spawnRoot(hosts: Hosts, options: CheckedOptions, parent: Pid): Promise<Pid> {
  return hosts.spawnRoot({
    kind: options.isolation as Exclude<Isolation, "inline">,
    label: options.label,
    module: options.module,
    export: options.exportName,
    args: options.args,
    parent,
    trapExit: options.trapExit,
    ...(options.limits === undefined ? {} : { limits: options.limits }),
    ...(options.preload === undefined ? {} : { preload: options.preload }),
  });
}

function moduleSpecifier(module: string | URL): string {
  if (module instanceof URL) return module.href;
  if (typeof module !== "string" || module.length === 0) {
    throw new InvalidArgumentError("module", "must be a file path, a file URL or a package specifier");
  }
  return isAbsolute(module) ? pathToFileURL(module).href : module;
}
