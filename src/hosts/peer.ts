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
  type TimerHandle,
} from "../runtime/index.js";
import type { Frame } from "./frames.js";
import { decodeTerm, encodeOutcome, encodeReason, encodeTerm } from "./term-codec.js";

interface PendingRemoteCall {
  readonly target: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly timer: TimerHandle | undefined;
}

/** Frames that are not process traffic: the peer hands them to its owner. */
export type ControlFrame = Exclude<
  Frame,
  {
    t:
      | "call"
      | "reply"
      | "cast"
      | "send"
      | "exit"
      | "link"
      | "unlink"
      | "link_exit"
      | "monitor"
      | "demonitor"
      | "down";
  }
>;

/**
 * One side of the connection between two runtimes (a parent and one of its hosts). As a
 * RemoteRoute it carries this runtime's operations on the other node's processes out as
 * frames; `receive` plays the other side's frames into this runtime. The same class runs on
 * both sides, so the semantics cannot drift apart.
 */
export class Peer implements RemoteRoute {
  private nextCallId = 1;
  private readonly calls = new Map<number, PendingRemoteCall>();
  /** Monitors the other side holds on our processes: their ref text → our watch. */
  private readonly watchedForThem = new Map<string, Ref>();
  private closedWith: ExitReason | undefined;

  constructor(
    private readonly runtime: Runtime,
    private readonly inbound: InboundEndpoint,
    readonly node: string,
    private readonly post: (frame: Frame) => void,
    private readonly onControl: (frame: ControlFrame) => undefined | Promise<unknown>,
  ) {}

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  // ---- outgoing (RemoteRoute) ------------------------------------------------------------

  call(from: Pid | undefined, to: Pid | string, message: unknown, timeoutMs: number): Promise<unknown> {
    if (this.closedWith !== undefined) return Promise.reject(new CallExitError(String(to), this.closedWith));
    let encoded: unknown;
    try {
      encoded = encodeTerm(message);
    } catch (error) {
      return Promise.reject(error);
    }
    const id = this.nextCallId++;
    const target = String(to);
    return new Promise((resolve, reject) => {
      const timer =
        timeoutMs === Number.POSITIVE_INFINITY
          ? undefined
          : this.runtime.clock.setTimeout(() => {
              if (this.calls.delete(id)) reject(new CallTimeoutError(target, timeoutMs));
            }, timeoutMs);
      this.calls.set(id, { target, resolve, reject, timer });
      this.post({
        t: "call",
        id,
        from: from?.toString(),
        to: target,
        name: typeof to === "string",
        message: encoded,
        timeoutMs,
      });
    });
  }

  cast(to: Pid | string, message: unknown): void {
    this.post({ t: "cast", to: String(to), name: typeof to === "string", message: encodeTerm(message) });
  }

  send(from: Pid, to: Pid | string, message: unknown): void {
    this.post({
      t: "send",
      from: from.toString(),
      to: String(to),
      name: typeof to === "string",
      message: encodeTerm(message),
    });
  }

  exit(from: Pid, to: Pid | string, reason: ExitReason): void {
    this.post({
      t: "exit",
      from: from.toString(),
      to: String(to),
      name: typeof to === "string",
      reason: encodeReason(reason),
    });
  }

  link(local: Pid, remote: Pid): void {
    this.post({ t: "link", from: local.toString(), to: remote.toString() });
  }

  unlink(local: Pid, remote: Pid): void {
    this.post({ t: "unlink", from: local.toString(), to: remote.toString() });
  }

  linkExit(from: Pid, to: Pid, reason: ExitReason): void {
    this.post({ t: "link_exit", from: from.toString(), to: to.toString(), reason: encodeReason(reason) });
  }

  monitor(ref: Ref, target: Pid | string): void {
    this.post({ t: "monitor", ref: ref.toString(), to: String(target), name: typeof target === "string" });
  }

  demonitor(ref: Ref): void {
    this.post({ t: "demonitor", ref: ref.toString() });
  }

  // ---- incoming --------------------------------------------------------------------------

  /**
   * Plays one frame into this runtime. For a call, resolves once it is answered; a control
   * frame returns what its owner's handler returns.
   */
  receive(frame: Frame): undefined | Promise<unknown> {
    const runtime = this.runtime;
    switch (frame.t) {
      case "call":
        return this.answerCall(frame);
      case "reply": {
        const pending = this.calls.get(frame.id);
        if (!pending) return; // it timed out already
        this.calls.delete(frame.id);
        if (pending.timer) runtime.clock.clearTimeout(pending.timer);
        if (frame.ok) pending.resolve(decodeTerm(frame.value));
        else pending.reject(decodeTerm(frame.error));
        return;
      }
      case "cast":
        runtime.cast(target(frame), decodeTerm(frame.message) as never);
        return;
      case "send":
        try {
          runtime.send(target(frame), decodeTerm(frame.message));
        } catch (error) {
          if (!(error instanceof NoProcError)) throw error;
        }
        return;
      case "exit":
        this.inbound.exit(Pid.parse(frame.from), target(frame), decodeTerm(frame.reason) as ExitReason);
        return;
      case "link":
        this.inbound.link(Pid.parse(frame.to), Pid.parse(frame.from));
        return;
      case "unlink":
        this.inbound.unlink(Pid.parse(frame.to), Pid.parse(frame.from));
        return;
      case "link_exit":
        this.inbound.linkExit(
          Pid.parse(frame.from),
          Pid.parse(frame.to),
          decodeTerm(frame.reason) as ExitReason,
        );
        return;
      case "monitor":
        this.watchForThem(frame.ref, target(frame));
        return;
      case "demonitor": {
        const ours = this.watchedForThem.get(frame.ref);
        this.watchedForThem.delete(frame.ref);
        if (ours) runtime.demonitor(ours);
        return;
      }
      case "down":
        this.inbound.down(Ref.parse(frame.ref), Pid.parse(frame.pid), decodeTerm(frame.reason) as ExitReason);
        return;
      default:
        return this.onControl(frame);
    }
  }

  /**
   * The other node is gone: calls waiting on it fail with `reason`, and the watches this side
   * kept for it are dropped. Links and monitors are the runtime's to fire (the endpoint's `nodeDown`).
   */
  close(reason: ExitReason): void {
    if (this.closedWith !== undefined) return;
    this.closedWith = reason;
    for (const [id, pending] of this.calls) {
      this.calls.delete(id);
      if (pending.timer) this.runtime.clock.clearTimeout(pending.timer);
      pending.reject(new CallExitError(pending.target, reason));
    }
    for (const ours of this.watchedForThem.values()) this.runtime.demonitor(ours);
    this.watchedForThem.clear();
  }

  private answerCall(frame: Extract<Frame, { t: "call" }>): Promise<void> {
    const respond = (ok: boolean, value: unknown) => {
      if (this.closedWith === undefined) this.post({ t: "reply", id: frame.id, ...encodeOutcome(ok, value) });
    };
    return this.runtime.call(target(frame), decodeTerm(frame.message) as never, frame.timeoutMs).then(
      (value) => respond(true, value),
      (error) => respond(false, error),
    );
  }

  private watchForThem(theirRef: string, watched: Pid | string): void {
    const pid = typeof watched === "string" ? this.runtime.whereis(watched) : watched;
    const ours = this.runtime.watch(pid ?? watched, (reason) => {
      if (!this.watchedForThem.delete(theirRef) || this.closedWith !== undefined) return;
      this.post({
        t: "down",
        ref: theirRef,
        pid: (pid ?? this.runtime.external).toString(),
        reason: encodeReason(reason),
      });
    });
    this.watchedForThem.set(theirRef, ours);
  }
}

function target(frame: { to: string; name: boolean }): Pid | string {
  return frame.name ? frame.to : Pid.parse(frame.to);
}
