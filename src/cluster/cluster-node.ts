import type { KV } from "@nats-io/kv";
import { z } from "zod";
import { type Logger, pidBaseAt, Runtime, silentLogger } from "../runtime/index.js";
import {
  DEFAULT_MAX_SESSIONS,
  type SessionEvent,
  SessionNotFoundError,
  SessionSystem,
  type SessionSystemOptions,
} from "../session/index.js";
import { PostgresSessionStore, type PostgresStoreOptions } from "../store/index.js";
import { clusterBuckets } from "./buckets.js";
import { ClusterSessions } from "./cluster-sessions.js";
import { SessionOwnedElsewhereError } from "./errors.js";
import { Failover } from "./failover.js";
import type { ClusterMember } from "./member-entry.js";
import { Membership } from "./membership.js";
import { type ClusterConnection, connectCluster, DEFAULT_NATS_SERVERS } from "./nats-connection.js";
import { NatsRouter } from "./nats-router.js";
import { SessionNotHereError } from "./node-errors.js";
import type { ClusterNodeEvent, ClusterNodeListener } from "./node-events.js";
import { eventsSubject, NodeService } from "./node-service.js";
import { BUCKET_PATTERN, parseOptions } from "./options.js";
import { followMembership } from "./route-membership.js";
import { packTerm } from "./route-wire.js";
import { DEFAULT_LEASE_TTL_MS, SessionLeases } from "./session-leases.js";

/** What a cluster node's session system may be given (the node supplies the store, runtime and ownership). */
export type ClusterSystemOptions = Omit<
  SessionSystemOptions,
  "store" | "storePath" | "runtime" | "ownership" | "supervisor" | "logger"
>;

export interface ClusterNodeOptions {
  /** This node's id: its runtime's node name, its membership key and its lease owner name (1-64 of `A-Za-z0-9_-`). */
  node: string;
  /** NATS server URL(s) (default nats://127.0.0.1:4222). */
  servers?: string | string[];
  /** The subject prefix of every node of the cluster (default `sessionvisor`). */
  prefix?: string;
  /** The shared Postgres store (its `fences` are the node's leases). */
  store: Omit<PostgresStoreOptions, "fences">;
  /** Ownership lease TTL, the same on every node (default 10 000 ms). */
  leaseTtlMs?: number;
  /** Membership heartbeat (default leaseTtlMs / 5, at most 1000 ms); a node is down after 3 missed. */
  heartbeatMs?: number;
  /**
   * KV bucket names. Default `<prefix>_nodes` and `<prefix>_session_owner` (dots of the prefix
   * as `_`): `sessionvisor_nodes` and `sessionvisor_session_owner` with the default prefix, so
   * that two clusters on one NATS with their own prefixes share nothing.
   */
  buckets?: { nodes?: string; leases?: string };
  /** How long a session request other than a turn waits for its node (default 10 000 ms). */
  requestTimeoutMs?: number;
  /**
   * Resident memory (MiB) above which this node reports itself full: new sessions and the
   * sessions of a dead node go to nodes that are not, while there are any (default: no limit).
   * A node that runs its session system's `maxSessions` is full too.
   */
  maxRssMb?: number;
  /** Options of the node's session system. */
  system?: ClusterSystemOptions;
  logger?: Logger;
}

const OptionsSchema = z
  .object({
    node: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "must be 1-64 letters, digits, '_' or '-'"),
    servers: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).default(DEFAULT_NATS_SERVERS),
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, "must be subject tokens joined by '.'")
      .default("sessionvisor"),
    store: z.record(z.string(), z.unknown()),
    leaseTtlMs: z.number().int().min(500).default(DEFAULT_LEASE_TTL_MS),
    heartbeatMs: z.number().int().min(50).optional(),
    buckets: z
      .object({
        nodes: z.string().regex(BUCKET_PATTERN).optional(),
        leases: z.string().regex(BUCKET_PATTERN).optional(),
      })
      .strict()
      .default({}),
    requestTimeoutMs: z.number().int().positive().default(10_000),
    maxRssMb: z.number().positive().optional(),
    system: z.record(z.string(), z.unknown()).default({}),
    logger: z.custom<Logger>((value) => typeof value === "object" && value !== null).optional(),
  })
  .strict();

/**
 * One node of a sessionvisor cluster: a session system on the shared Postgres store that runs
 * the sessions whose ownership leases it holds, reachable from every node. It joins the
 * membership (its load: the sessions it owns), installs the NatsRouter on its runtime (remote
 * pids work across nodes), serves the session API to the others, publishes its sessions' events
 * on `<prefix>.events.<id>`, and takes over the sessions of nodes that go down.
 *
 * Safety: a lease that cannot be renewed is reported lost before its key can expire, and the
 * session is stopped here at once (without a write); the store refuses any write whose fence is
 * stale, which covers a node that was paused past its lease.
 */
export class ClusterNode implements AsyncDisposable {
  /** The cluster-wide session API, usable from this node. */
  readonly sessions: ClusterSessions;
  private readonly listeners = new Set<ClusterNodeListener>();
  /** The fence of each ownership announced (session_activated) and not yet ended. */
  private readonly announced = new Map<string, number>();
  /** Leases of terminated sessions being given up (one release each, however it was asked for). */
  private readonly releasing = new Map<string, Promise<void>>();
  private readonly cleanups: (() => void)[] = [];
  private closing = false;
  private service: NodeService | undefined;

  private constructor(
    readonly node: string,
    readonly prefix: string,
    readonly connection: ClusterConnection,
    readonly leases: SessionLeases,
    readonly store: PostgresSessionStore,
    readonly runtime: Runtime,
    readonly system: SessionSystem,
    readonly router: NatsRouter,
    readonly membership: Membership,
    private readonly failover: Failover,
    requestTimeoutMs: number,
    turnTimeoutMs: number,
  ) {
    this.sessions = new ClusterSessions({
      nc: connection.nc,
      prefix,
      leases,
      members: () => this.liveMembers(),
      node,
      requestTimeoutMs,
      turnTimeoutMs,
      watchDown: (node, listener) =>
        membership.watch((event) => {
          if (event.type === "member_down" && event.member.node === node) listener(event.reason);
        }),
    });
  }

  static async start(options: ClusterNodeOptions): Promise<ClusterNode> {
    const parsed = parseOptions(OptionsSchema, options, "cluster node");
    const o = { ...parsed, buckets: clusterBuckets(parsed.prefix, parsed.buckets) };
    const logger = o.logger ?? silentLogger();
    const heartbeatMs = o.heartbeatMs ?? Math.min(1000, Math.floor(o.leaseTtlMs / 5));
    const undo: (() => Promise<unknown>)[] = [];
    // The session system exists only once the store (which needs the leases) is open; a lease
    // lost before that has nothing running to stop.
    let node: ClusterNode | undefined;
    let system: SessionSystem | undefined;
    const emit = (event: ClusterNodeEvent) => node?.emit(event);
    try {
      const connection = await connectCluster({ servers: o.servers, name: o.node });
      undo.push(() => connection.close());
      const leases = await SessionLeases.open(connection, {
        node: o.node,
        bucket: o.buckets.leases,
        leaseTtlMs: o.leaseTtlMs,
        onLost: (sessionId, fence, reason) => {
          // Synchronously: the manager gets the release before anything else of this session.
          system
            ?.releaseSession(sessionId)
            .catch((error: unknown) =>
              logger.warn(
                { event: "cluster_release_failed", sessionId, err: error },
                "could not stop a lost session",
              ),
            );
          emit({ type: "session_released", sessionId, node: o.node, fence, reason, at: Date.now() });
        },
      });
      undo.push(() => leases.close({ release: false }));
      const leasesKv: KV = await connection.kvm.open(o.buckets.leases);
      const store = await PostgresSessionStore.open({ ...(o.store as PostgresStoreOptions), fences: leases });
      undo.push(() => store.close());
      // Its pids are numbered from its start time, above any an earlier run under this id gave
      // out: a pid kept from that run finds no process here instead of a new one (OTP's creation).
      const runtime = new Runtime({ node: o.node, logger, firstPid: pidBaseAt(Date.now()) });
      undo.push(() => runtime.shutdown());
      const systemOptions = o.system as ClusterSystemOptions;
      system = await SessionSystem.start({
        ...systemOptions,
        logger,
        runtime,
        store,
        ownership: {
          claim: async (sessionId) => {
            const fence = await leases.claim(sessionId);
            emit({
              type: "session_activated",
              sessionId,
              node: o.node,
              fence,
              how: "created",
              at: Date.now(),
            });
          },
          owned: () => leases.held(),
        },
      });
      const started = system;
      undo.push(() => started.stop());
      const router = await NatsRouter.start(runtime, connection.nc, { prefix: o.prefix });
      undo.push(() => router.close());
      const membership = await Membership.join(connection, {
        node: o.node,
        bucket: o.buckets.nodes,
        subjectPrefix: router.subjectPrefix,
        heartbeatMs,
        sessions: () => leases.held().length,
        full: () =>
          leases.held().length >= (systemOptions.maxSessions ?? DEFAULT_MAX_SESSIONS) ||
          (o.maxRssMb !== undefined && process.memoryUsage.rss() / 2 ** 20 > o.maxRssMb),
      });
      undo.push(() => membership.close());
      const failover = new Failover({
        node: o.node,
        leases,
        leasesKv,
        store,
        members: () => node?.liveMembers() ?? membership.members(),
        adopt: (sessionId, how, claimedAt) => (node as ClusterNode).adopt(sessionId, how, claimedAt),
        logger,
      });
      node = new ClusterNode(
        o.node,
        o.prefix,
        connection,
        leases,
        store,
        runtime,
        started,
        router,
        membership,
        failover,
        o.requestTimeoutMs,
        systemOptions.turnTimeoutMs ?? 60_000,
      );
      await node.serve();
      return node;
    } catch (error) {
      for (const step of undo.reverse()) await step().catch(() => undefined);
      throw error;
    }
  }

  private async serve(): Promise<void> {
    const { nc } = this.connection;
    this.cleanups.push(followMembership(this.router, this.membership));
    this.cleanups.push(
      this.membership.watch((event) => {
        if (event.type === "member_down") this.failover.memberDown(event.member.node, event.reason);
      }),
    );
    // Every event of a session run here goes to its subject, in the order it was published.
    const events = this.system.subscribeAll((event: SessionEvent) => {
      // Terminated here, however (through the cluster, this node's own system, a tool): its
      // lease is given up, so that a restore can claim it anywhere.
      if (event.type === "session_terminated") {
        this.releaseTerminated(event.sessionId).catch((error: unknown) =>
          this.runtime.logger.warn(
            { event: "cluster_release_failed", sessionId: event.sessionId, err: error },
            "could not give up a terminated session's lease",
          ),
        );
      }
      try {
        nc.publish(eventsSubject(this.prefix, event.sessionId), JSON.stringify(packTerm(event, "event")));
      } catch (error) {
        this.runtime.logger.warn(
          { event: "cluster_event_not_published", err: error },
          "could not publish an event",
        );
      }
    });
    this.cleanups.push(() => events.unsubscribe());
    this.service = await NodeService.start({
      nc,
      prefix: this.prefix,
      node: this.node,
      system: this.system,
      leases: this.leases,
      activate: (sessionId, unreachable) => this.activate(sessionId, unreachable),
      terminated: (sessionId) => this.releaseTerminated(sessionId),
      logger: this.runtime.logger,
    });
  }

  /** Gives up a terminated session's lease, once; resolves when it is released. */
  private releaseTerminated(sessionId: string): Promise<void> {
    const pending = this.releasing.get(sessionId);
    if (pending) return pending;
    const fence = this.leases.fenceOf(sessionId);
    if (fence === undefined) return Promise.resolve();
    const released = (async () => {
      try {
        await this.leases.release(sessionId);
        this.emit({
          type: "session_released",
          sessionId,
          node: this.node,
          fence,
          reason: "terminated",
          at: Date.now(),
        });
      } finally {
        this.releasing.delete(sessionId);
      }
    })();
    this.releasing.set(sessionId, released);
    return released;
  }

  /** Live members as this node sees them, itself included. */
  liveMembers(): ClusterMember[] {
    return this.membership.members();
  }

  /** Ownership starts and ends on this node (for checkers and observers). Returns the unwatch. */
  watch(listener: ClusterNodeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: ClusterNodeEvent): void {
    // One ownership is announced once, though an activation on first use and a failover
    // takeover may claim it at the same time (the leases give both the same claim).
    if (event.type === "session_activated") {
      if (this.announced.get(event.sessionId) === event.fence) return;
      this.announced.set(event.sessionId, event.fence);
    } else this.announced.delete(event.sessionId);
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (error) {
        this.runtime.logger.warn(
          { event: "cluster_listener_failed", err: error },
          "a cluster node listener threw",
        );
      }
    }
  }

  /**
   * An ownerless session on first use (from the activation queue group): claimed here, waiting
   * out a dead owner's key, then adopted. Owned by a live node already: that node's name — but
   * not `unreachable`, the owner the caller could not reach, whose key is waited out.
   */
  private async activate(sessionId: string, unreachable: string | undefined): Promise<string> {
    if (this.leases.fenceOf(sessionId) !== undefined) {
      await this.system.adoptSession(sessionId);
      return this.node;
    }
    const stored = await this.store.getSession(sessionId);
    if (!stored || stored.record.status === "terminated") throw new SessionNotFoundError(sessionId);
    // A dead owner's key lasts at most a TTL after its last renewal.
    const deadline = Date.now() + 2 * this.leases.leaseTtlMs;
    /** The fence of the unreachable owner's lease as first read here. */
    let unreachableFence: number | undefined;
    for (;;) {
      // Claimed here meanwhile (a failover takeover of this node): adopted here, or being.
      if (this.leases.fenceOf(sessionId) !== undefined) {
        await this.system.adoptSession(sessionId);
        return this.node;
      }
      const owner = await this.leases.owner(sessionId);
      if (owner !== undefined && owner.node === unreachable) unreachableFence ??= owner.fence;
      // The owner the caller could not reach, holding a newer lease than first read here, came
      // back (restarted under its name) and claimed the session again: it can be asked now.
      const cameBack = owner !== undefined && owner.node === unreachable && owner.fence !== unreachableFence;
      const isMember = owner !== undefined && this.liveMembers().some((m) => m.node === owner.node);
      // Our own name on a lease we do not hold is a claim of ours still on its way (the check
      // above finds it next time), or an earlier run of this node's: waited out too.
      const live =
        owner !== undefined &&
        owner.node !== this.node &&
        (owner.node !== unreachable || cameBack) &&
        isMember;
      if (owner && live) return owner.node;
      if (!owner) {
        try {
          await this.leases.claim(sessionId);
        } catch (error) {
          // Someone else claimed it between the read and the claim: go on with them.
          if (error instanceof SessionOwnedElsewhereError) continue;
          throw error;
        }
        await this.adopt(sessionId, "activated", Date.now());
        return this.node;
      }
      if (Date.now() > deadline) {
        // Still held by the node the caller could not reach, and it is a live member: it came
        // back before this node first looked. Asking it again beats failing the request.
        if (owner.node !== this.node && isMember) return owner.node;
        throw new SessionOwnedElsewhereError(sessionId, owner.node, owner.fence);
      }
      await new Promise((resolve) => setTimeout(resolve, this.leases.pollMs));
    }
  }

  /** Starts a session this node has just claimed (at `claimedAt`); a failure gives the claim back. */
  private async adopt(sessionId: string, how: "activated" | "failover", claimedAt: number): Promise<void> {
    const fence = this.leases.fenceOf(sessionId);
    try {
      await this.system.adoptSession(sessionId);
    } catch (error) {
      await this.leases.release(sessionId).catch(() => undefined);
      throw error;
    }
    if (fence === undefined || this.leases.fenceOf(sessionId) !== fence) {
      // Lost while it started (its onLost found nothing to stop yet): stop it now.
      await this.system.releaseSession(sessionId);
      throw new SessionNotHereError(sessionId, this.node);
    }
    this.emit({ type: "session_activated", sessionId, node: this.node, fence, how, at: claimedAt });
  }

  /**
   * Leaves the cluster cleanly: stops serving, stops the sessions (their leases released, so
   * other nodes activate them at once on first use or by their orphan scan), leaves the
   * membership (seen at once as member_down `left`), and closes everything.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.service?.close();
    this.failover.close();
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    await this.system.stop().catch(() => undefined);
    for (const sessionId of this.leases.held()) {
      const fence = this.leases.fenceOf(sessionId);
      await this.leases.release(sessionId).catch(() => undefined);
      this.emit({
        type: "session_released",
        sessionId,
        node: this.node,
        fence,
        reason: "closed",
        at: Date.now(),
      });
    }
    await this.leases.close().catch(() => undefined);
    await this.membership.leave().catch(() => undefined);
    await this.finish();
  }

  /**
   * Stops at once as a crash looks to the others: the NATS connection is cut first (no leave,
   * no release: the keys expire by themselves), so nothing more of this node is written —
   * every lease is lost, and the store refuses writes without a fence. For tests of failover.
   */
  async abandon(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.failover.close();
    await this.connection.nc.close().catch(() => undefined);
    await this.leases.close({ release: false }).catch(() => undefined);
    await this.membership.close().catch(() => undefined);
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    this.service?.close();
    await this.system.stop().catch(() => undefined);
    await this.finish();
  }

  private async finish(): Promise<void> {
    await this.router.close().catch(() => undefined);
    await this.runtime.shutdown().catch(() => undefined);
    await this.store.close().catch(() => undefined);
    await this.connection.close().catch(() => undefined);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
