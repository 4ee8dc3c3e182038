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
  if (typeof options !== "object" || options === null)
    throw new InvalidArgumentError("options", "must be an object");
  const isolation = checkIsolation(options.isolation);
  const module = moduleSpecifier(options.module);
  const exportName = options.export ?? "default";
  const label = options.label ?? options.id;
  const type = options.type ?? "supervisor";
  const trapExit = options.trapExit ?? type === "supervisor";
  const args = options.args;
  encodeTerm(args, "args");
  if (options.preload !== undefined && !Array.isArray(options.preload))
    throw new InvalidArgumentError("preload", "must be an array of modules");
  const preload = options.preload?.map(moduleSpecifier);
  if (isolation !== "inline") resolveLimits(options.limits, hosts.limits);
  return {
    id: options.id,
    type,
    ...(options.restart === undefined ? {} : { restart: options.restart }),
    ...(options.shutdown === undefined ? {} : { shutdown: options.shutdown }),
    start: async (ctx: StartContext): Promise<Pid> => {
      if (isolation === "inline") {
        const factory = await loadRootFactory(module, exportName);
        return ctx.spawnLink(await factory(hosts.inlineContext(label), args), { trapExit });
      }
      return hosts.spawnRoot({
        kind: isolation,
        label,
        module,
        export: exportName,
        args,
        parent: ctx.supervisor,
        trapExit,
        ...(options.limits === undefined ? {} : { limits: options.limits }),
        ...(preload === undefined ? {} : { preload }),
      });
    },
  };
}

function moduleSpecifier(module: string | URL): string {
  if (module instanceof URL) return module.href;
  if (typeof module !== "string" || module.length === 0) {
    throw new InvalidArgumentError("module", "must be a file path, a file URL or a package specifier");
  }
  return isAbsolute(module) ? pathToFileURL(module).href : module;
}
