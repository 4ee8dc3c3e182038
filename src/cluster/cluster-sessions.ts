import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { InvalidArgumentError, type Pid } from "../runtime/index.js";
import {
  type ConversationTurn,
  type FileEntry,
  InvalidSessionIdError,
  isSessionId,
  type SessionConfigInput,
  type SessionDocument,
  type SessionEvent,
  type SessionEventListener,
  type SessionInfo,
  SessionNotFoundError,
  type TurnReply,
} from "../session/index.js";
import { newRequestId } from "../session/turn-call.js";
import { streamTurn, type TurnPart } from "../session/turn-stream.js";
import { ClusterUnavailableError } from "./errors.js";
import type { ClusterMember } from "./member-entry.js";
import { NoNodeAvailableError, SessionNotHereError } from "./node-errors.js";
import { activateSubject, eventsSubject, sessionsSubject } from "./node-service.js";
import { LoadPlacement, rendezvousOrder } from "./placement.js";
import { NodeDownError } from "./route-errors.js";
import { unpackTerm } from "./route-wire.js";
import type { SessionLeases } from "./session-leases.js";
import { decodeOutcome, encodeRequest, type NodeRequest } from "./session-wire.js";

export interface ClusterSessionsDeps {
  nc: NatsConnection;
  prefix: string;
  leases: Pick<SessionLeases, "owner" | "leaseTtlMs" | "pollMs">;
  /** The live members. */
  members: () => ClusterMember[];
  /** Requests other than turns wait this long for their answer (ms). */
  requestTimeoutMs: number;
  /** A turn's request waits its own timeout plus this (ms). */
  turnTimeoutMs: number;
  /** This node's id, in the request ids of its streams. */
  node?: string;
  /** Calls `listener` when membership reports `node` down; returns the unwatch. */
  watchDown?: (node: string, listener: (reason: string) => void) => () => void;
}

/** A session as listed cluster-wide: its info and the node that runs it. */
export type ClusterSessionInfo = SessionInfo & { readonly node: string };

/** A subscription to a session's events on NATS. */
export interface ClusterSubscription {
  unsubscribe(): void;
}

const decoder = new TextDecoder();

/** Requests that change nothing: asked again on the next owner when theirs went down. */
const READS = new Set<NodeRequest["op"]>(["history", "get", "supervisor", "events"]);

/**
 * The session API of the whole cluster, usable from any node: each request goes to the node
 * that owns the session (read from its lease). A session nobody owns — its node died, or
 * released it — is activated on a live node first (the `<prefix>.activate` queue group: one
 * node claims it, waiting out a dead owner's key, and adopts it from the store), and a request
 * that finds its owner gone (no responders, or not the owner any more) looks again and is
 * retried once.
 */
export class ClusterSessions {
  private readonly placement = new LoadPlacement();

  constructor(private readonly deps: ClusterSessionsDeps) {}

  /** Creates a session on the least loaded live node (which claims it, then creates it). */
  async createSession(config: SessionConfigInput = {}): Promise<ClusterSessionInfo> {
    return this.placed({ op: "create", config }, "create a session");
  }

  /**
   * Starts an exported session (SessionSystem.importSession's document) on the least loaded
   * live node, under its original id; refused (SessionExistsError) if the store holds that id.
   */
  async importSession(document: SessionDocument): Promise<ClusterSessionInfo> {
    return this.placed({ op: "import", document }, "import a session");
  }

  /** Brings back a terminated session (see SessionSystem.restoreSession) on the least loaded live node. */
  async restoreSession(id: string): Promise<ClusterSessionInfo> {
    checkId(id);
    return this.placed({ op: "restore", id }, "restore a session");
  }

  /** A request that starts a session, on the least loaded live node; the next one if that one died since its last heartbeat. */
  private async placed(request: NodeRequest, what: string): Promise<ClusterSessionInfo> {
    const tried = new Set<string>();
    for (;;) {
      const node = this.placement.choose(this.deps.members(), tried);
      if (node === undefined)
        throw new NoNodeAvailableError(
          `no live node to ${what} on (tried ${[...tried].join(", ") || "none"})`,
        );
      try {
        const info = (await this.ask(node, request, this.deps.requestTimeoutMs)) as SessionInfo;
        return { ...info, node };
      } catch (error) {
        if (!isNoResponders(error) || tried.size >= 2) throw error;
        tried.add(node);
      }
    }
  }

  /**
   * Sends a message to the session's owner and resolves with the turn's reply. `requestId`
   * names the message (its `turn_started` carries it; `cancelTurn` can name it). A turn is
   * never retried once its owner had it: if that node goes down meanwhile this fails with
   * NodeDownError, and the next owner marks the turn interrupted.
   */
  async sendMessage(
    id: string,
    text: string,
    options: { timeoutMs?: number; requestId?: string } = {},
  ): Promise<TurnReply> {
    const wait = (options.timeoutMs ?? this.deps.turnTimeoutMs) + this.deps.requestTimeoutMs;
    const request: NodeRequest = {
      op: "send",
      id,
      text,
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      ...(options.requestId === undefined ? {} : { requestId: options.requestId }),
    };
    return (await this.onOwner(id, request, wait)) as TurnReply;
  }

  /** Cancels the session's running turn, or with `requestId` that message's turn (see SessionSystem.cancelTurn). */
  async cancelTurn(id: string, reason?: string, options: { requestId?: string } = {}): Promise<boolean> {
    const request: NodeRequest = {
      op: "cancel",
      id,
      ...(reason === undefined ? {} : { reason }),
      ...(options.requestId === undefined ? {} : { requestId: options.requestId }),
    };
    return (await this.onOwner(id, request, this.deps.requestTimeoutMs)) as boolean;
  }

  /**
   * Sends a message and yields its turn as it happens on the owner's node, as
   * SessionSystem.stream does: `turn_started`, text deltas, tool calls and results, then `done`.
   * The parts come from the session's events subject; leaving the loop early (or `signal`)
   * cancels the turn on its node.
   */
  stream(
    id: string,
    text: string,
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): AsyncIterableIterator<TurnPart> {
    checkId(id);
    return streamTurn(
      {
        subscribe: async (listener) => {
          const subscription = await this.subscribe(id, listener);
          return {
            topic: eventsSubject(this.deps.prefix, id),
            unsubscribe: () => subscription.unsubscribe(),
          };
        },
        unsubscribe: (subscription) => subscription.unsubscribe(),
        send: (requestId, signal) => {
          const cancel = () => {
            this.cancelTurn(id, "its caller cancelled it", { requestId }).catch(() => undefined);
          };
          signal.addEventListener("abort", cancel, { once: true });
          const reply = this.sendMessage(id, text, {
            requestId,
            ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
          });
          return reply.finally(() => signal.removeEventListener("abort", cancel));
        },
      },
      `${this.deps.node ?? "cluster"}-${newRequestId()}`,
      options.signal,
    );
  }

  async getHistory(id: string): Promise<ConversationTurn[]> {
    return (await this.onOwner(id, { op: "history", id }, this.deps.requestTimeoutMs)) as ConversationTurn[];
  }

  /** The session's info and node, or undefined when the cluster has no such (live) session. */
  async getSession(id: string): Promise<ClusterSessionInfo | undefined> {
    try {
      const { node, value } = await this.onOwnerWithNode(id, { op: "get", id }, this.deps.requestTimeoutMs);
      return value === null ? undefined : { ...(value as SessionInfo), node };
    } catch (error) {
      if (error instanceof SessionNotFoundError) return undefined;
      throw error;
    }
  }

  async terminateSession(id: string): Promise<void> {
    await this.onOwner(id, { op: "terminate", id }, this.deps.requestTimeoutMs);
  }

  /**
   * The pid of the session's supervisor on its node: usable with the runtime's call, monitor
   * and link from any node (the NatsRouter carries them). Undefined while it restarts.
   */
  async findSupervisor(id: string): Promise<Pid | undefined> {
    return ((await this.onOwner(id, { op: "supervisor", id }, this.deps.requestTimeoutMs)) ?? undefined) as
      | Pid
      | undefined;
  }

  /** The live sessions of every live node (a node that does not answer in time is left out). */
  async listSessions(): Promise<ClusterSessionInfo[]> {
    return this.fromEveryNode({ op: "list" });
  }

  /**
   * The terminated sessions kept for restoring, as each live node knows them (those terminated
   * there, and those it found at its start), each once; `node` is the node that listed it.
   */
  async listTerminatedSessions(): Promise<ClusterSessionInfo[]> {
    const seen = new Set<string>();
    return (await this.fromEveryNode({ op: "list_terminated" })).filter(
      (info) => !seen.has(info.id) && seen.add(info.id),
    );
  }

  private async fromEveryNode(request: NodeRequest): Promise<ClusterSessionInfo[]> {
    const lists = await Promise.allSettled(
      this.deps.members().map(async (member) => {
        const infos = (await this.ask(member.node, request, this.deps.requestTimeoutMs)) as SessionInfo[];
        return infos.map((info) => ({ ...info, node: member.node }));
      }),
    );
    return lists.flatMap((result) => (result.status === "fulfilled" ? result.value : []));
  }

  /** The session's context files (see SessionSystem.getFiles), from its owner. */
  async getFiles(id: string): Promise<{ active: string[]; index: FileEntry[] }> {
    return (await this.onOwner(id, { op: "files", id }, this.deps.requestTimeoutMs)) as {
      active: string[];
      index: FileEntry[];
    };
  }

  /** Stops an idle session's processes on its node (see SessionSystem.hibernateSession). */
  async hibernateSession(id: string): Promise<void> {
    await this.onOwner(id, { op: "hibernate", id }, this.deps.requestTimeoutMs);
  }

  /** Starts a hibernated session's processes again on its node (see SessionSystem.wakeSession). */
  async wakeSession(id: string): Promise<ClusterSessionInfo> {
    const { node, value } = await this.onOwnerWithNode(id, { op: "wake", id }, this.deps.requestTimeoutMs);
    return { ...(value as SessionInfo), node };
  }

  /** Approves a tool call the session's turn waits on (see SessionSystem.approveToolCall). */
  async approveToolCall(id: string, callId: string): Promise<void> {
    await this.onOwner(id, { op: "approve", id, callId }, this.deps.requestTimeoutMs);
  }

  /** Denies a tool call the session's turn waits on (see SessionSystem.denyToolCall). */
  async denyToolCall(id: string, callId: string, reason?: string): Promise<void> {
    const request: NodeRequest = { op: "deny", id, callId, ...(reason === undefined ? {} : { reason }) };
    await this.onOwner(id, request, this.deps.requestTimeoutMs);
  }

  /**
   * Every event of every session of the cluster, as each node publishes them (in order per
   * session; sessions interleave as they arrive). Nothing is replayed: the events from the
   * moment the subscription reaches the server on.
   */
  subscribeAll(listener: SessionEventListener): ClusterSubscription {
    if (typeof listener !== "function") throw new TypeError("listener must be a function");
    const subscription = this.deps.nc.subscribe(eventsSubject(this.deps.prefix, "*"), {
      callback: (error, msg) => {
        if (error) return;
        const event = decodeEvent(msg.data);
        if (event) listener(event);
      },
    });
    return { unsubscribe: () => subscription.unsubscribe() };
  }

  /** The node that owns the session now, from its lease; undefined when nobody does. */
  async ownerOf(id: string): Promise<string | undefined> {
    checkId(id);
    return (await this.deps.leases.owner(id))?.node;
  }

  /**
   * The session's events, from whichever node runs it, in the order that node published them
   * (each carries its `seq`). Resolves once the subscription is in place at the server. With
   * `since`, first the session's kept durable events numbered above it (read on its owner,
   * which activates it if nobody runs it), then the live ones, none repeated between the two.
   */
  async subscribe(
    id: string,
    listener: SessionEventListener,
    options: { since?: number } = {},
  ): Promise<ClusterSubscription> {
    checkId(id);
    if (typeof listener !== "function") throw new TypeError("listener must be a function");
    const since = options?.since;
    if (since !== undefined && !(Number.isSafeInteger(since) && since >= 0))
      throw new InvalidArgumentError("since", "must be a whole number >= 0 (the seq of an event)");
    // Live events wait here while the replay is read, so none falls between the two.
    let held: SessionEvent[] | undefined = since === undefined ? undefined : [];
    let last = since ?? 0;
    const deliver = (event: SessionEvent) => {
      if (since !== undefined) {
        // A delta carries the seq of the last durable event before it.
        const fresh = event.type === "llm_delta" ? event.seq >= last : event.seq > last;
        if (!fresh) return;
        if (event.type !== "llm_delta") last = event.seq;
      }
      listener(event);
    };
    const subscription: Subscription = this.deps.nc.subscribe(eventsSubject(this.deps.prefix, id), {
      callback: (error, msg) => {
        if (error) return;
        const event = decodeEvent(msg.data);
        if (!event) return;
        if (held) held.push(event);
        else deliver(event);
      },
    });
    await this.deps.nc.flush();
    if (since !== undefined) {
      try {
        const replay = (await this.onOwner(
          id,
          { op: "events", id, since },
          this.deps.requestTimeoutMs,
        )) as SessionEvent[];
        for (const event of replay) deliver(event);
      } catch (error) {
        subscription.unsubscribe();
        throw error;
      }
      const waiting = held ?? [];
      held = undefined;
      for (const event of waiting) deliver(event);
    }
    return { unsubscribe: () => subscription.unsubscribe() };
  }

  /** Asks the session's owner; activates the session when it has none, and retries once. */
  private async onOwner(id: string, request: NodeRequest, timeoutMs: number): Promise<unknown> {
    return (await this.onOwnerWithNode(id, request, timeoutMs)).value;
  }

  private async onOwnerWithNode(
    id: string,
    request: NodeRequest,
    timeoutMs: number,
  ): Promise<{ node: string; value: unknown }> {
    checkId(id);
    let node = (await this.deps.leases.owner(id))?.node;
    let unreachable: string | undefined;
    // An owner membership holds for down (dead, or paused: NATS may still take its requests and
    // never answer) is not asked: its lease is waited out by the activation.
    if (node !== undefined && !this.deps.members().some((m) => m.node === node)) {
      unreachable = node;
      node = undefined;
    }
    let preferred: string | undefined;
    for (let attempt = 0; ; attempt++) {
      if (node === undefined) node = await this.activate(id, unreachable, preferred);
      try {
        return { node, value: await this.ask(node, request, timeoutMs) };
      } catch (error) {
        const notHere = error instanceof SessionNotHereError;
        // A read is asked again when its node went down under it; a turn or a change is not.
        const downUnderRead = error instanceof NodeDownError && READS.has(request.op);
        if (!(notHere || downUnderRead || isNoResponders(error)) || attempt >= 1) throw error;
        // A node named by the lease that says it is not the owner holds an earlier run's lease
        // (restarted under its name) or a claim still on its way: it activates the session
        // itself, once that lease is gone or that claim is in.
        unreachable = notHere ? undefined : node;
        preferred = notHere ? node : undefined;
        node = undefined;
      }
    }
  }

  /**
   * One live node claims the session (after a dead owner's key expires) and adopts it: the
   * first of the session's rendezvous order over the live members (so that callers on several
   * nodes pick the same one), the next if that one is gone too. A node membership holds for
   * down is never asked — a paused one would take the request and not answer. With no member
   * known, the `<prefix>.activate` queue group picks one.
   */
  private async activate(
    id: string,
    unreachable: string | undefined,
    preferred: string | undefined = undefined,
  ): Promise<string> {
    const { leases } = this.deps;
    const timeoutMs = 2 * leases.leaseTtlMs + leases.pollMs + this.deps.requestTimeoutMs;
    const request: NodeRequest = {
      op: "activate",
      id,
      ...(unreachable === undefined ? {} : { unreachable }),
    };
    const order = rendezvousOrder(
      id,
      this.deps.members().filter((m) => m.node !== unreachable),
    );
    const candidates = (
      preferred !== undefined && order.includes(preferred)
        ? [preferred, ...order.filter((n) => n !== preferred)]
        : order
    ).slice(0, 2);
    for (const [i, node] of candidates.entries()) {
      try {
        return (await this.ask(node, request, timeoutMs)) as string;
      } catch (error) {
        const gone = isNoResponders(error) || error instanceof NodeDownError;
        if (!gone || i === candidates.length - 1) throw error;
      }
    }
    try {
      return (await this.request(activateSubject(this.deps.prefix), request, timeoutMs)) as string;
    } catch (error) {
      if (isNoResponders(error))
        throw new NoNodeAvailableError(`no node answers ${activateSubject(this.deps.prefix)}`);
      throw error;
    }
  }

  /**
   * A request to one node. If membership reports that node down before it answers, the request
   * fails then with NodeDownError instead of waiting out its timeout (a turn is not retried: it
   * may have run, and its node's successor marks it interrupted).
   */
  private ask(node: string, request: NodeRequest, timeoutMs: number): Promise<unknown> {
    const reply = this.request(sessionsSubject(this.deps.prefix, node), request, timeoutMs);
    const { watchDown } = this.deps;
    if (!watchDown) return reply;
    return new Promise((resolve, reject) => {
      const unwatch = watchDown(node, (reason) => reject(new NodeDownError(node, "member_down", reason)));
      reply.then(resolve, reject).finally(unwatch);
    });
  }

  /**
   * A request and its outcome. No answer in time (this node's own connection is down, or the
   * cluster's NATS is) is a ClusterUnavailableError, not the NATS client's untyped timeout; "no
   * responders" is left as it is for the callers that look elsewhere on it.
   */
  private async request(subject: string, request: NodeRequest, timeoutMs: number): Promise<unknown> {
    let reply: Awaited<ReturnType<NatsConnection["request"]>>;
    try {
      reply = await this.deps.nc.request(subject, encodeRequest(request), { timeout: timeoutMs });
    } catch (error) {
      if (isNoResponders(error)) throw error;
      const name = (error as { name?: unknown } | undefined)?.name;
      if (name === "TimeoutError")
        throw new ClusterUnavailableError(
          "request_failed",
          `no answer to ${request.op} on ${subject} within ${timeoutMs} ms`,
          error,
        );
      if (this.deps.nc.isClosed())
        throw new ClusterUnavailableError(
          "closed",
          `this node's NATS connection is closed (${request.op})`,
          error,
        );
      throw error;
    }
    return decodeOutcome(reply.data);
  }
}

/** An event as a node published it; undefined for anything else on the subject. */
function decodeEvent(data: Uint8Array): SessionEvent | undefined {
  try {
    return unpackTerm(JSON.parse(decoder.decode(data))) as SessionEvent;
  } catch {
    return undefined;
  }
}

function checkId(id: unknown): asserts id is string {
  if (!isSessionId(id)) throw new InvalidSessionIdError(id);
}

/** NATS says nobody listens on the subject (the node is gone). */
export function isNoResponders(error: unknown): boolean {
  const e = error as { isNoResponders?: () => boolean; name?: string; cause?: unknown } | undefined;
  if (typeof e?.isNoResponders === "function" && e.isNoResponders()) return true;
  const named = (x: unknown) =>
    typeof (x as { name?: unknown })?.name === "string" && /NoResponders/i.test((x as { name: string }).name);
  return named(e) || named(e?.cause);
}
