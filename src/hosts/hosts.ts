import type { Registry } from "../registry/index.js";
import {
  type ExitReason,
  type InboundEndpoint,
  InvalidArgumentError,
  Pid,
  type Runtime,
} from "../runtime/index.js";
import type { Frame, HostMemory } from "./frames.js";
import type { HostCodeState } from "./host-code.js";
import type { HostContext, Notifier } from "./host-context.js";
import type { HostDownError } from "./host-down.js";
import { type LaunchedHost, launchHost } from "./launch.js";
import { type HostKind, type HostLimits, type Isolation, resolveLimits } from "./limits.js";
import { type ControlFrame, Peer } from "./peer.js";
import { decodeTerm, encodeOutcome, encodeTerm } from "./term-codec.js";

export interface HostsOptions {
  /** Limits for hosts launched without their own (each field defaults as in DEFAULT_HOST_LIMITS). */
  limits?: Partial<HostLimits>;
  /**
   * Hosts kept started and idle per kind and limits, so that a session (re)starting in a
   * host does not wait for a thread or process to boot. 0 (the default) starts each on demand.
   */
  spares?: number;
  /**
   * Whether a host that may be hung gets a standby started beside it (default true): a host of
   * the same kind and limits, loading the same modules, so that if the watchdog then finds the
   * silent one hung its root restarts at once instead of waiting for a boot. "May be hung":
   * silent for half its hang timeout, or for all but its last second when that is longer (5 s
   * timeout: after 4 s). A standby nobody takes is stopped again twice the hang timeout later
   * (or kept as a spare, if the pool holds fewer than `spares`). It costs a host's start each
   * time a host is busy that long without a break.
   */
  standby?: boolean;
}

/** What introspection shows of a host. */
export interface HostInfo {
  /** The host's node name: the first part of the pids of its processes. */
  readonly id: string;
  readonly kind: HostKind;
  /** What runs in it (a session id, for a session); undefined for an idle spare. */
  readonly label: string | undefined;
  readonly osPid: number;
  readonly threadId: number | undefined;
  readonly startedAt: Date;
  readonly limits: HostLimits;
  readonly memoryLimitEnforced: boolean;
  /** From the host's latest heartbeat. */
  readonly memory: HostMemory | undefined;
  /**
   * How the host loaded the library: `cached` from the code cache an earlier host of its kind
   * sent, `compiled` from source (the first host of its kind, or a cache V8 refused), `source`
   * under tsx, which has no bundle to cache. Undefined until it is ready.
   */
  readonly code: HostCodeState | undefined;
  /** The root process running in it, once spawned. */
  readonly root: Pid | undefined;
  /** Being stopped: its root is gone, or the runtime is stopping. */
  readonly stopping: boolean;
}

/** Who is calling a service: the label (session id) and host of the subtree asking. */
export interface ServiceCaller {
  readonly label: string;
  readonly hostId: string;
  readonly isolation: Isolation;
}

/**
 * Builds the object a subtree's `context.service(name)` reaches; called once per subtree and
 * service. It should serve only what `caller` may touch (a session its own conversation).
 */
export type ServiceFactory = (caller: ServiceCaller) => object;

export interface SpawnRootOptions {
  kind: HostKind;
  label: string;
  /** A module that exports a HostedRootFactory (a path or file URL the host can import). */
  module: string;
  export: string;
  args: unknown;
  /** The process the root is linked to, and whose exit stops the host (a supervisor). */
  parent: Pid;
  trapExit: boolean;
  limits?: Partial<HostLimits>;
  /**
   * Other modules the root imports as it starts (a module of providers it names): a spare kept
   * for roots like this one imports them too, with `module`, before it is ready.
   */
  preload?: readonly string[];
}

interface HostRecord {
  readonly launched: LaunchedHost;
  readonly peer: Peer;
  readonly limits: HostLimits;
  label: string | undefined;
  root: Pid | undefined;
  /** The modules its root loads (its own and those it names to preload): what a standby loads. */
  modules: readonly string[];
  stopping: boolean;
  /** The spawn waiting for its answer. */
  spawn: { resolve(pid: Pid): void; reject(error: unknown): void } | undefined;
  readonly services: Map<string, object>;
}

/** A root to start, and who waits for its answer (`spawned`). */
interface PendingSpawn {
  readonly frame: Extract<Frame, { t: "spawn" }>;
  readonly answer: NonNullable<HostRecord["spawn"]>;
  readonly label: string;
}

/**
 * The hosts of one runtime: worker threads and child processes that each run one subtree. It
 * routes the runtime's operations on their pids to them, mirrors their registry keys into the
 * registry, answers their service requests, and when one dies, exits every process in it (so
 * links and monitors fire) with a reason that says how it died.
 */
export class Hosts {
  readonly limits: HostLimits;
  private readonly spareCount: number;
  private readonly standby: boolean;
  private readonly records = new Map<string, HostRecord>();
  private readonly spares = new Map<string, Promise<HostRecord>[]>();
  private readonly providers = new Map<string, ServiceFactory>();
  /** Hosts that died or were killed, until their thread or process is really gone. */
  private readonly exiting = new Map<LaunchedHost, HostLimits>();
  private readonly inbound: InboundEndpoint;
  private nextHost = 1;
  private stopped = false;

  constructor(
    private readonly runtime: Runtime,
    private readonly registry: Registry,
    options: HostsOptions = {},
  ) {
    this.limits = resolveLimits(options.limits);
    const spares = options.spares ?? 0;
    if (!Number.isInteger(spares) || spares < 0 || spares > 16) {
      throw new InvalidArgumentError("spares", "must be a whole number from 0 to 16");
    }
    this.spareCount = spares;
    if (options.standby !== undefined && typeof options.standby !== "boolean") {
      throw new InvalidArgumentError("standby", "must be true or false");
    }
    this.standby = options.standby ?? true;
    this.inbound = runtime.useRouter({
      route: (node) => {
        const record = this.records.get(node);
        return record && !record.peer.closed ? record.peer : undefined;
      },
      namesRoute: undefined,
    });
  }

  /** Makes `name` a service that code in hosts reaches with `context.service(name)`. */
  provide(name: string, factory: ServiceFactory): void {
    if (typeof name !== "string" || name.length === 0)
      throw new InvalidArgumentError("name", "must be a non-empty string");
    if (typeof factory !== "function") throw new InvalidArgumentError("factory", "must be a function");
    this.providers.set(name, factory);
  }

  /**
   * Starts `options.module`'s root in a new host (or a spare), linked to `options.parent`, and
   * resolves with the root's pid — a pid of the host's node, usable like any other.
   */
  async spawnRoot(options: SpawnRootOptions): Promise<Pid> {
    const args = encodeTerm(options.args, "args");
    const kind = options.kind;
    const limits = resolveLimits(options.limits, this.limits);
    const modules = [options.module, ...(options.preload ?? [])];
    const frame: Frame = {
      t: "spawn",
      id: 1,
      label: options.label,
      module: options.module,
      export: options.export,
      args,
      parent: options.parent.toString(),
      trapExit: options.trapExit,
    };
    let answer!: { resolve(pid: Pid): void; reject(error: unknown): void };
    const spawned = new Promise<Pid>((resolve, reject) => {
      answer = { resolve, reject };
    });
    const record = await this.take(kind, limits, { frame, answer, label: options.label });
    record.modules = modules;
    // The root is linked to its parent once it runs; until then a parent that dies must still
    // take the host with it, or the host would be an orphan.
    const ownerWatch = this.runtime.watch(options.parent, () => {
      if (!record.root) void this.stopHost(record);
    });
    try {
      const pid = await spawned;
      record.root = pid;
      // One host, one root: when the root is gone the host has nothing left to do.
      this.runtime.watch(pid, () => void this.stopHost(record));
      return pid;
    } catch (error) {
      await this.stopHost(record);
      throw error;
    } finally {
      this.runtime.demonitor(ownerWatch);
      // Spares are replaced once this spawn is done, not while it runs: on a busy machine a
      // booting host would slow the very start the spare was kept for. And not in this turn of
      // the event loop: starting a process holds this thread for its fork and exec (~14 ms in
      // a session system's parent), which the start's answer would otherwise wait behind — a
      // session started from a process spare answered in 18.8 ms, 6.5 ms with this.
      setImmediate(() => this.refill(kind, limits, modules));
    }
  }

  /**
   * The context an inline subtree is built with: this runtime and registry, and services
   * called directly (still through promises, so code runs unchanged in every mode).
   */
  inlineContext(label: string): HostContext {
    const caller: ServiceCaller = { label, hostId: this.runtime.node, isolation: "inline" };
    const services = new Map<string, object>();
    const serviceNamed = (name: string) => this.serviceFor(services, name, () => caller);
    const methodOf = (target: Record<string, unknown>, method: string | symbol) =>
      typeof method === "string" && method !== "then" && typeof target[method] === "function"
        ? (target[method] as (...args: unknown[]) => unknown)
        : undefined;
    return {
      isolation: "inline",
      hostId: this.runtime.node,
      label,
      runtime: this.runtime,
      registry: this.registry,
      logger: this.runtime.logger,
      service: <T extends object>(name: string): T => {
        const target = serviceNamed(name);
        return new Proxy({} as T, {
          get: (_t, method) => {
            const fn = methodOf(target, method);
            return fn && (async (...args: unknown[]) => fn.apply(target, args));
          },
        });
      },
      notify: <T extends object>(name: string): Notifier<T> => {
        const target = serviceNamed(name);
        return new Proxy({} as Notifier<T>, {
          get: (_t, method) => {
            const fn = methodOf(target, method);
            if (!fn) return undefined;
            const failed = (error: unknown) => this.notifyFailed(label, name, method as string, error);
            return (...args: unknown[]) => {
              try {
                Promise.resolve(fn.apply(target, args)).catch(failed);
              } catch (error) {
                failed(error);
              }
            };
          },
        });
      },
    };
  }

  list(): HostInfo[] {
    return [...this.records.values()].map((record) => this.info(record));
  }

  /** The host that runs `label` (a session id), if any. */
  find(label: string): HostInfo | undefined {
    for (const record of this.records.values())
      if (record.label === label && !record.stopping) return this.info(record);
    return undefined;
  }

  /** The host a pid lives in, if it lives in one. */
  hostOf(pid: Pid): HostInfo | undefined {
    const record = this.records.get(pid.node);
    return record ? this.info(record) : undefined;
  }

  /** Kills a host now, as the watchdog would; its processes exit with `host_down` `killed`. */
  kill(id: string): boolean {
    const record = this.records.get(id);
    if (!record) return false;
    void record.launched.kill("killed", "killed by Hosts.kill");
    return true;
  }

  /**
   * Stops every host and spare; resolves when each thread and process is gone — or, for one
   * that is not gone `stopTimeoutMs` after it was killed (a thread blocked in native code
   * ignores `terminate`), once that bound has passed, logging it as `host_not_exited`.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    const spares = [...this.spares.values()].flat();
    this.spares.clear();
    // A spare still starting is waited for (its start is bounded), then stopped like the rest.
    await Promise.all(spares.map((spare) => spare.catch(() => undefined)));
    const waits = [...this.records.values()].map((record) => {
      void this.stopHost(record);
      return this.awaitGone(record.launched, record.limits.stopTimeoutMs + exitGraceMs(record.limits));
    });
    for (const [host, limits] of this.exiting) waits.push(this.awaitGone(host, exitGraceMs(limits)));
    await Promise.all(waits);
    this.inbound.detach();
  }

  private async awaitGone(host: LaunchedHost, boundMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const gone = await Promise.race([
      host.gone.then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), boundMs);
      }),
    ]);
    clearTimeout(timer);
    if (!gone) {
      this.runtime.logger.error(
        {
          event: "host_not_exited",
          host: host.node,
          kind: host.kind,
          osPid: host.osPid,
          threadId: host.threadId,
        },
        `a ${host.kind} host did not exit within ${boundMs} ms of being stopped`,
      );
    }
  }

  private info(record: HostRecord): HostInfo {
    const host = record.launched;
    return {
      id: host.node,
      kind: host.kind,
      label: record.label,
      osPid: host.osPid,
      threadId: host.threadId,
      startedAt: host.startedAt,
      limits: record.limits,
      memoryLimitEnforced: host.memoryLimitEnforced,
      code: host.code,
      memory: host.memory,
      root: record.root,
      stopping: record.stopping,
    };
  }

  private stopHost(record: HostRecord): Promise<void> {
    record.stopping = true;
    return record.launched.stop();
  }

  /**
   * A host for `spawn`, sent the spawn: a spare if one is ready or starting, else a new host,
   * which imports the root's module as it boots, as a spare does, and gets the spawn with its
   * start (LaunchOptions.first), so that neither waits for a round trip after `ready`. (Only the
   * root's module: what it names to preload is a spare's business.) `spawn.answer` hears the
   * root's answer, or the host's death.
   */
  private async take(kind: HostKind, limits: HostLimits, spawn: PendingSpawn): Promise<HostRecord> {
    if (this.stopped || this.runtime.isStopped) throw new InvalidArgumentError("hosts", "are stopped");
    const pool = this.pool(kind, limits);
    while (pool.length > 0) {
      const spare = await (pool.shift() as Promise<HostRecord>).catch(() => undefined);
      if (spare && !spare.launched.dead) {
        spare.label = spawn.label;
        spare.spawn = spawn.answer;
        spare.launched.post(spawn.frame);
        return spare;
      }
    }
    return this.launch(kind, limits, [spawn.frame.module], spawn);
  }

  /** Starts spares up to the count; they import `modules` before they say they are ready. */
  private refill(kind: HostKind, limits: HostLimits, modules: string[]): void {
    if (this.stopped || this.runtime.isStopped) return;
    const pool = this.pool(kind, limits);
    while (pool.length < this.spareCount) {
      const spare = this.launch(kind, limits, modules);
      spare.catch(() => {});
      pool.push(spare);
    }
  }

  private pool(kind: HostKind, limits: HostLimits): Promise<HostRecord>[] {
    const key = `${kind}:${JSON.stringify(limits)}`;
    const pool = this.spares.get(key) ?? [];
    this.spares.set(key, pool);
    return pool;
  }

  private async launch(
    kind: HostKind,
    limits: HostLimits,
    preload: string[] = [],
    spawn?: PendingSpawn,
  ): Promise<HostRecord> {
    const node = `${this.runtime.node.slice(0, 48)}-h${this.nextHost++}`;
    let record: HostRecord | undefined;
    // What the host sent in the turn it said it was ready (its root's answer, with `first`),
    // before there is a record to take it.
    const early: Frame[] = [];
    let earlyDeath: HostDownError | undefined;
    const launched = await launchHost({
      kind,
      node,
      parentNode: this.runtime.node,
      limits,
      logLevel: this.runtime.logger.level ?? "info",
      preload,
      first: spawn?.frame,
      onFrame: (frame) => (record ? record.peer.receive(frame) : void early.push(frame)),
      onDeath: (reason) => {
        if (record) this.died(record, reason);
        else earlyDeath = reason;
      },
      onSilent: () => {
        if (record) this.startStandby(record);
      },
    });
    const peer = new Peer(
      this.runtime,
      this.inbound,
      node,
      (frame) => launched.post(frame),
      (frame) => (record ? this.control(record, frame) : undefined),
    );
    record = {
      launched,
      peer,
      limits,
      label: spawn?.label,
      root: undefined,
      modules: preload,
      stopping: false,
      spawn: spawn?.answer,
      services: new Map(),
    };
    this.records.set(node, record);
    for (const frame of early) void record.peer.receive(frame);
    // Dead in the same turn as it said it was ready: whoever waits for its root hears why.
    if (earlyDeath) this.died(record, earlyDeath);
    else if (this.stopped) await this.stopHost(record);
    return record;
  }

  /**
   * `record`'s host has been silent long enough that it may be hung: unless a spare of
   * its kind and limits is there or starting, one is started as a standby, loading what its root
   * loads, so that a restart after a hang verdict takes it instead of waiting for a boot (a cold
   * process host takes ~100 ms to come up; a hung one is found only at the timeout).
   */
  private startStandby(record: HostRecord): void {
    if (!this.standby || record.label === undefined || record.stopping) return;
    if (this.stopped || this.runtime.isStopped) return;
    const { kind } = record.launched;
    const pool = this.pool(kind, record.limits);
    if (pool.length > 0) return;
    const standby = this.launch(kind, record.limits, [...record.modules]);
    standby.catch(() => {});
    pool.push(standby);
    this.runtime.logger.debug(
      { event: "host_standby", host: record.launched.node, label: record.label },
      "a silent host may be hung: a standby host is starting",
    );
    // Kept while the silent host may still be judged hung and its root restarted; then, if
    // nobody took it and the pool holds its spares without it, stopped.
    setTimeout(() => {
      const at = pool.indexOf(standby);
      if (this.stopped || at < 0 || pool.length <= this.spareCount) return;
      pool.splice(at, 1);
      void standby.then(
        (host) => this.stopHost(host),
        () => {},
      );
    }, record.limits.hangTimeoutMs * 2).unref();
  }

  /** Everything in the host exits with `reason`: keys go, calls fail, links and monitors fire. */
  private died(record: HostRecord, reason: HostDownError): void {
    const node = record.launched.node;
    this.exiting.set(record.launched, record.limits);
    void record.launched.gone.then(() => this.exiting.delete(record.launched));
    const exitReason: ExitReason = record.stopping ? "shutdown" : reason;
    this.records.delete(node);
    record.spawn?.reject(reason);
    record.spawn = undefined;
    this.registry.dropNode(node, exitReason);
    record.peer.close(exitReason);
    this.inbound.nodeDown(node, exitReason);
    if (!record.stopping && record.label !== undefined) {
      this.runtime.logger.warn({ event: "host_down", host: node, label: record.label, reason }, "host died");
    }
  }

  /** A service request's handling goes on after it returns: its promise says when it ends. */
  private control(record: HostRecord, frame: ControlFrame): undefined | Promise<void> {
    switch (frame.t) {
      case "spawned": {
        const pending = record.spawn;
        record.spawn = undefined;
        if (frame.ok) pending?.resolve(Pid.parse(frame.pid));
        else pending?.reject(decodeTerm(frame.error));
        return;
      }
      case "register":
        try {
          this.registry.registerRemote(frame.key, Pid.parse(frame.pid));
        } catch (error) {
          this.runtime.logger.warn(
            { event: "host_register_failed", key: frame.key, error },
            "could not mirror a host's key",
          );
        }
        return;
      case "unregister":
        this.registry.unregisterRemote(
          frame.key,
          Pid.parse(frame.pid),
          decodeTerm(frame.reason) as ExitReason,
        );
        return;
      case "service":
        return this.serve(record, frame);
      case "notify":
        return this.invoke(record, frame).then(
          () => undefined,
          (error: unknown) => this.notifyFailed(record.label ?? "", frame.service, frame.method, error),
        );
    }
    return undefined;
  }

  private async serve(record: HostRecord, frame: Extract<Frame, { t: "service" }>): Promise<void> {
    const reply = (ok: boolean, value: unknown) =>
      record.launched.post({ t: "service_reply", id: frame.id, ...encodeOutcome(ok, value) });
    try {
      reply(true, await this.invoke(record, frame));
    } catch (error) {
      reply(false, error);
    }
  }

  /** What a host's request or notify to a service comes to: the method's result, or why not. */
  private async invoke(
    record: HostRecord,
    frame: Extract<Frame, { t: "service" | "notify" }>,
  ): Promise<unknown> {
    const service = this.serviceFor(record.services, frame.service, () => ({
      label: record.label ?? "",
      hostId: record.launched.node,
      isolation: record.launched.kind,
    }));
    const method = service[frame.method];
    if (typeof method !== "function") {
      throw new InvalidArgumentError(
        "method",
        `service ${frame.service} has no method ${JSON.stringify(frame.method)}`,
      );
    }
    const args = decodeTerm(frame.args);
    if (!Array.isArray(args)) throw new InvalidArgumentError("args", "must be an array");
    return await method.apply(service, args);
  }

  /** A subtree's instance of service `name`, made by its factory at the subtree's first use. */
  private serviceFor(
    made: Map<string, object>,
    name: string,
    caller: () => ServiceCaller,
  ): Record<string, unknown> {
    let service = made.get(name);
    if (!service) {
      const factory = this.providers.get(name);
      if (!factory)
        throw new InvalidArgumentError("service", `no service ${JSON.stringify(name)} is provided`);
      service = factory(caller());
      made.set(name, service);
    }
    return service as Record<string, unknown>;
  }

  /** Nobody waits on a notify: its failure is told here. */
  private notifyFailed(label: string, service: string, method: string, error: unknown): void {
    this.runtime.logger.warn(
      { event: "host_notify_failed", label, service, method, error },
      `${service}.${method}, notified by ${label || "a host"}, failed`,
    );
  }
}

/** How long a killed host may take to be gone: terminating a thread, reaping a process. */
function exitGraceMs(limits: HostLimits): number {
  return Math.max(1000, limits.stopTimeoutMs);
}
