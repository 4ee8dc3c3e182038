import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import { UnsendableMessageError } from "../hosts/index.js";
import {
  CallExitError,
  type ExitReason,
  type InboundEndpoint,
  InvalidArgumentError,
  Pid,
  type RemoteRoute,
  type RemoteRouter,
  type Runtime,
} from "../runtime/index.js";
import { NodeDownError } from "./route-errors.js";
import {
  checkPrefix,
  decodeJson,
  encodeFrame,
  FRAME_SCHEMAS,
  type FrameKind,
  type FrameOf,
  isFrameKind,
  namesSubject,
  nodeSubject,
  whereisReply,
} from "./route-frames.js";
import { RoutePeer, type RouteWire } from "./route-peer.js";
import { packOutcome, packReason } from "./route-wire.js";

export interface NatsRouterOptions {
  /** The subject prefix every node of the cluster uses (default `"sessionvisor"`). */
  prefix?: string;
  /** How long a link or monitor of another node's process waits for that node's acknowledgement, in ms (default 5000). */
  ackTimeoutMs?: number;
  /** How long a cluster-wide `whereis` waits for the other nodes' answers, in ms (default 1000). */
  lookupTimeoutMs?: number;
  /**
   * A node that names not registered here are sent to, as a host sends them to its parent
   * (`call("key")` then reaches that node's registry). Default: none; names stay local.
   */
  namesNode?: string;
}

const NODE = /^[A-Za-z0-9_-]{1,64}$/;
/** A host's node is its runtime's name, cut to 48 characters, then `-h<n>` (see Hosts). */
const HOST_NODE = /^(.+)-h\d+$/;
const HOST_PREFIX_MAX = 48;

/**
 * Runtime operations across cluster nodes over NATS: installed on a runtime as a RemoteRouter
 * (beside the hosts' one), it carries calls, casts, sends, exit signals, links and monitors on
 * other nodes' pids to those nodes, and plays theirs into this runtime. Node `X` listens on
 * `<prefix>.node.X.>`; a call is a NATS request answered with the callee's outcome.
 *
 * It is no failure detector: a node is gone when `nodeDown` says so (membership calls it), or,
 * for one operation, when NATS answers that nobody listens on that node's subjects. Then calls
 * waiting on it fail, and monitors and links on its processes fire, with a NodeDownError.
 */
export class NatsRouter implements RemoteRouter {
  readonly node: string;
  readonly prefix: string;
  private readonly ackTimeoutMs: number;
  private readonly lookupTimeoutMs: number;
  private readonly namesNode: string | undefined;
  private readonly peers = new Map<string, RoutePeer>();
  /** Nodes held for gone, with why, until `nodeUp`. */
  private readonly down = new Map<string, ExitReason>();
  /** The host nodes of each peer this router has routed to, so that they go down with it. */
  private readonly hostNodes = new Map<string, Set<string>>();
  private readonly inbound: InboundEndpoint;
  private readonly wire: RouteWire;
  private readonly subscriptions: Subscription[] = [];
  private closed = false;

  private constructor(
    private readonly runtime: Runtime,
    /** The NATS connection the router was started on (the caller's; the router never closes it). */
    readonly connection: NatsConnection,
    options: NatsRouterOptions,
  ) {
    this.node = runtime.node;
    this.prefix = checkPrefix(options.prefix ?? "sessionvisor");
    this.ackTimeoutMs = checkMs(options.ackTimeoutMs ?? 5000, "ackTimeoutMs");
    this.lookupTimeoutMs = checkMs(options.lookupTimeoutMs ?? 1000, "lookupTimeoutMs");
    this.namesNode = options.namesNode === undefined ? undefined : checkNode(options.namesNode, "namesNode");
    this.wire = {
      ackTimeoutMs: this.ackTimeoutMs,
      // A node tried and never served (a typo, a node not started) is not kept as a peer.
      unreachable: (peer) => {
        if (peer.idle && this.peers.get(peer.node) === peer) this.peers.delete(peer.node);
      },
      publish: (to, kind, frame) => {
        const data = this.frameBytes(frame, "message");
        try {
          this.connection.publish(nodeSubject(this.prefix, to, kind), data);
        } catch (error) {
          // Our connection is closed or draining: as a send to a node that is gone, it is lost.
          this.runtime.logger.warn(
            { event: "cluster_publish_failed", node: to, kind, error },
            "could not publish",
          );
        }
      },
      request: (to, kind, frame, timeoutMs) =>
        this.connection
          .request(nodeSubject(this.prefix, to, kind), this.frameBytes(frame, "message"), {
            timeout: timeoutMs,
          })
          .then((msg) => decodeJson(msg.data)),
    };
    this.inbound = runtime.useRouter(this);
  }

  /**
   * Installs a router for `runtime` (whose node name is this node's name in the cluster) on a
   * connected NATS client, which the caller keeps and closes after `close()`. Resolves once the
   * server has the node's subscriptions, so that other nodes can reach it from then on.
   */
  static async start(
    runtime: Runtime,
    nc: NatsConnection,
    options: NatsRouterOptions = {},
  ): Promise<NatsRouter> {
    if (!nc || typeof nc.subscribe !== "function" || typeof nc.request !== "function") {
      throw new InvalidArgumentError(
        "nc",
        "must be a connected NatsConnection (from @nats-io/transport-node's connect)",
      );
    }
    if (nc.isClosed()) throw new InvalidArgumentError("nc", "the NATS connection is closed");
    const router = new NatsRouter(runtime, nc, options);
    try {
      router.listen();
      await nc.flush();
    } catch (error) {
      await router.close();
      throw error;
    }
    return router;
  }

  // ---- RemoteRouter ----------------------------------------------------------------------

  route(node: string): RemoteRoute | undefined {
    if (this.closed || node === this.node) return undefined;
    const known = this.peers.get(node);
    if (known) return known;
    if (this.down.has(node)) return undefined;
    const owner = this.hostOwner(node);
    if (owner === undefined) return this.peer(node);
    // A pid of one of our own hosts the hosts' router no longer claims: that host is gone.
    if (owner === this.node) return undefined;
    const peer = this.peers.get(owner);
    if (!peer) return undefined;
    let hosts = this.hostNodes.get(owner);
    if (!hosts) {
      hosts = new Set();
      this.hostNodes.set(owner, hosts);
    }
    hosts.add(node);
    return peer;
  }

  get namesRoute(): RemoteRoute | undefined {
    return this.namesNode === undefined ? undefined : this.route(this.namesNode);
  }

  // ---- membership ------------------------------------------------------------------------

  /** `node` is (again) a member: its pids are routed from now on. */
  nodeUp(node: string): void {
    checkNode(node, "node");
    this.down.delete(node);
  }

  /**
   * `node` is gone (membership saw its key expire, or it left): calls waiting on it fail with
   * `reason`, every monitor on its processes (and its hosts') fires and every link to them
   * breaks with it, and its pids are dead until `nodeUp`. The default reason is a NodeDownError
   * `member_down`.
   */
  nodeDown(node: string, reason?: ExitReason): void {
    checkNode(node, "node");
    if (node === this.node) throw new InvalidArgumentError("node", `${node} is this router's own node`);
    const why = reason ?? new NodeDownError(node, "member_down");
    this.down.set(node, why);
    this.forget(node, why);
  }

  /** Where this node listens: `<prefix>.node.<node>` (what membership publishes as its subject prefix). */
  get subjectPrefix(): string {
    return `${this.prefix}.node.${this.node}`;
  }

  /** Whether `node` is held for gone (until `nodeUp`). */
  isDown(node: string): boolean {
    return this.down.has(node);
  }

  /** The nodes this router has reached or heard from, and not held for gone. */
  get connectedNodes(): string[] {
    return [...this.peers.keys()];
  }

  // ---- names across nodes ----------------------------------------------------------------

  /**
   * The pid registered under `name` on `node`, or, without `node`, here or on any node that
   * answers within `lookupTimeoutMs` (the first that has it). Undefined if none has it.
   */
  async whereis(name: string, node?: string): Promise<Pid | undefined> {
    if (typeof name !== "string" || name.length === 0 || name.length > 1000) {
      throw new InvalidArgumentError("name", "must be a string of 1-1000 characters");
    }
    if (node !== undefined) checkNode(node, "node");
    if (node === this.node || node === undefined) {
      const here = this.localWhereis(name);
      if (here || node === this.node) return here;
    }
    if (this.closed) return undefined;
    const frame = encodeFrame({ n: this.node, name });
    if (node !== undefined) {
      if (this.down.has(node)) return undefined;
      try {
        const msg = await this.connection.request(nodeSubject(this.prefix, node, "whereis"), frame, {
          timeout: this.lookupTimeoutMs,
        });
        return this.pidOf(msg);
      } catch {
        return undefined; // nobody serves that node, or it did not answer in time
      }
    }
    // Every node answers, with the pid or null; once each node known here has, the rest is
    // silence, so a miss costs one round trip in a cluster this node has talked to.
    const expected = new Set(this.peers.keys());
    try {
      const replies = await this.connection.requestMany(namesSubject(this.prefix), frame, {
        strategy: "timer",
        maxWait: this.lookupTimeoutMs,
      });
      for await (const msg of replies) {
        const reply = this.lookupReply(msg);
        if (reply?.pid) return reply.pid;
        if (reply) expected.delete(reply.node);
        if (expected.size === 0 && this.peers.size > 0) return undefined;
      }
    } catch {
      // Our connection is closed: no other node can be asked.
    }
    return undefined;
  }

  // ---- closing ---------------------------------------------------------------------------

  /**
   * Stops routing: the subscriptions end, calls waiting on other nodes fail and monitors and
   * links on their processes fire with a NodeDownError `router_closed`, and the router is
   * uninstalled from the runtime. The NATS connection stays open (it is the caller's).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const sub of this.subscriptions.splice(0)) sub.unsubscribe();
    for (const node of [...this.peers.keys()]) this.forget(node, new NodeDownError(node, "router_closed"));
    this.inbound.detach();
  }

  // ---- internals -------------------------------------------------------------------------

  private listen(): void {
    const onMessage = (error: Error | null, msg: Msg) => {
      if (error) {
        this.runtime.logger.warn(
          { event: "cluster_subscription_error", error },
          "cluster subscription failed",
        );
        return;
      }
      this.onMessage(msg);
    };
    this.subscriptions.push(
      this.connection.subscribe(nodeSubject(this.prefix, this.node, ">"), { callback: onMessage }),
      this.connection.subscribe(namesSubject(this.prefix), { callback: onMessage }),
    );
    // Once the connection is gone for good, no other node can be reached, nor reach us.
    void this.connection.closed().then(() => {
      if (this.closed) return;
      for (const node of [...this.peers.keys()])
        this.forget(node, new NodeDownError(node, "disconnected", "this node's NATS connection closed"));
    });
  }

  private onMessage(msg: Msg): void {
    const kind = msg.subject.slice(msg.subject.lastIndexOf(".") + 1);
    let frame: FrameOf<FrameKind>;
    try {
      if (!isFrameKind(kind)) throw new InvalidArgumentError("subject", `unknown kind ${kind}`);
      frame = FRAME_SCHEMAS[kind].parse(decodeJson(msg.data)) as FrameOf<FrameKind>;
    } catch (error) {
      this.runtime.logger.warn(
        { event: "cluster_bad_frame", subject: msg.subject, error },
        "dropped a malformed frame",
      );
      // A request gets the reason rather than silence until its timeout.
      if (msg.reply) {
        const detail = error instanceof Error ? error.message : String(error);
        const why = new InvalidArgumentError("frame", `malformed ${kind} frame: ${detail.slice(0, 500)}`);
        this.respond(
          msg,
          kind === "link" || kind === "monitor" ? { refused: packReason(why) } : packOutcome(false, why),
        );
      }
      return;
    }
    const from = frame.n;
    if (from === this.node) return; // our own cluster-wide lookup
    if (kind === "whereis") {
      const pid = this.localWhereis((frame as FrameOf<"whereis">).name);
      this.respond(msg, { n: this.node, pid: pid ? pid.toString() : null });
      return;
    }
    if (this.down.has(from) || this.closed) {
      // A node held for gone is refused until membership sees it again: its links and monitors
      // here have already fired, and a late frame must not act as if they had not.
      const refused = new NodeDownError(this.node, "refused", `${this.node} holds ${from} for down`);
      if (kind === "call") {
        const to = (frame as FrameOf<"call">).to;
        this.respond(msg, packOutcome(false, new CallExitError(to, refused)));
      } else if (msg.reply) this.respond(msg, { refused: packReason(refused) });
      return;
    }
    const peer = this.peer(from);
    let answer: undefined | Promise<unknown>;
    try {
      answer = peer.receive(kind, frame);
    } catch (error) {
      this.runtime.logger.warn(
        { event: "cluster_frame_failed", subject: msg.subject, error },
        "could not play a frame",
      );
      if (msg.reply)
        this.respond(msg, kind === "call" ? packOutcome(false, error) : { refused: packReason(error) });
      return;
    }
    if (answer && msg.reply) void answer.then((value) => this.respond(msg, value));
  }

  private respond(msg: Msg, value: unknown): void {
    if (!msg.reply) return;
    let data: Uint8Array;
    try {
      data = this.frameBytes(value, "reply");
    } catch (error) {
      data = encodeFrame(packOutcome(false, error));
    }
    try {
      msg.respond(data);
    } catch (error) {
      this.runtime.logger.warn(
        { event: "cluster_reply_failed", subject: msg.subject, error },
        "could not reply",
      );
    }
  }

  /** The frame as bytes, stamped with this node; one over the server's max_payload is refused. */
  private frameBytes(frame: unknown, what: string): Uint8Array {
    const stamped =
      frame !== null && typeof frame === "object" && "n" in frame ? { ...frame, n: this.node } : frame;
    const data = encodeFrame(stamped);
    const max = this.connection.info?.max_payload ?? 1024 * 1024;
    if (data.length > max) {
      throw new UnsendableMessageError(
        what,
        `is ${data.length} bytes as a NATS message, over the server's max_payload of ${max}`,
      );
    }
    return data;
  }

  private peer(node: string): RoutePeer {
    let peer = this.peers.get(node);
    if (!peer) {
      peer = new RoutePeer(this.runtime, this.inbound, node, this.wire);
      this.peers.set(node, peer);
    }
    return peer;
  }

  /** Fails what waits on `node` and fires what watches its processes and its hosts'. */
  private forget(node: string, reason: ExitReason): void {
    const peer = this.peers.get(node);
    this.peers.delete(node);
    peer?.close(reason);
    const hosts = this.hostNodes.get(node);
    this.hostNodes.delete(node);
    this.inbound.nodeDown(node, reason);
    for (const host of hosts ?? []) this.inbound.nodeDown(host, reason);
  }

  /** The cluster node whose host `node` is, if it reads as a host's node of a known one. */
  private hostOwner(node: string): string | undefined {
    const match = HOST_NODE.exec(node);
    if (!match) return undefined;
    const base = match[1] as string;
    const owns = (candidate: string) =>
      candidate === base ||
      (candidate.length > HOST_PREFIX_MAX && candidate.slice(0, HOST_PREFIX_MAX) === base);
    if (owns(this.node)) return this.node;
    for (const candidate of this.peers.keys()) if (owns(candidate)) return candidate;
    for (const candidate of this.down.keys()) if (owns(candidate)) return candidate;
    return undefined;
  }

  /** A name of this node's registry (its hosts' keys included); never one a names route forwards. */
  private localWhereis(name: string): Pid | undefined {
    return this.runtime.whereis(name);
  }

  private pidOf(msg: Msg): Pid | undefined {
    return this.lookupReply(msg)?.pid;
  }

  private lookupReply(msg: Msg): { node: string; pid: Pid | undefined } | undefined {
    const reply = whereisReply.safeParse(decodeJson(msg.data));
    if (!reply.success) return undefined;
    try {
      return { node: reply.data.n, pid: reply.data.pid === null ? undefined : Pid.parse(reply.data.pid) };
    } catch {
      return undefined;
    }
  }
}

function checkNode(node: string, what: string): string {
  if (typeof node !== "string" || !NODE.test(node)) {
    throw new InvalidArgumentError(
      what,
      `must be a node name of 1-64 letters, digits, '_' or '-', got ${JSON.stringify(node)}`,
    );
  }
  return node;
}

function checkMs(ms: number, what: string): number {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 1) {
    throw new InvalidArgumentError(what, `must be a finite number of ms, at least 1, got ${String(ms)}`);
  }
  return ms;
}
