import {
  CallExitError,
  CallTimeoutError,
  type ExitReason,
  type InboundEndpoint,
  NoProcError,
  Pid,
  Ref,
  type RemoteRoute,
  type Runtime,
} from "../runtime/index.js";
import { NodeDownError } from "./route-errors.js";
import { type FrameKind, type FrameOf, outcomeReply } from "./route-frames.js";
import { packOutcome, packReason, packTerm, unpackTerm } from "./route-wire.js";

/** What a peer needs of its router: the way out to one node over NATS. */
export interface RouteWire {
  /** One-way; throws UnsendableMessageError when the frame is over the server's max_payload. */
  publish(to: string, kind: FrameKind, frame: object): void;
  /** Request/reply: the reply's JSON; rejects with the NATS client's errors (timeout, no responders). */
  request(to: string, kind: FrameKind, frame: object, timeoutMs: number): Promise<unknown>;
  /** How long a link or monitor request waits for its acknowledgement. */
  readonly ackTimeoutMs: number;
  /** Nobody serves `peer`'s subjects: the router may forget a peer that holds nothing. */
  unreachable(peer: RoutePeer): void;
}

interface PendingCall {
  readonly target: string;
  readonly reject: (error: unknown) => void;
}

/** Node's timers take at most this (about 24.8 days); a longer wait is as good as forever. */
const LONGEST_TIMER_MS = 2 ** 31 - 1;

/**
 * The route to one other cluster node, and what this node keeps for it: the calls waiting on
 * it, and the monitors it holds on our processes. Its operations mirror the hosts' Peer, over
 * NATS subjects instead of a worker's channel; `receive` plays that node's frames into ours.
 */
export class RoutePeer implements RemoteRoute {
  private nextCallId = 1;
  private readonly calls = new Map<number, PendingCall>();
  /** Monitors the other node holds on our processes: their ref text → our watch. */
  private readonly watchedForThem = new Map<string, Ref>();
  private closedWith: ExitReason | undefined;

  constructor(
    private readonly runtime: Runtime,
    private readonly inbound: InboundEndpoint,
    readonly node: string,
    private readonly wire: RouteWire,
  ) {}

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /** Whether this side holds nothing for the node: no call waits on it, it watches nothing here. */
  get idle(): boolean {
    return this.calls.size === 0 && this.watchedForThem.size === 0;
  }

  // ---- outgoing (RemoteRoute) ------------------------------------------------------------

  call(from: Pid | undefined, to: Pid | string, message: unknown, timeoutMs: number): Promise<unknown> {
    const target = String(to);
    if (this.closedWith !== undefined) return Promise.reject(new CallExitError(target, this.closedWith));
    let packed: unknown;
    try {
      packed = packTerm(message);
    } catch (error) {
      return Promise.reject(error);
    }
    const id = this.nextCallId++;
    const frame: FrameOf<"call"> = {
      n: "",
      to: target,
      name: typeof to === "string",
      message: packed,
      timeoutMs: timeoutMs === Number.POSITIVE_INFINITY ? null : timeoutMs,
      ...(from ? { from: from.toString() } : {}),
    };
    return new Promise((resolve, reject) => {
      let request: Promise<unknown>;
      try {
        // NATS times a request out itself; 0 would mean its default, so the least is 1 ms.
        request = this.wire.request(
          this.node,
          "call",
          frame,
          Math.max(1, Math.min(timeoutMs, LONGEST_TIMER_MS)),
        );
      } catch (error) {
        reject(error);
        return;
      }
      this.calls.set(id, { target, reject });
      request.then(
        (reply) => {
          if (!this.calls.delete(id)) return; // the node went down first: already failed
          const outcome = outcomeReply.safeParse(reply);
          if (!outcome.success) reject(new CallExitError(target, `malformed reply from ${this.node}`));
          else if (outcome.data.ok) resolve(unpackTerm(outcome.data.value));
          else reject(unpackTerm(outcome.data.error));
        },
        (error: unknown) => {
          if (!this.calls.delete(id)) return;
          if (isTimeout(error)) reject(new CallTimeoutError(target, timeoutMs));
          else reject(new CallExitError(target, this.unreachable(error)));
        },
      );
    });
  }

  cast(to: Pid | string, message: unknown): void {
    if (this.closedWith !== undefined) return;
    const frame: FrameOf<"cast"> = {
      n: "",
      to: String(to),
      name: typeof to === "string",
      message: packTerm(message),
    };
    this.wire.publish(this.node, "cast", frame);
  }

  send(from: Pid, to: Pid | string, message: unknown): void {
    if (this.closedWith !== undefined) return;
    const frame: FrameOf<"send"> = {
      n: "",
      from: from.toString(),
      to: String(to),
      name: typeof to === "string",
      message: packTerm(message),
    };
    this.wire.publish(this.node, "send", frame);
  }

  exit(from: Pid, to: Pid | string, reason: ExitReason): void {
    if (this.closedWith !== undefined) return;
    const frame: FrameOf<"exit"> = {
      n: "",
      from: from.toString(),
      to: String(to),
      name: typeof to === "string",
      reason: packReason(reason),
    };
    this.publishQuietly("exit", frame);
  }

  link(local: Pid, remote: Pid): void {
    const frame: FrameOf<"link"> = { n: "", from: local.toString(), to: remote.toString() };
    this.acknowledged("link", frame, (reason) => this.inbound.linkExit(remote, local, reason));
  }

  unlink(local: Pid, remote: Pid): void {
    this.publishQuietly("unlink", { n: "", from: local.toString(), to: remote.toString() });
  }

  linkExit(from: Pid, to: Pid, reason: ExitReason): void {
    this.publishQuietly("link_exit", {
      n: "",
      from: from.toString(),
      to: to.toString(),
      reason: packReason(reason),
    });
  }

  monitor(ref: Ref, target: Pid | string): void {
    const frame: FrameOf<"monitor"> = {
      n: "",
      ref: ref.toString(),
      to: String(target),
      name: typeof target === "string",
    };
    const pid = target instanceof Pid ? target : this.runtime.external;
    this.acknowledged("monitor", frame, (reason) => this.inbound.down(ref, pid, reason));
  }

  demonitor(ref: Ref): void {
    this.publishQuietly("demonitor", { n: "", ref: ref.toString() });
  }

  // ---- incoming --------------------------------------------------------------------------

  /** Plays one frame of this node into our runtime; for a request, resolves with its answer. */
  receive(kind: FrameKind, frame: FrameOf<FrameKind>): undefined | Promise<unknown> {
    const runtime = this.runtime;
    switch (kind) {
      case "call":
        return this.answerCall(frame as FrameOf<"call">);
      case "cast": {
        const f = frame as FrameOf<"cast">;
        const to = this.resolve(f);
        if (to) runtime.cast(to, unpackTerm(f.message) as never);
        return;
      }
      case "send": {
        const f = frame as FrameOf<"send">;
        // As a send from afar in OTP: to an unknown name, it is lost, not an error here.
        const to = this.resolve(f);
        if (to) runtime.send(to, unpackTerm(f.message));
        return;
      }
      case "exit": {
        const f = frame as FrameOf<"exit">;
        const to = this.resolve(f);
        if (to) this.inbound.exit(Pid.parse(f.from), to, unpackTerm(f.reason) as ExitReason);
        return;
      }
      case "link": {
        const f = frame as FrameOf<"link">;
        this.inbound.link(Pid.parse(f.to), Pid.parse(f.from));
        return Promise.resolve({});
      }
      case "unlink": {
        const f = frame as FrameOf<"unlink">;
        this.inbound.unlink(Pid.parse(f.to), Pid.parse(f.from));
        return;
      }
      case "link_exit": {
        const f = frame as FrameOf<"link_exit">;
        this.inbound.linkExit(Pid.parse(f.from), Pid.parse(f.to), unpackTerm(f.reason) as ExitReason);
        return;
      }
      case "monitor": {
        const f = frame as FrameOf<"monitor">;
        Ref.parse(f.ref);
        this.watchForThem(f.ref, this.resolve(f));
        return Promise.resolve({});
      }
      case "demonitor": {
        const f = frame as FrameOf<"demonitor">;
        const ours = this.watchedForThem.get(f.ref);
        this.watchedForThem.delete(f.ref);
        if (ours) runtime.demonitor(ours);
        return;
      }
      case "down": {
        const f = frame as FrameOf<"down">;
        this.inbound.down(Ref.parse(f.ref), Pid.parse(f.pid), unpackTerm(f.reason) as ExitReason);
        return;
      }
      default:
        return;
    }
  }

  /**
   * The node is gone: calls waiting on it fail with `reason`, and the monitors it held on our
   * processes are dropped. Our links and monitors on its processes are the runtime's to fire
   * (the endpoint's `nodeDown`, which the router calls).
   */
  close(reason: ExitReason): void {
    if (this.closedWith !== undefined) return;
    this.closedWith = reason;
    for (const [id, pending] of this.calls) {
      this.calls.delete(id);
      pending.reject(new CallExitError(pending.target, reason));
    }
    for (const ours of this.watchedForThem.values()) this.runtime.demonitor(ours);
    this.watchedForThem.clear();
  }

  private answerCall(frame: FrameOf<"call">): Promise<unknown> {
    let message: unknown;
    let to: Pid | undefined;
    try {
      message = unpackTerm(frame.message);
      to = this.resolve(frame);
    } catch (error) {
      return Promise.resolve(packOutcome(false, error));
    }
    if (!to) return Promise.resolve(packOutcome(false, new NoProcError(frame.to)));
    const timeoutMs = frame.timeoutMs ?? Number.POSITIVE_INFINITY;
    return this.runtime.call(to, message as never, timeoutMs).then(
      (value) => packOutcome(true, value),
      (error) => packOutcome(false, error),
    );
  }

  /** `pid` undefined: a name not registered here, which is reported `noproc` at once. */
  private watchForThem(theirRef: string, pid: Pid | undefined): void {
    const down = (reason: ExitReason) =>
      this.publishQuietly("down", {
        n: "",
        ref: theirRef,
        pid: (pid ?? this.runtime.external).toString(),
        reason: packReason(reason),
      });
    if (!pid) {
      queueMicrotask(() => down("noproc"));
      return;
    }
    const ours = this.runtime.watch(pid, (reason) => {
      if (this.watchedForThem.delete(theirRef) && this.closedWith === undefined) down(reason);
    });
    // A watch of a process already gone fires on the next microtask, after this line.
    this.watchedForThem.set(theirRef, ours);
  }

  /**
   * The process a frame is for. A name is looked up in this node's registry only (its hosts'
   * keys included), as Erlang's `{Name, Node}`: never passed on to a names route, so two nodes
   * that send each other the names they lack cannot bounce one between them.
   */
  private resolve(frame: { to: string; name: boolean }): Pid | undefined {
    return frame.name ? this.runtime.whereis(frame.to) : Pid.parse(frame.to);
  }

  /**
   * A link or monitor asks for an acknowledgement, so that one of a node nobody serves breaks
   * at once (NATS answers "no responders") instead of never: `broken` gets the reason.
   */
  private acknowledged(kind: "link" | "monitor", frame: object, broken: (reason: ExitReason) => void): void {
    if (this.closedWith !== undefined) {
      const reason = this.closedWith;
      queueMicrotask(() => broken(reason));
      return;
    }
    let request: Promise<unknown>;
    try {
      request = this.wire.request(this.node, kind, frame, this.wire.ackTimeoutMs);
    } catch (error) {
      const reason = this.unreachable(error);
      queueMicrotask(() => broken(reason));
      return;
    }
    request.then(
      (reply) => {
        // The other node holds this one for gone, and refuses it.
        const refused = (reply as { refused?: unknown } | null)?.refused;
        if (refused !== undefined && this.closedWith === undefined) broken(unpackTerm(refused) as ExitReason);
      },
      (error: unknown) => {
        // A slow node is not a dead one: only membership (nodeDown) may say that.
        if (isTimeout(error) || this.closedWith !== undefined) return;
        broken(this.unreachable(error));
      },
    );
  }

  /** Signals and notifications are small; one that cannot go is lost, as a send to a gone node. */
  private publishQuietly(kind: FrameKind, frame: object): void {
    if (this.closedWith !== undefined) return;
    try {
      this.wire.publish(this.node, kind, frame);
    } catch (error) {
      this.runtime.logger.warn(
        { event: "cluster_publish_failed", node: this.node, kind, error },
        "could not publish",
      );
    }
  }

  private unreachable(error: unknown): NodeDownError {
    if (isNoResponders(error)) {
      this.wire.unreachable(this);
      return new NodeDownError(this.node, "unreachable", "no responders on its subjects");
    }
    const message = error instanceof Error ? error.message : String(error);
    return new NodeDownError(this.node, "disconnected", message);
  }
}

/** The NATS client's errors, told apart by name so that this module does not load the client. */
function isTimeout(error: unknown): boolean {
  return (
    errorNamed(error, "TimeoutError") || errorNamed((error as { cause?: unknown })?.cause, "TimeoutError")
  );
}

function isNoResponders(error: unknown): boolean {
  const e = error as { isNoResponders?: () => boolean; cause?: unknown } | undefined;
  if (typeof e?.isNoResponders === "function" && e.isNoResponders()) return true;
  return errorNamed(e?.cause, "NoResponders") || errorNamed(e, "NoResponders");
}

function errorNamed(error: unknown, name: string): boolean {
  return error instanceof Error && error.name === name;
}
