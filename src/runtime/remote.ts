import type { ExitReason } from "./exit-reason.js";
import type { Pid, Ref } from "./pid.js";

/**
 * How a runtime reaches the processes of another node: a host (worker thread or child
 * process) or, later, a cluster peer. The runtime hands every operation on a pid whose node is
 * not its own to the route for that node; the route carries it over and plays the other side's
 * answer back through the InboundEndpoint that `Runtime.useRouter` returned.
 */
export interface RemoteRoute {
  /** The node this route leads to. */
  readonly node: string;
  /** Resolves with the reply; rejects as a local call would (NoProc, timeout, exit of the callee). */
  call(from: Pid | undefined, to: Pid | string, message: unknown, timeoutMs: number): Promise<unknown>;
  cast(to: Pid | string, message: unknown): void;
  send(from: Pid, to: Pid | string, message: unknown): void;
  /** An exit signal from `from`, as `exit/2`. */
  exit(from: Pid, to: Pid | string, reason: ExitReason): void;
  /** Asks the other side to record its half of a link between `local` and `remote`. */
  link(local: Pid, remote: Pid): void;
  unlink(local: Pid, remote: Pid): void;
  /** `from` exited while linked to `to`: the link signal. */
  linkExit(from: Pid, to: Pid, reason: ExitReason): void;
  /** Asks the other side to report `target`'s exit (its endpoint's `down(ref, …)`). */
  monitor(ref: Ref, target: Pid | string): void;
  demonitor(ref: Ref): void;
}

export interface RemoteRouter {
  /** The route to `node`, or undefined when no such node is connected (its pids are dead). */
  route(node: string): RemoteRoute | undefined;
  /**
   * Where a name that is not registered here is looked up, if anywhere: a host sends the
   * names it does not know to its parent, as a distributed `{Name, Node}` would.
   */
  readonly namesRoute: RemoteRoute | undefined;
}

/**
 * What a router's other side plays into this node: the entry points a connection (a host's
 * peer, later a cluster's) calls when a frame arrives, returned by `Runtime.useRouter`.
 */
export interface InboundEndpoint {
  /** Another node asks to link its process `remote` to our `local`. */
  link(local: Pid, remote: Pid): void;
  unlink(local: Pid, remote: Pid): void;
  /** `from`, of another node, exited while linked to our `to`. */
  linkExit(from: Pid, to: Pid, reason: ExitReason): void;
  /** An exit signal sent by `from` of another node, as `exit/2`. */
  exit(from: Pid, to: Pid | string, reason: ExitReason): void;
  /** The other side reports the exit of a process this node monitors. */
  down(ref: Ref, pid: Pid, reason: ExitReason): void;
  /**
   * `node` is gone (its host died): every monitor on its processes fires and every link to
   * them breaks with `reason`, which says how it died.
   */
  nodeDown(node: string, reason: ExitReason): void;
  /** Uninstalls the router: its nodes' pids are dead from now on; other routers go on. */
  detach(): void;
}
