import { InvalidArgumentError } from "./errors.js";
import type { ExitReason } from "./exit-reason.js";
import { IdTable } from "./id-table.js";
import type { DownMessage } from "./messages.js";
import { Pid, Ref } from "./pid.js";
import type { Proc } from "./process.js";
import type { InboundEndpoint, RemoteRoute, RemoteRouter } from "./remote.js";
import type { Target } from "./target.js";

/** What distribution needs of the local node: its processes, and how to signal them. */
export interface LocalNode {
  readonly node: string;
  readonly external: Pid;
  /** The local process with this id, dead or alive, if the node still holds it. */
  procOf(id: number): Proc | undefined;
  resolve(target: Target): Proc | undefined;
  /** The pid registered under `name`, of whatever node. */
  lookup(name: string): Pid | undefined;
  /** Delivers an exit signal with OTP's rules. */
  signal(proc: Proc, from: Pid, reason: ExitReason, viaLink: boolean): void;
  deliverInfo(proc: Proc, message: unknown): void;
  runCallback(callback: (reason: ExitReason) => void, reason: ExitReason, target: Target): void;
}

/** Where an operation on a pid or name of another node goes; `route` is undefined when that node is gone. */
export class Hop {
  constructor(
    readonly route: RemoteRoute | undefined,
    readonly to: Pid | string,
  ) {}
}

/** A monitor this node holds on a process of another node. */
interface RemoteWatch {
  readonly refId: number;
  readonly watcher: Proc | undefined;
  readonly callback: ((reason: ExitReason) => void) | undefined;
  readonly target: Pid | string;
  readonly node: string;
}

/**
 * The node's links and monitors across nodes, and the routers that carry operations on other
 * nodes' pids. Several routers may be installed (the hosts', later a cluster's): each claims the
 * nodes it routes, and they are asked in the order they were installed.
 */
export class Distribution {
  private routers: RemoteRouter[] = [];
  private readonly watches = new Map<number, RemoteWatch>();
  /** Local processes holding links to processes of each other node, for when that node goes down. */
  private readonly linked = new Map<string, Set<Proc>>();
  /**
   * Links this node relays between processes of two other nodes (a host's process and a cluster
   * peer's, or two hosts'), by each end's node: this node carries their signals, and breaks
   * them when either node goes down.
   */
  private readonly relays = new Map<string, Map<string, readonly [Pid, Pid]>>();

  constructor(private readonly local: LocalNode) {}

  /** Installs `router` and returns the entry points its connections play into this node. */
  install(router: RemoteRouter): InboundEndpoint {
    if (this.routers.includes(router)) {
      throw new InvalidArgumentError("router", `this router is already installed on ${this.local.node}`);
    }
    this.routers = [...this.routers, router];
    return {
      link: (local, remote) => this.inboundLink(local, remote),
      unlink: (local, remote) => {
        if (local.node !== this.local.node) {
          if (this.dropRelay(remote, local)) this.route(local.node)?.unlink(remote, local);
          return;
        }
        const proc = this.localProc(local);
        if (proc) this.dropLink(proc, remote);
      },
      linkExit: (from, to, reason) => this.inboundLinkExit(from, to, reason),
      exit: (from, to, reason) => {
        // An exit signal for a process of another node (one of our hosts') is passed on.
        if (to instanceof Pid && to.node !== this.local.node) {
          this.route(to.node)?.exit(from, to, reason);
          return;
        }
        const proc = this.local.resolve(to);
        if (proc) this.local.signal(proc, from, reason, false);
      },
      down: (ref, pid, reason) => this.inboundDown(ref, pid, reason),
      nodeDown: (node, reason) => this.nodeDown(node, reason),
      detach: () => {
        this.routers = this.routers.filter((r) => r !== router);
      },
    };
  }

  /** The route to `node`: the first installed router's that claims it. */
  route(node: string): RemoteRoute | undefined {
    for (const router of this.routers) {
      const route = router.route(node);
      if (route) return route;
    }
    return undefined;
  }

  /**
   * A Hop for a target of another node (a name unknown here may go to a router's names route);
   * for one of this node, the target to resolve locally — a name already turned into its pid,
   * so that the caller does not look it up a second time.
   */
  hop(target: Target): Hop | Target {
    if (this.routers.length === 0) return target;
    const node = this.local.node;
    if (target instanceof Pid)
      return target.node === node ? target : new Hop(this.route(target.node), target);
    if (typeof target !== "string" || target.length === 0) return target;
    const pid = this.local.lookup(target);
    if (pid) return pid.node === node ? pid : new Hop(this.route(pid.node), pid);
    for (const router of this.routers) if (router.namesRoute) return new Hop(router.namesRoute, target);
    return target;
  }

  link(proc: Proc, route: RemoteRoute, other: Pid): void {
    if (proc.state === "dead") return;
    if (proc.remoteLinks?.has(other.toString())) return;
    this.addLink(proc, other);
    route.link(proc.pid, other);
  }

  /** `proc` unlinks from `other`, of another node: both sides forget the link. */
  unlink(proc: Proc, hop: Hop): void {
    if (hop.to instanceof Pid && proc.remoteLinks?.has(hop.to.toString())) {
      this.dropLink(proc, hop.to);
      hop.route?.unlink(proc.pid, hop.to);
    }
  }

  monitor(
    ref: Ref,
    hop: Hop,
    watcher: Proc | undefined,
    callback: ((reason: ExitReason) => void) | undefined,
  ): void {
    if (!hop.route) {
      this.fire({ refId: ref.id, watcher, callback, target: hop.to, node: "" }, "noproc");
      return;
    }
    const node = hop.route.node;
    this.watches.set(ref.id, { refId: ref.id, watcher, callback, target: hop.to, node });
    if (watcher) {
      if (!watcher.watching) watcher.watching = new IdTable();
      watcher.watching.set(ref.id, ref.id);
    }
    hop.route.monitor(ref, hop.to);
  }

  /** Drops the monitor `refId` if it watches another node's process; false if it is not one. */
  demonitor(refId: number): boolean {
    const remote = this.watches.get(refId);
    if (!remote) return false;
    this.watches.delete(refId);
    remote.watcher?.watching?.delete(refId);
    this.route(remote.node)?.demonitor(new Ref(this.local.node, refId));
    return true;
  }

  /** `proc` exited: its links to other nodes' processes carry the exit over. */
  exited(proc: Proc, reason: ExitReason): void {
    if (!proc.remoteLinks) return;
    const remote = [...proc.remoteLinks.values()];
    const linkReason = reason === "kill" ? "killed" : reason;
    for (const other of remote) {
      this.dropLink(proc, other);
      this.route(other.node)?.linkExit(proc.pid, other, linkReason);
    }
  }

  private localProc(pid: Pid): Proc | undefined {
    return pid.node === this.local.node ? this.local.procOf(pid.id) : undefined;
  }

  private addLink(proc: Proc, other: Pid): void {
    if (!proc.remoteLinks) proc.remoteLinks = new Map();
    proc.remoteLinks.set(other.toString(), other);
    let linked = this.linked.get(other.node);
    if (!linked) {
      linked = new Set();
      this.linked.set(other.node, linked);
    }
    linked.add(proc);
  }

  private dropLink(proc: Proc, other: Pid): void {
    proc.remoteLinks?.delete(other.toString());
    if (proc.remoteLinks?.size) {
      for (const pid of proc.remoteLinks.values()) if (pid.node === other.node) return;
    }
    if (proc.remoteLinks?.size === 0) proc.remoteLinks = undefined;
    const linked = this.linked.get(other.node);
    linked?.delete(proc);
    if (linked?.size === 0) this.linked.delete(other.node);
  }

  private fire(w: RemoteWatch, reason: ExitReason): void {
    const pid = w.target instanceof Pid ? w.target : this.local.external;
    if (w.watcher) {
      w.watcher.watching?.delete(w.refId);
      const down: DownMessage = { type: "DOWN", ref: new Ref(this.local.node, w.refId), pid, reason };
      this.local.deliverInfo(w.watcher, down);
    } else if (w.callback) {
      const callback = w.callback;
      queueMicrotask(() => this.local.runCallback(callback, reason, w.target));
    }
  }

  private inboundLink(local: Pid, remote: Pid): void {
    if (local.node !== this.local.node) {
      this.relayLink(local, remote);
      return;
    }
    const proc = this.localProc(local);
    if (!proc || proc.state === "dead") {
      this.route(remote.node)?.linkExit(local, remote, "noproc");
      return;
    }
    this.addLink(proc, remote);
  }

  private inboundLinkExit(from: Pid, to: Pid, reason: ExitReason): void {
    if (to.node !== this.local.node) {
      if (this.dropRelay(from, to)) this.route(to.node)?.linkExit(from, to, reason);
      return;
    }
    const proc = this.localProc(to);
    // A link removed on this side (unlink) in the meantime means the signal is not for us.
    if (!proc?.remoteLinks?.has(from.toString())) return;
    this.dropLink(proc, from);
    this.local.signal(proc, from, reason, true);
  }

  /**
   * `origin` (of another node) links to `target`, of a third node this one routes to (a host
   * of ours, or a cluster peer): the link is passed on, and its signals come back through here.
   */
  private relayLink(target: Pid, origin: Pid): void {
    const route = this.route(target.node);
    if (!route) {
      this.route(origin.node)?.linkExit(target, origin, "noproc");
      return;
    }
    const key = relayKey(origin, target);
    for (const node of [origin.node, target.node]) {
      let relayed = this.relays.get(node);
      if (!relayed) {
        relayed = new Map();
        this.relays.set(node, relayed);
      }
      relayed.set(key, [origin, target]);
    }
    route.link(origin, target);
  }

  /** Forgets a relayed link; false if this node relays no link between `a` and `b`. */
  private dropRelay(a: Pid, b: Pid): boolean {
    const key = relayKey(a, b);
    let found = false;
    for (const node of [a.node, b.node]) {
      const relayed = this.relays.get(node);
      if (!relayed?.delete(key)) continue;
      found = true;
      if (relayed.size === 0) this.relays.delete(node);
    }
    return found;
  }

  private inboundDown(ref: Ref, pid: Pid, reason: ExitReason): void {
    if (ref.node !== this.local.node) return;
    const w = this.watches.get(ref.id);
    if (!w) return;
    this.watches.delete(ref.id);
    this.fire({ ...w, target: pid }, reason);
  }

  private nodeDown(node: string, reason: ExitReason): void {
    const relayed = this.relays.get(node);
    if (relayed) {
      for (const [a, b] of [...relayed.values()]) {
        const [gone, other] = a.node === node ? [a, b] : [b, a];
        this.dropRelay(gone, other);
        this.route(other.node)?.linkExit(gone, other, reason);
      }
    }
    for (const w of [...this.watches.values()]) {
      if (w.node !== node) continue;
      this.watches.delete(w.refId);
      this.fire(w, reason);
    }
    const linked = this.linked.get(node);
    if (!linked) return;
    this.linked.delete(node);
    for (const proc of [...linked]) {
      for (const other of [...(proc.remoteLinks?.values() ?? [])]) {
        if (other.node !== node) continue;
        proc.remoteLinks?.delete(other.toString());
        this.local.signal(proc, other, reason, true);
      }
      if (proc.remoteLinks?.size === 0) proc.remoteLinks = undefined;
    }
  }
}

function relayKey(a: Pid, b: Pid): string {
  const [x, y] = [a.toString(), b.toString()];
  return x < y ? `${x} ${y}` : `${y} ${x}`;
}
